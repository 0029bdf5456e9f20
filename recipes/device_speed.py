"""The model's synthesis speed on a lent GPU, measured as `tts eval --only speed` measures it here.

The device machine (`recipes/device.sh`) has torch but neither the text front end (pyopenjtalk,
espeak-ng), nor Resemblyzer's weights, nor the Perth watermark, and it reaches no network. So
the work those do is done here, once, and travels; everything else that runs per call on the
model's device runs there:

    here:        python recipes/device_speed.py prepare --out .device/speed [--manifest M]
    the device:  python recipes/device_speed.py measure --prepared .device/speed --out speed.json

`prepare` takes the sentences and the reference clip `tts eval --only speed` takes (its Japanese
speed sentences; the first neutral Japanese clip of the manifest, or the model's stored voice
without one), and stores each sentence's chunks from the real front end, the processed reference
clip and its speaker embedding. It also times here, on this CPU, what will not run there: the
front end per sentence and the watermark per second of audio.

`measure` loads the bundle on the device with a speaker encoder that serves the stored
embedding and a front end that replays the stored chunks, then runs `evaluate_speed` (the
function `tts eval` uses: one untimed warm-up, then each sentence once in one shot for the RTF
and once streamed for the first chunk) without the watermark, with torch.compile off and on.
Both stand-ins refuse anything they were not prepared for, so a timing can only come from the
prepared sentences and clip. In `tts eval` the reference is processed and embedded in the
warm-up call and cached from then on, so leaving those out is the same protocol. The figures
leave out the front end and the watermark; the report adds this CPU's cost of both as a
separate estimate. The same goes for the voice's choice between takes the reader scores alike
(`SamplingConfig.voice_margin`, Resemblyzer on the takes): the device runs with the margin
at 0, and `prepare` times here the embedding of every take of a chunk per second of audio
(an upper bound: only the takes within the margin are embedded).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from tts.errors import ConfigError
from tts.speakers.reference import ReferenceClip
from tts.speakers.speaker_encoder import SpeakerEncoder
from tts.text import SymbolInventory, TextChunk

FORMAT = 1
LANGUAGE = "ja"  # tts eval measures speed in Japanese


class StoredEmbeddings(SpeakerEncoder):
    """A speaker encoder that serves embeddings computed elsewhere, by the clip's content hash.

    It computes nothing: a clip it was not given an embedding for is an error."""

    def __init__(self, identity: str, dim: int, embeddings: dict[str, torch.Tensor]) -> None:
        self.identity = identity
        self.dim = dim
        self.embeddings = embeddings

    def _embed_16k(self, wavs: list[np.ndarray]) -> torch.Tensor:
        raise ConfigError(
            "this speaker encoder only serves the embeddings prepared for it: pass the prepared "
            "reference clip"
        )

    def embed_reference(self, clip: ReferenceClip, cache: Any = None) -> torch.Tensor:
        if clip.content_hash not in self.embeddings:
            raise ConfigError(f"no prepared embedding for the reference clip {clip.source!r}")
        return self.embeddings[clip.content_hash].clone()


class ReplayFrontend:
    """A text front end that replays the chunks prepared for known (text, language) pairs."""

    def __init__(self, inventory: SymbolInventory, chunks: dict[tuple[str, str], list[TextChunk]]):
        self.inventory = inventory
        self.chunks = chunks

    def process(self, text: str, language: str) -> list[TextChunk]:
        if (text, language) not in self.chunks:
            raise ConfigError(f"no prepared chunks for {language} text {text!r}")
        return list(self.chunks[(text, language)])


# ----------------------------------------------------------------------------- here


def prepare(
    model: str | None,
    manifest: str | None,
    out: Path,
    sentences: int = 8,
    threads: int | None = None,
) -> dict[str, Any]:
    """Write `out`/speed.json and speed.safetensors for `measure` (see the module docstring).
    `threads`: torch CPU threads for the work timed here (None: the model's setting)."""
    from tts.data.manifest import read_manifest
    from tts.eval.inputs import load_entry
    from tts.eval.speed import speed_inputs
    from tts.speakers.reference import load_reference
    from tts.synthesizer import Synthesizer
    from tts.threads import compute_threads
    from tts.watermark import maybe_watermark

    if sentences < 1:
        raise ConfigError(f"sentences must be >= 1, got {sentences}")
    synth = Synthesizer.from_pretrained(model, device="cpu", threads=threads)
    texts, entry = speed_inputs(read_manifest(manifest) if manifest else [], sentences)
    # the front end's cost here: one untimed call loads the dictionary, as in a warm server
    synth.frontend.process(texts[0], LANGUAGE)
    chunks, frontend_s = {}, []
    for text in texts:
        start = time.perf_counter()
        chunks[text] = synth.frontend.process(text, LANGUAGE)
        frontend_s.append(time.perf_counter() - start)
    tensors: dict[str, torch.Tensor] = {}
    reference = None
    if manifest is not None:  # tts eval's pick: the first neutral Japanese clip
        if entry is None:
            raise ConfigError(f"{manifest} has no neutral {LANGUAGE} clip to take as the reference")
        clip = load_reference(load_entry(entry))
        embedding = synth.speaker_encoder.embed_reference(clip, cache=None)
        tensors = {
            "wav": torch.from_numpy(clip.wav),
            "wav_24k": torch.from_numpy(clip.wav_24k),
            "embedding": embedding.detach().cpu().float(),
        }
        reference = {
            "audio": str(entry.audio),
            "sample_rate": clip.sample_rate,
            "speech_seconds": clip.speech_seconds,
            "content_hash": clip.content_hash,
        }
    # the watermark's cost here, per second of audio (a synthesized sentence, marked 3 times)
    audio = synth.synthesize(texts[0], language=LANGUAGE, seed=0, watermark=False)
    with compute_threads(synth.threads):  # as synthesis marks it
        maybe_watermark(audio.wav, audio.sample_rate)  # loads Perth
        start = time.perf_counter()
        for _ in range(3):
            maybe_watermark(audio.wav, audio.sample_rate)
        watermark_rtf = (time.perf_counter() - start) / 3 / audio.duration
        # the voice's choice: every take of a chunk embedded (an upper bound), per second
        voice_rtf = 0.0
        if synth.config.sampling.voice_margin > 0 and synth.reader is not None:
            takes = [audio.wav] * synth.config.sampling.candidates
            synth.speaker_encoder.embed_batch(takes, audio.sample_rate)  # untimed, warm
            start = time.perf_counter()
            for _ in range(3):
                synth.speaker_encoder.embed_batch(takes, audio.sample_rate)
            voice_rtf = (time.perf_counter() - start) / 3 / audio.duration
    prepared = {
        "format": FORMAT,
        "model": str(model) if model else None,
        "language": LANGUAGE,
        "sentences": [
            {"text": text, "chunks": [asdict(c) for c in chunks[text]]} for text in texts
        ],
        "speaker_encoder": {
            "identity": synth.speaker_encoder.identity,
            "dim": synth.speaker_encoder.dim,
        },
        "reference": reference,
        "here": {  # what the device's figures leave out, timed on this machine's CPU
            "frontend_s": frontend_s,
            "watermark_rtf": watermark_rtf,
            "voice_rtf": voice_rtf,
            "voice_margin": synth.config.sampling.voice_margin,
            "torch_threads": synth.threads or torch.get_num_threads(),
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(prepared, indent=1, ensure_ascii=False))
    save_file(tensors or {"none": torch.zeros(1)}, str(out / "speed.safetensors"))
    return prepared


# ----------------------------------------------------------------------------- the device


def load_prepared(
    folder: Path,
) -> tuple[dict[str, Any], list[str], dict[tuple[str, str], list[TextChunk]], Any, Any]:
    """(the prepared json, its sentences, their chunks, the reference clip or None, a
    StoredEmbeddings holding its embedding, or none for the stored voice)."""
    path = folder / "speed.json"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: run `device_speed.py prepare` and carry its folder")
    prepared = json.loads(path.read_text())
    if prepared.get("format") != FORMAT:
        raise ConfigError(
            f"{path} has format {prepared.get('format')!r}; this script reads {FORMAT}"
        )
    texts = [s["text"] for s in prepared["sentences"]]
    chunks = {
        (s["text"], prepared["language"]): [TextChunk(**c) for c in s["chunks"]]
        for s in prepared["sentences"]
    }
    ref, clip, embeddings = prepared["reference"], None, {}
    if ref is not None:
        tensors = load_file(str(folder / "speed.safetensors"))
        clip = ReferenceClip(
            wav=tensors["wav"].numpy(), sample_rate=ref["sample_rate"],
            wav_24k=tensors["wav_24k"].numpy(), speech_seconds=ref["speech_seconds"],
            content_hash=ref["content_hash"], source=ref["audio"],
        )  # fmt: skip
        embeddings[ref["content_hash"]] = tensors["embedding"]
    spec = prepared["speaker_encoder"]
    encoder = StoredEmbeddings(spec["identity"], spec["dim"], embeddings)
    return prepared, texts, chunks, clip, encoder


def measure(
    model: str | None,
    folder: Path,
    out: Path,
    device: str | None = None,
    compiles: tuple[bool, ...] = (False, True),
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, Any]:
    """Time synthesis of the prepared sentences on `device` (default: cuda when there is one),
    once per entry of `compiles`; `out` is rewritten after each, so a run stopped part way
    keeps what it measured."""
    from tts.eval.speed import evaluate_speed
    from tts.synthesizer import Synthesizer

    prepared, texts, chunks, clip, encoder = load_prepared(folder)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    synth = Synthesizer.from_pretrained(
        model, device=device, speaker_encoder=encoder, threads=threads
    )
    synth.frontend = ReplayFrontend(synth.frontend.inventory, chunks)
    # the voice's choice needs Resemblyzer on the takes, which the device lacks: timed here
    margin = synth.config.sampling.voice_margin
    synth.config.sampling = replace(synth.config.sampling, voice_margin=0.0)
    # the watermark is left out on purpose (the device has no Perth): say so once, not per call
    logging.getLogger("tts.watermark").setLevel(logging.ERROR)
    gpu = torch.cuda.get_device_name(0) if synth.device.type == "cuda" else None
    results = {"device": str(synth.device), "gpu": gpu, "torch": torch.__version__,
               "reference": prepared["reference"], "here": prepared["here"],
               "voice_margin_left_out": margin, "runs": []}  # fmt: skip
    call = {"reference": clip, "language": prepared["language"], "seed": seed, "watermark": False}
    for compiled in compiles:
        synth.compile = compiled
        start = time.perf_counter()
        if compiled:  # compile every shape the timed calls meet (batch rows, cache buckets)
            for text in texts:
                synth.synthesize(text, **call)
                for _ in synth.stream(text, **call):
                    pass
        result = evaluate_speed(
            synth, texts, prepared["language"], clip, seed, kokoro_voice=None, watermark=False
        )
        result["compile"] = compiled
        result["wall_s"] = time.perf_counter() - start  # warm-up (and compiling) included
        results["runs"].append(result)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1))
    return results


def report(results: dict[str, Any]) -> str:
    """A markdown table of a `measure` result, with the CPU-side costs added as an estimate."""
    here = results["here"]
    frontend = float(np.mean(here["frontend_s"]))
    name = results["gpu"] or results["device"]
    voice_rtf = float(here.get("voice_rtf", 0.0))
    voice = "a stored voice" if results["reference"] is None else "a reference clip"
    lines = [
        f"Synthesis speed on {name} (torch {results['torch']}), Japanese, {voice}; LM, takes, "
        "reader and decoder on the device; front end, watermark and the voice's choice between "
        "takes are this CPU's work, added in the last two columns (front end "
        f"{1000 * frontend:.0f} ms a sentence, watermark {here['watermark_rtf']:.3f} s and the "
        f"voice {voice_rtf:.3f} s per second of audio; a prepared folder from before the voice's "
        "choice has no voice figure, counted as 0).",
        "",
        "| torch.compile | sentences | RTF | of which the LM | first chunk (ms) | RTF with front "
        "end, watermark and voice | first chunk with front end (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        m = run["model"]
        n, audio = m["n"], m["audio_seconds"]
        rtf_all = m["rtf"] + (frontend * n) / audio + here["watermark_rtf"] + voice_rtf
        lm = m.get("stage_rtf", {}).get("lm")  # token generation (`tts.timing`)
        lines.append(
            f"| {'on' if run['compile'] else 'off'} | {n} | {m['rtf']:.4f} | "
            f"{'-' if lm is None else f'{lm:.4f}'} | "
            f"{1000 * m['first_chunk_s']:.1f} | {rtf_all:.4f} | "
            f"{1000 * (m['first_chunk_s'] + frontend):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="here: the front end's chunks, the reference, CPU costs")
    p.add_argument("--model", default=None, help="bundle (default: the shipped model)")
    p.add_argument("--manifest", default=None, help="tts eval's manifest (its reference clip)")
    p.add_argument("--sentences", type=int, default=8, help="as tts eval's --max-sentences")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", required=True, type=Path)
    m = sub.add_parser("measure", help="on the device: time synthesis of what was prepared")
    m.add_argument("--model", default=None, help="bundle (default: the shipped model)")
    m.add_argument("--prepared", required=True, type=Path)
    m.add_argument("--device", default=None, help="default: cuda when there is one")
    m.add_argument("--compile", choices=("off", "on", "both"), default="both")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--threads", type=int, default=None, help="torch CPU threads (CPU runs)")
    m.add_argument("--out", required=True, type=Path, help="results .json")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        prepared = prepare(args.model, args.manifest, args.out, args.sentences, args.threads)
        n = sum(len(s["chunks"]) for s in prepared["sentences"])
        print(f"prepared {len(prepared['sentences'])} sentences ({n} chunks) in {args.out}")
        return 0
    compiles = {"off": (False,), "on": (True,), "both": (False, True)}[args.compile]
    results = measure(
        args.model, args.prepared, args.out, args.device, compiles, args.seed, args.threads
    )
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
