"""Package a trained bundle as the model that ships in the repository (tts/pretrained/default).

    python recipes/ship_model.py --bundle runs/lm_proof/bundle --card docs/model-card.md \\
        --default-voice kokoro-jf_alpha

What it does, in order:
1. loads the bundle (LM, codec, inventory, voices) with `Synthesizer.from_pretrained`;
2. makes `--default-voice` (a stored voice name) the voice used when no reference is given, and
   with `--codec` swaps in another decoder for the same codes (e.g. a source-filter decoder
   trained with `train_codec.py train_encoder=false`; its encoder must equal the bundle's), and
   with `--reader` adds a unit reader (recipes/train_unit_reader.py) that picks the best of
   `candidates` takes, and with `--speaker-contrast S --speaker-mean SHARDS` a speaker contrast
   (tts.speakers.contrast) around the mean embedding of those shards' training utterances;
3. sets the sampling defaults given by `--sampling` (chosen on validation sentences with
   `tts eval --splits valid --sampling ...`) and `--cpu-threads` (the torch thread count this
   model decodes fastest with on CPU, from `recipes/bench_synthesis.py`) and
   `--lm-matmul-dtype` (int8: the LM's products on CPU, tts/int8.py), and writes the bundle
   to `--out` with the model card `--card` as its README.md;
4. stores the learned parameters of the LM, the codec and the reader as float16 (buffers such as mel
   filters and windows stay float32), which halves the size; loading casts them back to the
   module's dtype, so nothing else changes;
5. reloads the written bundle and checks it against the original: the largest parameter change
   and whether one seeded synthesis per language gives the same audio. Prints sizes and the check.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from tts.checkpoint import halve_parameters
from tts.codecs import load_codec
from tts.config import LM_MATMUL_DTYPES, apply_overrides
from tts.data.shards import speaker_embeddings
from tts.errors import ConfigError
from tts.pretrained import DEFAULT_MODEL_DIR
from tts.reader import UnitReader
from tts.speakers.contrast import SpeakerContrast
from tts.speakers.timbre import TimbreConfig
from tts.synthesizer import Synthesizer, check_reader

CHECK_TEXT = {"ja": "今日はとても良い天気ですね。", "en": "The weather is lovely today."}


def with_default_voice(
    voices: dict[str, torch.Tensor], name: str | None
) -> dict[str, torch.Tensor]:
    """The voices with `name` also stored as "default" (used when no reference is given)."""
    if name is None:
        return voices
    if name not in voices:
        known = ", ".join(k for k in voices if k != "default")
        raise ConfigError(f"--default-voice {name!r} is not a stored voice; choose from {known}")
    rest = {k: v for k, v in voices.items() if k not in ("default", name)}
    return {"default": voices[name].clone(), name: voices[name], **rest}


def swap_codec(synth: Synthesizer, path: Path) -> None:
    """Use the codec at `path` if it makes the same codes as the bundle's (same encoder and
    quantiser weights, to float16 precision: a shipped codec's encoder is float16-rounded)."""
    new = load_codec(str(path))
    old_model, new_model = getattr(synth.codec, "model", None), getattr(new, "model", None)
    if old_model is None or new_model is None:
        raise ConfigError("--codec swaps a Koe codec for another Koe codec")
    old_state, new_state = old_model.state_dict(), new_model.state_dict()
    for name, tensor in old_state.items():
        if name.startswith("decoder."):
            continue
        other = new_state.get(name)
        if other is None or other.shape != tensor.shape:
            raise ConfigError(f"--codec {path} has another encoder ({name} differs in shape)")
        if not torch.allclose(other.float(), tensor.float(), rtol=2e-3, atol=1e-4):
            raise ConfigError(f"--codec {path} has other encoder weights ({name}): other codes")
    synth.codec = new


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def ship(
    bundle: Path,
    out: Path,
    card: Path,
    default_voice: str | None,
    half: bool,
    sampling: list[str] | None = None,
    cpu_threads: int | None = None,
    codec: Path | None = None,
    reader: Path | None = None,
    timbre: bool = False,
    speaker_contrast: tuple[float, str] | None = None,
    lm_matmul_dtype: str | None = None,
) -> dict:
    # lm_matmul_dtype: what the LM multiplies in at inference, stored in the shipped config;
    # set on this copy too, so the check below compares like with like
    synth = Synthesizer.from_pretrained(bundle, device="cpu", lm_matmul_dtype=lm_matmul_dtype)
    if codec is not None:
        swap_codec(synth, codec)
    if reader is not None:  # picks the best of `candidates` takes (tts.reader)
        synth.reader = UnitReader.load(reader)
        check_reader(synth.reader, synth.lm, synth.codec, synth.frontend.inventory)
    synth.voices = with_default_voice(synth.voices, default_voice)
    synth.trained_voices = frozenset(synth.voices)  # the shipped bundle's own voices
    if speaker_contrast is not None:  # (strength, token shard folders the LM was trained on)
        strength, data = speaker_contrast
        synth.speaker_contrast = SpeakerContrast.from_embeddings(speaker_embeddings(data), strength)
    if sampling:  # decoding defaults picked on validation sentences (tts eval --sampling)
        synth.config.sampling = apply_overrides(synth.config.sampling, sampling)
    if cpu_threads is not None:
        synth.config.cpu_threads = cpu_threads
    if timbre:  # undo the codec's colouring of each reference voice (tts.speakers.timbre)
        synth.config.timbre = TimbreConfig()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    synth.save(tmp, model_card=card.read_text(encoding="utf-8"))
    saved = 0
    if half:
        saved += halve_parameters(synth.lm, tmp / "model.safetensors")
        if (tmp / "codec" / "model.safetensors").is_file():
            saved += halve_parameters(synth.codec.model, tmp / "codec" / "model.safetensors")
        if synth.reader is not None:
            saved += halve_parameters(synth.reader, tmp / "reader" / "model.safetensors")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)

    shipped = Synthesizer.from_pretrained(out, device="cpu")
    pairs = [(synth.lm, shipped.lm)]
    if isinstance(getattr(synth.codec, "model", None), torch.nn.Module):
        pairs.append((synth.codec.model, shipped.codec.model))
    if synth.reader is not None and shipped.reader is not None:
        pairs.append((synth.reader, shipped.reader))
    drift = max(
        float((a - b).abs().max())
        for module_a, module_b in pairs
        for a, b in zip(module_a.state_dict().values(), module_b.state_dict().values(), strict=True)
        if a.is_floating_point()
    )
    checks = {}
    for lang, text in CHECK_TEXT.items():
        a = synth.synthesize(text, language=lang, seed=0, watermark=False)
        b = shipped.synthesize(text, language=lang, seed=0, watermark=False)
        # Sampling from float16-rounded logits may diverge late in long texts; a short seeded
        # sentence should come out the same length and nearly the same waveform.
        rel = float(np.linalg.norm(a.wav - b.wav) / max(np.linalg.norm(a.wav), 1e-9)) if a.wav.shape == b.wav.shape else None  # fmt: skip
        checks[lang] = {"same_length": a.wav.shape == b.wav.shape, "relative_difference": rel}
    report = {
        "out": str(out),
        "size_mb": round(folder_size(out) / 1e6, 1),
        "saved_mb_by_float16": round(saved / 1e6, 1),
        "max_parameter_change": drift,
        "check_synthesis": checks,
        "voices": [k for k in shipped.voices if k != "default"],
    }
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True, help="trained bundle (recipes/train.py out/bundle)")
    p.add_argument("--out", default=str(DEFAULT_MODEL_DIR), help="where the shipped model goes")
    p.add_argument("--card", required=True, help="model card (markdown) written as README.md")
    p.add_argument("--default-voice", default=None, help="stored voice used without a reference")
    p.add_argument("--float32", action="store_true", help="keep float32 parameters")
    p.add_argument("--sampling", default="", help="sampling defaults, e.g. temperature=0.7")
    p.add_argument("--cpu-threads", type=int, default=None, help="torch threads on CPU")
    p.add_argument(
        "--lm-matmul-dtype",
        choices=LM_MATMUL_DTYPES,
        default=None,
        help="what the LM multiplies in at inference (int8: CPU, tts/int8.py)",
    )
    p.add_argument("--codec", default=None, help="another decoder for the same codes (a codec run)")
    p.add_argument("--reader", default=None, help="a unit reader (recipes/train_unit_reader.py)")
    p.add_argument("--timbre", action="store_true", help="correct the codec's colouring of voices")
    p.add_argument(
        "--speaker-contrast",
        type=float,
        default=None,
        help="push cloned voices away from the training voices' mean by this much",
    )
    p.add_argument("--speaker-mean", default=None,
                   help="token shard folders (a,b) whose training items give that mean")  # fmt: skip
    a = p.parse_args(argv)
    if (a.speaker_contrast is None) != (a.speaker_mean is None):
        p.error("--speaker-contrast and --speaker-mean go together")
    sampling = [x for x in a.sampling.split(",") if x.strip()]
    report = ship(
        Path(a.bundle), Path(a.out), Path(a.card), a.default_voice, not a.float32, sampling,
        a.cpu_threads, Path(a.codec) if a.codec else None, Path(a.reader) if a.reader else None,
        a.timbre,
        None if a.speaker_contrast is None else (a.speaker_contrast, a.speaker_mean),
        a.lm_matmul_dtype,
    )  # fmt: skip
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
