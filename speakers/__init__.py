"""Reference-clip handling, speaker and style encoders; imported as `tts.speakers`.

clip = load_reference("me.wav")                      # cleaned 3-10 s of speech
enc = load_speaker_encoder("resemblyzer")            # or an ECAPA checkpoint directory
style = StyleEncoder.load("runs/style")              # trained style encoder
cond = build_conditioning(enc, style, voice=clip, language="en", emotion="happy")
"""

from tts.speakers.conditioning import build_conditioning
from tts.speakers.embedding_cache import DEFAULT_CACHE, EmbeddingCache
from tts.speakers.emotion_table import EmotionTable
from tts.speakers.reference import ReferenceAudioWarning, ReferenceClip, load_reference
from tts.speakers.speaker_encoder import (
    EcapaEncoder,
    GE2EEncoder,
    SpeakerEncoder,
    load_speaker_encoder,
)
from tts.speakers.style_encoder import StyleEncoder, StyleEncoderConfig

__all__ = [
    "DEFAULT_CACHE",
    "EcapaEncoder",
    "EmbeddingCache",
    "EmotionTable",
    "GE2EEncoder",
    "ReferenceAudioWarning",
    "ReferenceClip",
    "SpeakerEncoder",
    "StyleEncoder",
    "StyleEncoderConfig",
    "build_conditioning",
    "load_reference",
    "load_speaker_encoder",
]
