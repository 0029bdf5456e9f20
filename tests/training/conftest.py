"""Shared fixtures of the training tests: a tiny espeak corpus, a random koe-tiny codec saved to
disk (so bundles can reference it), its token shards and one short base training run.

Everything is built once per session; recipes are loaded from their files because the recipes
folder is not a package (see tests/data/datakit.py)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
import torch

from tts.data.engines import engine_available

sys.path.insert(0, str(Path(__file__).parent))

from trainkit import VOICES, load_script, shards_with_units, small_model


@pytest.fixture(scope="session", autouse=True)
def _quiet() -> None:
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")
    warnings.filterwarnings("ignore", message=".*reached its cap.*")
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 train + 2 valid utterances for each of two espeak voices (English)."""
    if not engine_available("espeak"):
        pytest.skip("espeak-ng missing")
    synthetic = load_script("recipes/data/synthetic.py")
    out = tmp_path_factory.mktemp("corpus")
    config = synthetic.BuildConfig(
        out=out, seed=3, engines=("espeak",), languages=("en",), voices=VOICES,
        utterances_per_voice=8, emotional_variants=0, held_out_voices=(),
        held_out_sentences=0.3, jobs=1,
    )  # fmt: skip
    report = synthetic.build_corpus(config, progress=False, plot=False)
    assert report.utterances == 20 and not report.failures
    return report.manifest


@pytest.fixture(scope="session")
def codec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random koe-tiny codec with 16-entry codebooks: with ~2,000 frames per voice, a
    1,000-entry codebook leaves the LM nothing learnable, while 16 entries give each voice a
    code distribution a few dozen steps can pick up (the fine-tuning test relies on it)."""
    from dataclasses import replace

    from tts.codecs import KoeCodec
    from tts.codecs.model import tiny_config

    torch.manual_seed(0)
    codec = KoeCodec.from_config(replace(tiny_config(), fsq_levels=(4, 4)), name="koe-tiny")
    return codec.save(tmp_path_factory.mktemp("codec") / "c")


@pytest.fixture(scope="session")
def speaker_encoder():  # type: ignore[no-untyped-def]
    from tts.speakers import load_speaker_encoder

    return load_speaker_encoder("resemblyzer")


@pytest.fixture(scope="session")
def tokens(corpus: Path, codec_dir: Path, speaker_encoder, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from tts.codecs import load_codec
    from tts.data.shards import tokenize_manifest

    out = tmp_path_factory.mktemp("tokens")
    tokenize_manifest(
        corpus, out, load_codec(codec_dir), str(codec_dir), speaker_encoder, shard_size=8,
        progress=False,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def base_run(tokens: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 40-step run of a small LM on both voices (with a bundle export)."""
    from tts.trainer import TrainConfig, train

    cfg = TrainConfig(
        data=str(tokens), model=small_model(), max_frames=400, max_steps=40, lr=3e-3,
        warmup_steps=4, log_every=2, eval_every=20, ckpt_every=20, seed=5,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("run")
    result = train(cfg, out, progress=False)
    result["config"] = cfg
    return result


@pytest.fixture(scope="session")
def encoder():  # type: ignore[no-untyped-def]
    from tts.semantic import WhisperEncoder

    return WhisperEncoder(threads=1)


@pytest.fixture(scope="session")
def clips(corpus: Path) -> list:
    import json

    from tts.audio import load_audio

    rows = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    return [load_audio(corpus.parent / row["audio"]) for row in rows]


@pytest.fixture(scope="session")
def tokenizer(clips, encoder):  # type: ignore[no-untyped-def]
    from tts.semantic import SemanticConfig, fit_tokenizer

    # 8 units: the test codec has 16-entry codebooks, and units must fit them
    return fit_tokenizer(clips, SemanticConfig(n_clusters=8), encoder, progress=False)


@pytest.fixture
def unit_shards(tokens: Path, tokenizer, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the test shards labelled with `tokenizer`'s 8 units, in this test's tmp_path."""
    return shards_with_units(tokens, tokenizer, tmp_path)
