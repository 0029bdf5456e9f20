"""A tiny random pipeline bundle shared by the synthesis tests (built once per session)."""

import warnings

import numpy as np
import pytest
import torch

from tts.codecs import load_codec
from tts.generate import SamplingConfig
from tts.model import CodecLM, LMConfig
from tts.speakers import StyleEncoder, StyleEncoderConfig, load_speaker_encoder
from tts.synthesizer import PipelineConfig, Synthesizer
from tts.text import SymbolInventory, TextFrontend


def _speech(text: str, half_tone: float = 0.0) -> tuple[np.ndarray, int]:
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts(text, half_tone=half_tone)
    return (wav / 32768.0).astype(np.float32), int(sr)


@pytest.fixture(scope="session")
def reference_clip():
    return _speech("今日はとてもいい天気ですね。公園まで散歩に行きましょうか。")


@pytest.fixture(scope="session")
def other_clip():
    return _speech("明日の会議は午後三時から始まります。資料を準備してください。", 4.0)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory):
    torch.manual_seed(0)
    inventory = SymbolInventory.default()
    codec = load_codec("koe-tiny", pretrained=False)
    lm = CodecLM(
        LMConfig.preset(
            "tiny",
            vocab_size=len(inventory),
            pad_id=inventory.pad_id,
            codebook_size=codec.codebook_size,
            n_codebooks=codec.n_codebooks,
            # a random LM rarely predicts EOS: keep its cap small so tests stay fast
            max_frames_per_phoneme=0.5,
            max_frames_offset=8,
        )
    )
    style = StyleEncoder(StyleEncoderConfig(conv_channels=(16, 16, 32), gru_size=32, n_tokens=4))
    voice = torch.nn.functional.normalize(torch.randn(256), dim=0)
    synth = Synthesizer(
        lm,
        codec,
        TextFrontend(inventory=inventory),
        load_speaker_encoder("resemblyzer"),
        style,
        voices={"default": voice},
        config=PipelineConfig(sampling=SamplingConfig(temperature=0.9, top_k=50)),
    )
    return synth.save(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def synth(bundle_dir):
    return Synthesizer.from_pretrained(bundle_dir, device="cpu")


@pytest.fixture(autouse=True)
def _quiet_caps():
    # every chunk of a random LM reaches its frame cap; that warning is tested on its own
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reached its cap.*")
        yield
