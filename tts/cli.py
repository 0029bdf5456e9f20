"""The `tts` command line.

Subcommands import their heavy dependencies lazily so that `tts --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from tts.config import LM_MATMUL_DTYPES
from tts.errors import TextError, TTSError
from tts.labels import EMOTIONS, LANGUAGES, MAX_INTENSITY

if TYPE_CHECKING:  # the pipeline is imported lazily so that `tts --help` stays instant
    from tts.synthesizer import Synthesizer


def _cmd_text(args: argparse.Namespace) -> int:
    from tts.text import TextFrontend

    text = args.text if args.text is not None else sys.stdin.read()
    frontend = TextFrontend()
    for chunk in frontend.process(text, args.language):
        print(f"text:    {chunk.text}")
        print(f"symbols: {' '.join(chunk.symbols)}")
        if args.ids:
            print(f"ids:     {' '.join(map(str, chunk.ids))}")
    return 0


def _read_text(args: argparse.Namespace) -> str:
    if args.text is not None:
        return args.text
    if args.text_file:
        from pathlib import Path

        return Path(args.text_file).read_text(encoding="utf-8")
    if sys.stdin.isatty():
        raise TextError("no text given: use --text, --text-file, or pipe text on stdin")
    return sys.stdin.read()


def _cmd_synthesize(args: argparse.Namespace) -> int:
    import dataclasses
    import time

    from tts.synthesizer import Synthesizer

    text = _read_text(args)
    start = time.perf_counter()
    synth = Synthesizer.from_pretrained(
        args.model, device=args.device, threads=args.threads, lm_matmul_dtype=args.lm_dtype
    )
    if args.phoneme_weight is not None:
        synth.set_phoneme_weight(args.phoneme_weight)
    if not args.no_watermark:  # its network is a model too: load time, not the RTF printed below
        from tts.watermark import default_watermarker

        default_watermarker().load()
    loaded = time.perf_counter()
    # Sampling settings given on the command line; the rest stay the model's defaults.
    given = dict(
        temperature=args.temperature,
        unit_temperature=args.unit_temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        cfg_scale=args.cfg_scale,
        emotion_guidance=args.emotion_guidance,
        speaker_guidance=args.speaker_guidance,
        candidates=args.candidates,
        voice_margin=args.voice_margin,
    )
    given = {k: v for k, v in given.items() if v is not None}
    sampling = dataclasses.replace(synth.config.sampling, **given) if given else None
    options = dict(
        reference=args.reference,
        language=args.language,
        emotion=args.emotion,
        intensity=args.intensity,
        style_reference=args.style_reference,
        speed=args.speed,
        seed=args.seed,
        sampling=sampling,
        watermark=not args.no_watermark,
        pitch_range=args.pitch_range,
        label_prosody=not args.no_label_prosody,
        speaker_contrast=args.speaker_contrast,
    )
    if args.stream:
        return _stream_out(synth, text, options, args.out, loaded)
    audio = synth.synthesize(text, **options)
    audio.save(args.out)
    took = time.perf_counter() - loaded
    stages = ", ".join(f"{k} {v:.2f}" for k, v in audio.timings.items())
    print(
        f"wrote {args.out}: {audio.duration:.2f} s of audio in {took:.2f} s "
        f"(RTF {took / max(audio.duration, 1e-9):.3f}; model load {loaded - start:.2f} s)"
        f"\nseconds by stage: {stages}",
        file=sys.stderr,
    )
    return 0


def _stream_out(synth: Synthesizer, text: str, options: dict, out: str, t0: float) -> int:
    """Write pieces as they come: raw 16-bit PCM to stdout for `--out -`, else a WAV file."""
    import time

    import numpy as np
    import soundfile as sf

    first = None
    samples = 0
    sink = (
        None
        if out == "-"
        else sf.SoundFile(out, "w", samplerate=synth.sample_rate, channels=1, subtype="PCM_16")
    )
    try:
        for piece in synth.stream(text, **options):
            first = first if first is not None else time.perf_counter() - t0
            samples += piece.size
            if sink is None:
                pcm = (np.clip(piece, -1, 1) * 32767).astype("<i2")
                sys.stdout.buffer.write(pcm.tobytes())
                sys.stdout.buffer.flush()
            else:
                sink.write(piece)
    finally:
        if sink is not None:
            sink.close()
    took = time.perf_counter() - t0
    seconds = samples / synth.sample_rate
    print(
        f"streamed {seconds:.2f} s of audio ({synth.sample_rate} Hz) to {out}; first chunk after "
        f"{(first or 0) * 1000:.0f} ms, RTF {took / max(seconds, 1e-9):.3f}",
        file=sys.stderr,
    )
    return 0


def _cmd_detect_watermark(args: argparse.Namespace) -> int:
    from tts.audio import load_audio
    from tts.watermark import DETECTION_THRESHOLD, default_watermarker

    found_all = True
    for path in args.files:
        wav, sr = load_audio(path)
        score = default_watermarker().detect(wav, sr)
        found = score >= DETECTION_THRESHOLD
        found_all &= found
        verdict = "watermarked" if found else "no watermark"
        print(f"{path}: {verdict} (confidence {score:.3f})")
    # grep-like exit status: 0 when every file carries the mark, 1 otherwise
    return 0 if found_all else 1


def _check(name: str, fn: Callable[[], str]) -> bool:
    try:
        detail = fn()
        print(f"  ok    {name:<22} {detail}")
        return True
    except Exception as exc:  # doctor reports every failure instead of stopping at the first
        print(f"  FAIL  {name:<22} {type(exc).__name__}: {exc}")
        return False


def _cmd_doctor(args: argparse.Namespace) -> int:
    """Check that every offline component the toolkit needs is installed and working."""

    def torch_info() -> str:
        import torch

        dev = "cuda " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        return f"torch {torch.__version__} on {dev}"

    def espeak() -> str:
        from phonemizer.backend import EspeakBackend

        if shutil.which("espeak-ng") is None:
            raise RuntimeError("espeak-ng not on PATH (apt-get install espeak-ng)")
        out = EspeakBackend("en-us").phonemize(["hello"], strip=True)[0]
        return f"espeak-ng via phonemizer: hello -> {out}"

    def openjtalk() -> str:
        import pyopenjtalk

        return "pyopenjtalk: 日本語 -> " + pyopenjtalk.g2p("日本語")

    def module(name: str) -> Callable[[], str]:
        def probe() -> str:
            mod = importlib.import_module(name)
            return f"{name} {getattr(mod, '__version__', '')}".strip()

        return probe

    print("koe-tts doctor")
    results = [
        _check("torch", torch_info),
        _check("espeak-ng", espeak),
        _check("pyopenjtalk", openjtalk),
        _check("torchaudio (for codecs)", module("torchaudio")),
        _check("encodec", module("encodec")),
        _check("dac", module("dac")),
        _check("soundfile", module("soundfile")),
        _check("soxr", module("soxr")),
    ]
    return 0 if all(results) else 1


def _module_main(module: str) -> Callable[[argparse.Namespace], int]:
    """Hand the remaining arguments to `module.main(argv)` (imported only when used)."""

    def run(args: argparse.Namespace) -> int:
        result = importlib.import_module(module).main(args.args)
        return result if isinstance(result, int) else 0

    return run


def _recipe(script: str) -> Callable[[argparse.Namespace], int]:
    """Run `recipes/<script>` from the source checkout with the remaining arguments."""

    def run(args: argparse.Namespace) -> int:
        import runpy
        from pathlib import Path

        path = Path(__file__).resolve().parent.parent / "recipes" / script
        if not path.is_file():
            print(
                f"tts: {path} not found; the training recipes live in the source checkout "
                "(install with `pip install -e .` from a clone)",
                file=sys.stderr,
            )
            return 2
        saved = sys.argv
        sys.argv = [str(path), *args.args]
        try:
            runpy.run_path(str(path), run_name="__main__")
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = saved
        return 0

    return run


_PASSTHROUGH: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": _module_main("tts.server"),
    "demo": _module_main("tts.demo_app"),
    "tokenize": _recipe("tokenize_corpus.py"),
    "train": _recipe("train.py"),
    "finetune": _recipe("finetune_voice.py"),
    "train-codec": _recipe("train_codec.py"),
    "eval": _module_main("tts.eval.evaluate"),
}
_PASSTHROUGH_HELP = {
    "serve": "run the OpenAI-compatible HTTP server (127.0.0.1:8000)",
    "demo": "run the Gradio demo (127.0.0.1:7860)",
    "tokenize": "encode a manifest into training shards",
    "train": "train the token LM (resumable, torchrun-ready)",
    "finetune": "adapt a model to one voice (LoRA or full)",
    "train-codec": "train our low-frame-rate codec",
    "eval": "measure a model: CER, voice similarity, emotion control, speed vs Kokoro",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tts",
        description="Voice-cloning, emotion-controllable TTS for ja, en, ko, vi and de.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("synthesize", help="synthesize speech to a wav file")
    p.add_argument("--text", help="text to speak (default: read --text-file or stdin)")
    p.add_argument("--text-file", help="read the text from this file (UTF-8)")
    p.add_argument(
        "--reference", help="clip of the voice to clone, or a stored voice name (default: model's)"
    )
    p.add_argument("--style-reference", help="clip whose speaking style/emotion to copy")
    p.add_argument("--language", default="en", choices=LANGUAGES)
    p.add_argument("--emotion", default=None, choices=EMOTIONS, help="default: neutral")
    p.add_argument(
        "--intensity",
        type=float,
        default=None,
        help=f"emotion strength, 0..1 (>1 exaggerates, up to {MAX_INTENSITY:g})",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="0.25..4.0 (tts.synthesizer.MIN/MAX_SPEED)"
    )
    p.add_argument(
        "--pitch-range",
        type=float,
        default=None,
        help="intonation: > 1 livelier, < 1 flatter, 0 monotone (default: the emotion's)",
    )
    p.add_argument(
        "--no-label-prosody",
        action="store_true",
        help="leave the emotion to the LM alone: no F0 range, tempo or loudness from the label",
    )
    p.add_argument(
        "--speaker-contrast",
        type=float,
        default=None,
        help="push a cloned voice away from the training voices' mean by this much "
        "(0 off; default: the model's)",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument(
        "--unit-temperature",
        type=float,
        default=None,
        help="temperature of the semantic-unit stream (models that predict units)",
    )
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--cfg-scale", type=float, default=None)
    p.add_argument(
        "--emotion-guidance",
        type=float,
        default=None,
        help="> 1 strengthens the emotion against a neutral pass (1 = off)",
    )
    p.add_argument(
        "--speaker-guidance",
        type=float,
        default=None,
        help="> 1 strengthens the reference voice against a pass without it (1 = off)",
    )
    p.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="takes per sentence; the model's unit reader keeps the one that says the text best",
    )
    p.add_argument(
        "--voice-margin",
        type=float,
        default=None,
        help="among takes the reader scores within this margin of its best, keep the one closest "
        "to the reference voice (0 = the reader alone)",
    )
    p.add_argument(
        "--phoneme-weight",
        type=float,
        default=None,
        help="how hard the decoder leans on the text (default: the model's codec config); "
        "higher says the words more clearly, the voice a little less like the reference",
    )
    p.add_argument("--model", default=None, help="model directory or hub id (default: shipped)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: the model's)"
    )
    p.add_argument(
        "--lm-dtype",
        choices=LM_MATMUL_DTYPES,
        default=None,
        help="what the LM multiplies in (default: the model's, int8 for the shipped one); "
        "float32 is exact and slower on CPU, what each costs is measured in the README",
    )
    p.add_argument(
        "--out", default="out.wav", help="output file; with --stream, - = raw PCM to stdout"
    )
    p.add_argument("--stream", action="store_true", help="write audio while it is generated")
    p.add_argument(
        "--no-watermark", action="store_true", help="do not watermark the output (logged)"
    )
    p.set_defaults(func=_cmd_synthesize)

    p = sub.add_parser("text", help="show the front end's normalised text and phoneme symbols")
    p.add_argument("--text", help="text (default: stdin)")
    p.add_argument("--language", required=True, help="one of " + ", ".join(LANGUAGES))
    p.add_argument("--ids", action="store_true", help="also print symbol ids")
    p.set_defaults(func=_cmd_text)

    p = sub.add_parser(
        "detect-watermark", help="check audio files for the watermark (exit 0 if all marked)"
    )
    p.add_argument("files", nargs="+")
    p.set_defaults(func=_cmd_detect_watermark)

    p = sub.add_parser("doctor", help="check that every offline component works")
    p.set_defaults(func=_cmd_doctor)

    # These hand their arguments to their own parsers (`tts serve --help` shows them).
    for name, help_text in _PASSTHROUGH_HELP.items():
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER)
        p.set_defaults(func=_PASSTHROUGH[name])
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    # pass-through commands hand everything after their name (even --help) to their own parser
    if argv and argv[0] in _PASSTHROUGH:
        args = argparse.Namespace(func=_PASSTHROUGH[argv[0]], args=argv[1:])
    else:
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except TTSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
