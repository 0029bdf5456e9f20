"""A tiny random model bundle and a tiny manifest of real engine clips for the eval tests."""

import warnings

import numpy as np
import pytest

from tts.audio import save_audio
from tts.data.manifest import ManifestEntry, write_manifest

# (speaker, half_tone, text): two pyopenjtalk voices, two sentences each
JA_CLIPS = [
    ("pyopenjtalk-mei", 0.0, "今日はとてもいい天気ですね。公園まで散歩に行きましょうか。"),
    ("pyopenjtalk-mei", 0.0, "明日の会議は午後三時から始まります。資料を準備してください。"),
    ("pyopenjtalk-mei-high", 5.0, "駅まで歩いて十分かかりますが、途中に大きな坂があります。"),
    ("pyopenjtalk-mei-high", 5.0, "この料理はとても美味しいので、また友達と一緒に来たいです。"),
]


def speech(text: str, half_tone: float = 0.0) -> tuple[np.ndarray, int]:
    import pyopenjtalk

    wav, sr = pyopenjtalk.tts(text, half_tone=half_tone)
    return (wav / 32768.0).astype(np.float32), int(sr)


@pytest.fixture(scope="session")
def manifest_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "wavs").mkdir()
    entries = []
    for i, (speaker, half_tone, text) in enumerate(JA_CLIPS):
        wav, sr = speech(text, half_tone)
        path = root / "wavs" / f"{i:02d}.wav"
        save_audio(path, wav, sr)
        entries.append(
            ManifestEntry(
                audio=path,
                text=text,
                language="ja",
                speaker=speaker,
                duration=len(wav) / sr,
                extra={"split": "test", "engine": "pyopenjtalk", "voice": {"half_tone": half_tone}},
            )
        )
    return write_manifest(root / "manifest.jsonl", entries)


@pytest.fixture(autouse=True)
def _quiet_caps():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*reached its cap.*")
        yield
