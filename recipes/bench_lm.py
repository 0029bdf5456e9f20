"""Generation speed of the codec LM presets, with torch.compile off and on.

Random weights (speed does not depend on what was learned); every run generates exactly
`--frames` frames (EOS disabled via min_frames = max_frames) after a warm-up run, which also
absorbs compilation. Reports frames/s (one LM step per frame and item) and tokens/s (frames/s x
codebooks), writes JSON and a bar chart.

    python recipes/bench_lm.py                              # tiny, small on CPU (+ CUDA)
    python recipes/bench_lm.py --presets tiny small base large --device cuda --batch 8

`--model` times a saved LM instead ("default": the shipped model's), and `--matmul-dtype`
what its linear layers multiply in (`tts.model.set_matmul_dtype`). Synthesis with the
default model decodes like `--model default --matmul-dtype int8 --batch 3 --cfg-scale 2
--compile off` (3 takes, each with its guidance pass: 6 rows a step):

    python recipes/bench_lm.py --model default --matmul-dtype int8 --batch 3 --cfg-scale 2 \
        --compile off --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from tts.conditioning import SPEAKER_DIM, Conditioning
from tts.config import LM_MATMUL_DTYPES
from tts.generate import MaxLengthWarning, SamplingConfig, generate
from tts.model import PRESETS, CodecLM, LMConfig, set_matmul_dtype
from tts.pretrained import resolve_model_dir


def bench_one(
    preset: str,
    device: str,
    compile: bool,
    frames: int,
    batch: int,
    text_len: int,
    repeats: int,
    model_dir: Path | None = None,
    matmul_dtype: str | None = None,
    cfg_scale: float = 1.0,
) -> dict:
    """Time `frames` frames of `batch` items with the preset's random LM, or with the LM saved
    in `model_dir` (then `preset` is only its label)."""
    torch.manual_seed(0)
    if model_dir is not None:
        model = CodecLM.load(model_dir, device=device)
    else:
        model = CodecLM(LMConfig.preset(preset)).eval().to(device)
    if device == "cuda":
        model = model.to(torch.bfloat16)
    set_matmul_dtype(model, matmul_dtype)
    texts = [torch.randint(1, model.config.vocab_size, (text_len,)) for _ in range(batch)]
    speaker = torch.nn.functional.normalize(torch.randn(batch, SPEAKER_DIM), dim=1)
    cond = Conditioning(
        speaker=speaker,
        emotion=torch.zeros(batch, dtype=torch.long),
        intensity=torch.ones(batch),
        language=torch.ones(batch, dtype=torch.long),
    )
    sampling = SamplingConfig(temperature=1.0, top_k=50, cfg_scale=cfg_scale)

    def run() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MaxLengthWarning)  # the cap is the point here
            out = generate(
                model,
                texts,
                cond,
                sampling,
                seed=0,
                max_frames=frames,
                min_frames=frames,
                compile=compile,
            )
        if device == "cuda":
            torch.cuda.synchronize()
        assert all(r.n_frames == frames for r in out)
        return time.perf_counter() - start

    warmup = run()
    seconds = min(run() for _ in range(repeats))
    fps = frames * batch / seconds
    return {
        "preset": preset,
        "params_m": round(model.num_params() / 1e6, 1),
        "device": device,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "matmul_dtype": matmul_dtype or "float32",
        "compile": compile,
        "batch": batch,
        "cfg_scale": cfg_scale,
        "frames": frames,
        "seconds": round(seconds, 3),
        "warmup_seconds": round(warmup, 2),
        "frames_per_s": round(fps, 1),
        "ms_per_frame": round(seconds / frames * 1000, 2),  # all items' step, sampling included
        "tokens_per_s": round(fps * model.config.n_codebooks, 1),
    }


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted(
        {(r["device"], r["preset"]) for r in results},
        key=lambda x: (x[0], list(PRESETS).index(x[1]) if x[1] in PRESETS else len(PRESETS)),
    )
    fig, ax = plt.subplots(figsize=(1.6 * len(labels) + 2, 4))
    width = 0.38
    for j, compiled in enumerate((False, True)):
        values = [
            next(
                (
                    r["frames_per_s"]
                    for r in results
                    if (r["device"], r["preset"]) == lab and r["compile"] == compiled
                ),
                0,
            )
            for lab in labels
        ]
        xs = [i + (j - 0.5) * width for i in range(len(labels))]
        ax.bar(xs, values, width, label="torch.compile" if compiled else "eager")
    ax.set_xticks(range(len(labels)), [f"{p}\n{d}" for d, p in labels])
    ax.set_yscale("log")
    ax.set_ylabel("frames / s (all items)")
    ax.set_title(f"codec LM generation speed (batch {results[0]['batch']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=None, choices=list(PRESETS))
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--compile", choices=["off", "on", "both"], default="both")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--text-len", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (torch default)")
    parser.add_argument(
        "--model",
        default=None,
        help='a saved LM or bundle directory, or "default" (presets ignored)',
    )
    parser.add_argument("--matmul-dtype", choices=LM_MATMUL_DTYPES, default=None)
    parser.add_argument("--cfg-scale", type=float, default=1.0, help="2: synthesis's guidance")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_lm"))
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "auto" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    model_dir = None
    if args.model is not None:
        model_dir = resolve_model_dir(None if args.model == "default" else args.model)
    jobs = []
    for device in devices:
        if model_dir is not None:  # the saved LM, labelled by its name
            presets = [args.model]
        else:
            presets = args.presets or (["tiny", "small"] if device == "cpu" else list(PRESETS))
        jobs += [(p, device, c) for p in presets for c in compiles]

    results = []
    for preset, device, compiled in tqdm(jobs, desc="bench"):
        r = bench_one(
            preset, device, compiled, args.frames, args.batch, args.text_len, args.repeats,
            model_dir, args.matmul_dtype, args.cfg_scale,
        )  # fmt: skip
        r["threads"] = torch.get_num_threads()
        results.append(r)
        tqdm.write(
            f"{preset:>5} {r['params_m']:>7.1f}M {device:>4} compile={compiled!s:<5} "
            f"{r['frames_per_s']:>9.1f} frames/s {r['tokens_per_s']:>9.1f} tokens/s "
            f"{r['ms_per_frame']:>7.2f} ms/frame "
            f"(warm-up {r['warmup_seconds']} s)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_lm.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "bench_lm.png")
    print(f"wrote {args.out / 'bench_lm.json'} and {args.out / 'bench_lm.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
