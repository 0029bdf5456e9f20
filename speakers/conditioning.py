"""Build the LM's `Conditioning` from reference clips and labels.

Voice and style are independent: the speaker embedding always comes from the `voice` clip;
the style vector comes from a `style` clip if one is given (voice from clip A, delivery from
clip B), otherwise from the style encoder's `EmotionTable` at the requested label and
intensity (voice from a clip, emotion from a label).
"""

from __future__ import annotations

import torch

from tts.conditioning import Conditioning
from tts.errors import ConfigError
from tts.labels import check_emotion, check_intensity, check_language
from tts.speakers.embedding_cache import DEFAULT_CACHE, EmbeddingCache
from tts.speakers.emotion_table import EmotionTable
from tts.speakers.reference import load_reference
from tts.speakers.speaker_encoder import SpeakerEncoder
from tts.speakers.style_encoder import StyleEncoder

__all__ = ["EmotionTable", "build_conditioning"]


def build_conditioning(
    speaker_encoder: SpeakerEncoder,
    style_encoder: StyleEncoder | None,
    voice: object | None,
    language: str,
    style: object | None = None,
    emotion: str | None = None,
    intensity: float | None = None,
    sr: int | None = None,
    cache: EmbeddingCache | None = DEFAULT_CACHE,
    speaker_embedding: torch.Tensor | None = None,
) -> Conditioning:
    """A batch-of-one `Conditioning`.

    `voice` and `style` are anything `load_reference` takes (path, bytes, array + `sr`, or a
    `ReferenceClip`). `emotion` / `intensity` default to what the style encoder reads from the
    style clip when there is one, else to "neutral" / 1.0; given explicitly they label the
    conditioning as asked (the style vector still comes from the style clip if given).
    `style_encoder=None` gives a conditioning without a style vector (labels only).
    `speaker_embedding` (a [SPEAKER_DIM] tensor, e.g. a stored voice) replaces `voice`.
    """
    language = check_language(language)
    if emotion is not None:
        emotion = check_emotion(emotion)
    if intensity is not None:
        intensity = check_intensity(intensity)

    if speaker_embedding is not None:
        if voice is not None:
            raise ConfigError("give either a voice clip or a speaker embedding, not both")
        speaker = speaker_embedding.detach().float().reshape(-1).cpu()
        if speaker.numel() != speaker_encoder.dim:
            raise ConfigError(
                f"speaker embedding has {speaker.numel()} values; this encoder makes "
                f"{speaker_encoder.dim}"
            )
    elif voice is None:
        raise ConfigError("a voice is needed: a reference clip or a stored speaker embedding")
    else:
        speaker = speaker_encoder.embed_reference(load_reference(voice, sr), cache)

    style_vector = None
    if style is not None:
        if style_encoder is None:
            raise ConfigError("a style clip was given but no style encoder to read it")
        style_vector = style_encoder.embed_reference(load_reference(style, sr), cache)
        predicted_emotion, predicted_intensity = style_encoder.predict_emotion(style_vector)
        emotion = emotion or predicted_emotion
        intensity = predicted_intensity if intensity is None else intensity
    emotion = emotion or "neutral"
    intensity = 1.0 if intensity is None else float(intensity)
    if style is None and style_encoder is not None:
        style_vector = style_encoder.emotion_table.vector(emotion, intensity).detach().cpu()

    return Conditioning.single(
        speaker, language, emotion=emotion, intensity=intensity, style=style_vector
    )
