"""The synthesis pipeline: text + reference clip -> watermarked speech.

    text --front end--> sentence chunks of phoneme ids
    reference clip(s) --speaker/style encoders--> Conditioning
    (chunks, Conditioning) --token LM, batched--> codec codes per chunk
    codes --codec decoder (emotion's F0 range and shift; speed x emotion's tempo where the
    decoder can)--> audio per chunk --cross-fade join--> emotion's gain
    --> (other tempos: stretch) --> watermark

`Synthesizer.synthesize` returns the whole utterance, and with a unit reader (tts.reader) it
samples `sampling.candidates` takes of each chunk and keeps the one the reader hears saying
the text best. `Synthesizer.stream` yields audio while the LM is still generating, from the
first take. Both use the same joiner, so with one take and the watermark off the streamed
pieces concatenate to the one-shot waveform.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from tts.audio import Audio, resample
from tts.checkpoint import read_checkpoint_config
from tts.codecs import load_codec
from tts.codecs.base import Codec
from tts.codecs.source_filter import MAX_PITCH_RANGE, MAX_PITCH_SHIFT, PitchRange
from tts.conditioning import SPEAKER_DIM, Conditioning
from tts.config import config_from_dict, config_to_dict
from tts.errors import CheckpointError, ConfigError
from tts.forced_align import ctc_align, frame_phonemes
from tts.generate import (
    GenerationResult,
    MaxLengthWarning,
    SamplingConfig,
    generate,
    generate_stream,
)
from tts.label_prosody import LabelProsody, check_lm_prosody, label_prosody
from tts.labels import LANGUAGES, check_intensity, check_language
from tts.model import CodecLM, set_matmul_dtype
from tts.pretrained import BUNDLE_FORMAT, resolve_model_dir
from tts.reader import UnitReader, read_ids
from tts.semantic import SemanticTokenizer
from tts.speakers import ReferenceClip, StyleEncoder, build_conditioning, load_speaker_encoder
from tts.speakers.contrast import SpeakerContrast, check_strength
from tts.speakers.reference import CODEC_SAMPLE_RATE, load_reference
from tts.speakers.speaker_encoder import SpeakerEncoder
from tts.speakers.timbre import TimbreConfig, TimbreFilter
from tts.streaming import SegmentJoiner, StreamingDecoder, decoder_context_frames
from tts.text import SymbolInventory, TextChunk, TextFrontend
from tts.threads import compute_threads
from tts.timing import StageClock
from tts.watermark import default_watermarker, maybe_watermark

log = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.25, 4.0  # OpenAI's range; phase-vocoder stretch, then the watermark
VOICES_NAME = "voices.safetensors"
# Take c of a chunk is drawn with the chunk's seed + c * this, so take 0 is the one-take draw.
TAKE_SEED_STRIDE = 1_000_003
TIMBRE_CACHE_ITEMS = 64  # reference clips whose timbre filter a Synthesizer keeps
DECODER_SPEAKERS = ("reference", "conditioning")  # PipelineConfig.decoder_speaker
# One short sentence a language for `Synthesizer.warm_up`.
WARM_UP_TEXT = {
    "ja": "こんにちは。",
    "en": "Hello.",
    "ko": "안녕하세요.",
    "vi": "Xin chào.",
    "de": "Hallo.",
}


@dataclass
class PipelineConfig:
    """How the parts of a model bundle fit together (stored in the LM's config.json)."""

    format: int = BUNDLE_FORMAT
    codec: str = "codec"  # a subfolder of the bundle, or a registry name like "encodec-24k@6"
    speaker_encoder: str = "resemblyzer"  # "resemblyzer" or a subfolder (ECAPA checkpoint)
    style_encoder: str | None = "style_encoder"  # a subfolder, or None
    inventory: str = "inventory.json"
    # The semantic tokenizer (a subfolder) when the LM predicts semantic units first: only
    # fine-tuning needs it (to give new recordings their units); synthesis never does.
    semantic: str | None = None
    # The unit reader (a subfolder, tts.reader) that picks the best of `sampling.candidates`
    # takes; None: one take per chunk whatever `candidates` says.
    reader: str | None = None
    # Push cloned voices away from the training voices' mean (a subfolder,
    # tts.speakers.contrast); None: condition on the reference clip's embedding as it is.
    speaker_contrast: str | None = None
    # A codec whose decoder reads the voice's embedding (`Codec.reads_speaker`) gets the
    # reference's embedding as the speaker encoder made it ("reference"; what it trained on:
    # another clip of the voice) or the LM's, after the speaker contrast ("conditioning").
    decoder_speaker: str = "reference"
    max_symbols: int = 400  # phoneme symbols per chunk (front end)
    batch_size: int = 8  # sentence chunks generated at once
    crossfade_ms: float = 20.0
    pause_ms: float = 120.0  # silence between sentences
    # torch threads on CPU when the user names none: what this model decodes fastest with
    # (a small LM steps faster on one thread than on two; None = torch's default)
    cpu_threads: int | None = None
    # The dtype the LM's linear layers multiply in at inference (tts.model.set_matmul_dtype):
    # None / "float32", "bfloat16" (faster on CPUs with AVX512-BF16) or "int8" (packed int8
    # weights, CPU only: tts.int8). Both of the latter sample other tokens than float32.
    lm_matmul_dtype: str | None = None
    # unit_temperature 0.4 (models that predict semantic units): on koe-proof-v3, CER over the
    # five languages fell from 0.85 (units at 0.8) to 0.78 (0.4); greedy units were worse.
    sampling: SamplingConfig = field(
        default_factory=lambda: SamplingConfig(
            temperature=0.8, unit_temperature=0.4, top_k=50, top_p=0.95
        )
    )
    # What this bundle's LM does by itself for each emotion at intensity 1, {emotion:
    # {"f0_shift_st", "tempo", "gain_db"}} (recipes/calibrate_prosody.py): the synthesizer tops
    # it up to the emotion table's pitch level, tempo and loudness (tts.label_prosody).
    # Empty: the table in full.
    lm_prosody: dict[str, dict[str, float]] = field(default_factory=dict)
    # Filter the output of a reference clip by what the codec does to that clip's long-term
    # spectrum, undone (tts.speakers.timbre); None: off. Stored voices have no clip: no filter.
    timbre: TimbreConfig | None = None

    def __post_init__(self) -> None:
        self.lm_prosody = check_lm_prosody(self.lm_prosody)
        if self.decoder_speaker not in DECODER_SPEAKERS:
            raise ConfigError(
                f"decoder_speaker must be one of {DECODER_SPEAKERS}, got {self.decoder_speaker!r}"
            )


@dataclass
class SegmentInfo:
    """What happened to one sentence chunk."""

    text: str
    n_symbols: int
    n_frames: int
    stopped: bool  # False: the chunk hit its frame cap (audio may be cut; a warning was given)
    takes: int = 1  # takes sampled for this chunk (see SamplingConfig.candidates)
    # The unit reader's score of the kept take (CTC loss per phoneme; lower reads better), or
    # None when no reader chose.
    reader_score: float | None = None
    # The speaker encoder's cosine between the kept take and the voice it speaks in, when the
    # voice chose among takes the reader scored alike (SamplingConfig.voice_margin); else None.
    voice_similarity: float | None = None


class Prepared(NamedTuple):
    """What one synthesis call works from (`Synthesizer._prepare`)."""

    chunks: list[TextChunk]  # the text's sentence chunks
    cond: Conditioning  # the LM's conditioning, on the synthesizer's device
    sampling: SamplingConfig
    timbre: TimbreFilter | None  # the reference's timbre filter (PipelineConfig.timbre)
    decoder_voice: torch.Tensor | None  # the embedding the codec's decoder reads, if any
    voice: torch.Tensor  # [D] the voice's speaker embedding, before the speaker contrast


class Synthesizer:
    """Voice-cloning, emotion-controllable TTS from one model bundle."""

    def __init__(
        self,
        lm: CodecLM,
        codec: Codec,
        frontend: TextFrontend,
        speaker_encoder: SpeakerEncoder,
        style_encoder: StyleEncoder | None = None,
        voices: dict[str, torch.Tensor] | None = None,
        config: PipelineConfig | None = None,
        semantic: SemanticTokenizer | None = None,
        reader: UnitReader | None = None,
        speaker_contrast: SpeakerContrast | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        if speaker_contrast is not None and speaker_contrast.dim != speaker_encoder.dim:
            raise CheckpointError(
                f"the speaker contrast's mean has {speaker_contrast.dim} values; the speaker "
                f"encoder makes {speaker_encoder.dim}"
            )
        # Applied to cloned voices, not to the voices the bundle came with (tts.speakers.contrast);
        # set to None (or its strength to 0) to condition on the clip's embedding as it is.
        self.speaker_contrast = speaker_contrast
        if reader is not None:
            check_reader(reader, lm, codec, frontend.inventory)
        self.reader = reader.eval() if reader is not None else None
        if lm.config.n_semantic and semantic is None:
            log.info("this LM predicts semantic units but no tokenizer came with it: "
                     "it synthesizes, but cannot be fine-tuned on new recordings")  # fmt: skip
        self.semantic = semantic
        if lm.config.n_codec_codebooks != codec.n_codebooks or lm.config.codebook_size != (
            codec.codebook_size
        ):
            raise CheckpointError(
                f"the LM predicts {lm.config.n_codec_codebooks} codec codebooks of "
                f"{lm.config.codebook_size} but the codec has {codec.n_codebooks} of "
                f"{codec.codebook_size}"
            )
        n_units = getattr(codec, "n_units", 0)
        units_differ = semantic is not None and semantic.config.n_clusters != n_units
        if n_units and lm.config.n_semantic and units_differ:
            raise CheckpointError(
                f"the codec's decoder reads {n_units} semantic units but the LM's "
                f"tokenizer makes {semantic.config.n_clusters}"
            )
        if lm.config.vocab_size < len(frontend.inventory):
            raise CheckpointError(
                f"the LM knows {lm.config.vocab_size} symbols but the inventory has "
                f"{len(frontend.inventory)}"
            )
        self.lm = lm.eval()
        self.codec = codec
        self.frontend = frontend
        self.speaker_encoder = speaker_encoder
        self.style_encoder = style_encoder.eval() if style_encoder is not None else None
        self.voices = dict(voices or {})
        # The stored voices the pipeline was built with: the bundle's, voices its LM trained on.
        # Voices stored later (the server's registered voices) are cloned voices.
        self.trained_voices = frozenset(self.voices)
        self.compile = False  # torch.compile the LM's decode step (pays off on GPUs)
        # torch CPU threads while this pipeline runs (None: leave torch's setting). The token
        # LM decodes one small step at a time; on a 2-core CPU one thread is faster than two
        # for the shipped model (see the README's speed table). torch's setting is global to the
        # process, so it is applied per call and restored before control returns to the caller.
        self.threads: int | None = None
        # "content hash|settings" of a reference -> its timbre filter (the oldest goes first
        # past the limit; no lock: a race only computes a filter twice, and the server
        # deep-copies a Synthesizer per worker, which a lock would not survive)
        self._timbre_cache: OrderedDict[str, TimbreFilter] = OrderedDict()

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device

    # ----- loading and saving -----------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path | None = None,
        *,
        device: str | torch.device | None = None,
        revision: str | None = None,
        local_files_only: bool | None = None,
        cache_dir: str | Path | None = None,
        threads: int | None = None,
        speaker_encoder: SpeakerEncoder | None = None,
        lm_matmul_dtype: str | None = None,
    ) -> Synthesizer:
        """Load a bundle: None = the shipped default model, a local directory, or a hub id.

        `threads`: torch CPU threads while synthesizing (see `Synthesizer.threads`); None =
        the bundle's `cpu_threads` on CPU, torch's setting elsewhere. `speaker_encoder`: one
        already loaded (shared between pipelines, or standing in on a machine without the
        bundle's), used instead of loading the bundle's; it must make embeddings of the size
        the bundle's makes, and the same kind, for cloned voices to sound right.
        `lm_matmul_dtype` ("float32", "bfloat16", "int8"): what the LM multiplies in at
        inference (`PipelineConfig.lm_matmul_dtype`); None = the bundle's."""
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        if speaker_encoder is not None and speaker_encoder.dim != SPEAKER_DIM:
            raise ConfigError(
                f"the speaker encoder given makes {speaker_encoder.dim}-value embeddings; "
                f"this model's LM reads {SPEAKER_DIM}"
            )
        root = resolve_model_dir(
            name_or_path, revision=revision, local_files_only=local_files_only, cache_dir=cache_dir
        )
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        payload = read_checkpoint_config(root)
        if "pipeline" not in payload:
            raise CheckpointError(
                f"{root} is an LM checkpoint without a 'pipeline' entry; build a bundle with "
                "Synthesizer.save()"
            )
        config = config_from_dict(PipelineConfig, payload["pipeline"])
        if lm_matmul_dtype is not None:  # the caller's choice over the bundle's
            config = replace(config, lm_matmul_dtype=lm_matmul_dtype)
        if config.format > BUNDLE_FORMAT:
            raise CheckpointError(
                f"{root} uses bundle format {config.format}; this version reads up to "
                f"{BUNDLE_FORMAT}. Upgrade koe-tts."
            )
        lm = CodecLM.load(root, device=device)
        codec_dir = root / config.codec
        codec = load_codec(codec_dir if codec_dir.is_dir() else config.codec, device=device)
        if speaker_encoder is None:
            speaker_dir = root / config.speaker_encoder
            speaker_encoder = load_speaker_encoder(
                speaker_dir if speaker_dir.is_dir() else config.speaker_encoder, device=device
            )
        style_encoder = None
        if config.style_encoder:
            style_encoder = StyleEncoder.load(root / config.style_encoder, device=device)
        inventory_path = root / config.inventory
        if not inventory_path.is_file():
            raise CheckpointError(f"{inventory_path} is missing; the bundle needs its inventory")
        inventory = SymbolInventory.load(inventory_path)
        voices = {}
        if (root / VOICES_NAME).is_file():
            voices = load_file(str(root / VOICES_NAME))
        frontend = TextFrontend(max_symbols=config.max_symbols, inventory=inventory)
        semantic = SemanticTokenizer.load(root / config.semantic) if config.semantic else None
        reader = UnitReader.load(root / config.reader, device=device) if config.reader else None
        contrast = None
        if config.speaker_contrast:
            contrast = SpeakerContrast.load(root / config.speaker_contrast)
        synth = cls(
            lm, codec, frontend, speaker_encoder, style_encoder, voices, config, semantic, reader,
            contrast,
        )  # fmt: skip
        set_matmul_dtype(lm, config.lm_matmul_dtype)
        on_cpu = torch.device(device).type == "cpu"
        synth.threads = threads if threads is not None else (config.cpu_threads if on_cpu else None)
        return synth

    def save(self, directory: str | Path, model_card: str | None = None) -> Path:
        """Write this pipeline as a bundle that `from_pretrained(directory)` loads."""
        root = Path(directory)
        config = self.config
        if hasattr(self.codec, "save"):  # our codec travels inside the bundle
            self.codec.save(root / "codec")
            config = replace(config, codec="codec")
        else:  # a registry codec (EnCodec, DAC) is referenced by name
            config = replace(config, codec=self.codec.name)
        if self.style_encoder is not None:
            self.style_encoder.save(root / "style_encoder")
            config = replace(config, style_encoder="style_encoder")
        else:
            config = replace(config, style_encoder=None)
        if self.semantic is not None:
            self.semantic.save(root / "semantic")
            config = replace(config, semantic="semantic")
        else:
            config = replace(config, semantic=None)
        if self.reader is not None:
            self.reader.save(root / "reader")
            config = replace(config, reader="reader")
        else:
            config = replace(config, reader=None)
        if self.speaker_contrast is not None:
            self.speaker_contrast.save(root / "speaker_contrast")
            config = replace(config, speaker_contrast="speaker_contrast")
        else:
            config = replace(config, speaker_contrast=None)
        self.lm.save(root, pipeline=config_to_dict(config))
        self.frontend.inventory.save(root / config.inventory)
        if self.voices:
            save_file({k: v.contiguous() for k, v in self.voices.items()}, str(root / VOICES_NAME))
        (root / "README.md").write_text(model_card or self._default_card())
        return root

    def _default_card(self) -> str:
        return (
            "# koe-tts model\n\n"
            f"- LM: {self.lm.num_params() / 1e6:.1f} M parameters, "
            f"{self.lm.config.n_codebooks} codebooks x {self.lm.config.codebook_size}\n"
            f"- codec: {self.codec.name}, {self.codec.frame_rate:g} frames/s, "
            f"{self.codec.sample_rate} Hz\n"
            f"- voices: {', '.join(self.voices) or 'none (a reference clip is required)'}\n"
        )

    # ----- conditioning -----------------------------------------------------------------------

    def set_speaker_contrast(self, strength: float) -> None:
        """How hard cloned voices are pushed away from the training voices' mean by default
        (tts.speakers.contrast); 0 turns it off."""
        self.speaker_contrast = self._contrast_at(strength)

    def conditioning(
        self,
        reference: object | None,
        language: str,
        emotion: str | None = None,
        intensity: float | None = None,
        style_reference: object | None = None,
        speaker_contrast: float | None = None,
    ) -> Conditioning:
        """Voice from `reference` (clip, path, bytes or stored voice name), style from
        `style_reference` if given, else from the emotion label and intensity.
        `speaker_contrast`: the strength a cloned voice (a clip, or a voice stored after the
        bundle was loaded, such as the server's registered voices) is pushed away from the
        training voices with (tts.speakers.contrast; None: the model's, 0: not at all)."""
        return self._conditioning(reference, language, emotion, intensity, style_reference,
                                  speaker_contrast)[0]  # fmt: skip

    def _conditioning(
        self,
        reference: object | None,
        language: str,
        emotion: str | None,
        intensity: float | None,
        style_reference: object | None,
        speaker_contrast: float | None,
    ) -> tuple[Conditioning, torch.Tensor]:
        """(`conditioning`, the voice's embedding [D] before the speaker contrast)."""
        embedding, cloned = None, True
        if reference is None or (isinstance(reference, str) and reference in self.voices):
            if not self.voices:
                raise ConfigError("this model has no stored voices: pass a reference clip")
            name = reference if reference is not None else next(iter(self.voices))
            embedding, cloned = self.voices[name], name not in self.trained_voices
            reference = None
        cond = build_conditioning(
            self.speaker_encoder,
            self.style_encoder,
            reference,
            language,
            style=style_reference,
            emotion=emotion,
            intensity=intensity,
            speaker_embedding=embedding,
        )
        voice = cond.speaker[0]
        contrast = self._contrast_at(speaker_contrast)
        if cloned and contrast is not None:
            cond.speaker = contrast.apply(cond.speaker)
        return cond, voice

    def _contrast_at(self, strength: float | None) -> SpeakerContrast | None:
        """The model's speaker contrast, at `strength` if one is given."""
        if strength is None:
            return self.speaker_contrast
        check_strength(strength)
        if self.speaker_contrast is None:
            if strength != 0:
                raise ConfigError(
                    "this model has no speaker contrast (its bundle has no mean voice)"
                )
            return None
        return replace(self.speaker_contrast, strength=float(strength))

    # ----- synthesis --------------------------------------------------------------------------

    def _prepare(
        self,
        text: str,
        reference: object | None,
        language: str,
        emotion: str | None,
        intensity: float | None,
        style_reference: object | None,
        speed: float,
        sampling: SamplingConfig | None,
        speaker_contrast: float | None = None,
    ) -> Prepared:
        """Text chunks, conditioning and the rest of what one call needs (`Prepared`)."""
        language = check_language(language)
        if isinstance(speed, bool) or not isinstance(speed, (int, float)):
            raise ConfigError(f"speed must be a number, got {speed!r}")
        if not (math.isfinite(speed) and MIN_SPEED <= speed <= MAX_SPEED):
            raise ConfigError(f"speed must lie in [{MIN_SPEED}, {MAX_SPEED}], got {speed}")
        chunks = self.frontend.process(text, language)
        stored = reference is None or (isinstance(reference, str) and reference in self.voices)
        clip = None if stored else load_reference(reference)  # loaded once, for both uses
        cond, voice = self._conditioning(clip if clip is not None else reference, language,
                                         emotion, intensity, style_reference, speaker_contrast)  # fmt: skip
        timbre = self.timbre_filter(clip) if clip is not None else None
        decoder_voice = self._decoder_voice(cond, voice)
        sampling = sampling or self.config.sampling
        return Prepared(chunks, cond.to(self.device), sampling, timbre, decoder_voice, voice)

    def _decoder_voice(self, cond: Conditioning, voice: torch.Tensor) -> torch.Tensor | None:
        """What the codec's decoder reads of the voice (`PipelineConfig.decoder_speaker`): the
        embedding as made, or the LM's; None when the decoder reads none."""
        if not getattr(self.codec, "reads_speaker", 0):
            return None
        return voice if self.config.decoder_speaker == "reference" else cond.speaker[0]

    def decoder_speaker(
        self, reference: object | None, language: str, speaker_contrast: float | None = None
    ) -> torch.Tensor | None:
        """The embedding [D] the codec's decoder reads when synthesis speaks in `reference`'s
        voice (a clip, path, bytes or stored voice name; None: the default voice), or None when
        the decoder reads none: for decoding codes made elsewhere in the same voice."""
        if not getattr(self.codec, "reads_speaker", 0):
            return None
        stored = reference is None or (isinstance(reference, str) and reference in self.voices)
        voice = reference if stored else load_reference(reference)
        return self._decoder_voice(
            *self._conditioning(voice, language, None, None, None, speaker_contrast)
        )

    def voice_similarities(
        self, wavs: list[np.ndarray], sample_rate: int, voice: torch.Tensor
    ) -> list[float]:
        """The speaker encoder's cosine between each waveform and `voice` [D] (a voice's
        embedding, as `_prepare` gives it): how `SamplingConfig.voice_margin` compares takes."""
        embedded = F.normalize(self.speaker_encoder.embed_batch(wavs, sample_rate).float(), dim=-1)
        target = F.normalize(voice.detach().float().reshape(-1).cpu(), dim=0)
        return (embedded.cpu() @ target).tolist()

    def timbre_filter(self, clip: ReferenceClip) -> TimbreFilter | None:
        """The filter that undoes the codec's colouring of this reference (None when the
        bundle's `timbre` is off); computed once per clip (content hash) and kept."""
        config = self.config.timbre
        if config is None:
            return None
        key = f"{clip.content_hash}|{config}"  # the same clip under other settings: another
        cached = self._timbre_cache.get(key)
        if cached is not None:
            return cached
        wav, sr = clip.wav_24k, CODEC_SAMPLE_RATE
        if sr != self.sample_rate:
            wav, sr = resample(clip.wav, clip.sample_rate, self.sample_rate), self.sample_rate
        made = TimbreFilter.from_reference(
            np.asarray(wav, np.float32), sr, lambda x: self.codec.resynthesize(x, sr), config
        )
        self._timbre_cache[key] = made
        while len(self._timbre_cache) > TIMBRE_CACHE_ITEMS:
            self._timbre_cache.popitem(last=False)
        return made

    def _seeds(self, seed: int | None, n: int) -> list[int]:
        # chunk j always uses seed + j, however the chunks are batched
        base = int(torch.randint(0, 2**62, ()).item()) if seed is None else int(seed)
        return [base + j for j in range(n)]

    def _codec_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """What the codec decodes of the LM's frames [K, F]: the codec streams, and in front
        of them the last semantic stream when the codec's decoder reads units."""
        n, n_units = self.lm.config.n_semantic, getattr(self.codec, "n_units", 0)
        if not (n and n_units):
            return codes[n:]
        codes = codes[n - 1 :].clone()
        codes[0].clamp_(max=n_units)  # a unit the tokenizer never made: "no unit"
        return codes

    @property
    def codec_controls_pitch(self) -> bool:
        """True when `pitch_range` can change the intonation (a source-filter Koe codec)."""
        return bool(getattr(self.codec, "controls_pitch", False))

    def pitch_range_for(
        self,
        emotion: str | None = None,
        intensity: float | None = None,
        style_reference: object | None = None,
        pitch_range: float | None = None,
    ) -> float:
        """The decoder's F0 range factor: `pitch_range` if given, else the emotion label's F0
        range at its intensity (`tts.data.prosody.EMOTION_PROSODY`, the table the corpus was made
        with: sad x0.6 ... surprised x1.8), else 1. The LM's samples carry too little of that
        range (see `PitchRange`), so a source-filter codec applies it explicitly; other codecs
        leave the emotion to the LM and refuse an explicit range other than 1."""
        controls = self.codec_controls_pitch
        if pitch_range is not None:
            factor = PitchRange(pitch_range).factor  # validates
            if factor != 1.0 and not controls:
                raise ConfigError(
                    f"pitch_range needs a source-filter Koe codec; this model's codec is "
                    f"{self.codec.name!r}"
                )
            return factor
        if not controls or emotion is None or style_reference is not None:
            return 1.0  # a style reference, when given, sets the style instead of the label
        from tts.data.prosody import emotion_params

        level = 1.0 if intensity is None else check_intensity(intensity)
        factor = emotion_params(emotion, level).f0_range
        return min(factor, MAX_PITCH_RANGE)  # exaggerated intensities stop at the range's limit

    def prosody_for(
        self,
        emotion: str | None = None,
        intensity: float | None = None,
        style_reference: object | None = None,
    ) -> LabelProsody:
        """The F0 shift, tempo and gain the emotion label adds after the LM
        (`tts.label_prosody`): what the table asks for beyond what this model's LM was measured
        to do. Identity without a label, for neutral, and with a style reference (the reference
        sets the style); no F0 shift where the codec cannot move F0."""
        if style_reference is not None:
            return LabelProsody()
        extra = label_prosody(emotion, intensity, self.config.lm_prosody)
        if not self.codec_controls_pitch:
            return replace(extra, f0_shift_st=0.0)
        # exaggerated intensities stop at the decoder's limit, as the F0 range does
        shift = max(-MAX_PITCH_SHIFT, min(MAX_PITCH_SHIFT, extra.f0_shift_st))
        return replace(extra, f0_shift_st=shift)

    def _tempo_split(self, tempo: float) -> tuple[float, float]:
        """(tempo the codec's decoder speaks at, rate the waveform is then stretched by).

        A source-filter decoder changes the tempo itself, by laying its frames out at another
        hop with F0 and spectra kept (`KoeCodec.decode_window`); the waveform stretch (a phase
        vocoder) is for other codecs and tempos beyond that decoder's range: it blurs the
        harmonics (WORLD's F0 range of stretched speech moved by up to 1.1 st at rate 0.98)."""
        if tempo != 1.0 and self.codec.samples_per_frame_at(tempo) is not None:
            return tempo, 1.0
        return 1.0, tempo

    def _decode(
        self,
        codes: torch.Tensor,
        pitch_range: float,
        tempo: float = 1.0,
        shift: float = 0.0,
        speaker: torch.Tensor | None = None,
        phonemes: torch.Tensor | None = None,
    ) -> np.ndarray:
        """One sequence's codec frames [1, K, F] -> waveform, with the F0 range and shift and
        the decoder's tempo (see `_tempo_split`) applied; `speaker`: the voice's embedding
        for a decoder that reads one (`_prepare`); `phonemes` [1, 2, F]: its phoneme frames,
        for a decoder that reads them (`phoneme_frames`)."""
        pitch = PitchRange(pitch_range, shift)
        voice = {} if speaker is None else {"speaker": speaker}  # codecs without: as before
        if phonemes is not None:
            voice["phonemes"] = phonemes
        if pitch.is_identity and tempo == 1.0:
            return self.codec.decode(codes, **voice)[0].cpu().numpy()
        pitch_or_none = None if pitch.is_identity else pitch
        wav, _ = self.codec.decode_window(
            codes, 0, 0, 0.0, pitch=pitch_or_none, tempo=tempo, **voice
        )
        return wav[0].cpu().numpy()

    def _phonemes(self, chunk: TextChunk) -> torch.Tensor:
        return torch.tensor(chunk.ids, dtype=torch.long, device=self.device)

    def _finish(
        self,
        wav: np.ndarray,
        speed: float,
        watermark: bool,
        verify: bool = True,
        gain_db: float = 0.0,
        timbre: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        if timbre is not None:  # one signal's filter, state carried between pieces
            wav = timbre(wav)
        if gain_db != 0.0:
            wav = (wav * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)
        if speed != 1.0 and wav.size:
            wav = stretch(wav, float(speed))
        peak = float(np.max(np.abs(wav))) if wav.size else 0.0
        if peak > 1.0:  # never clip: scale the (rare) overshoot down
            wav = wav / peak
        return maybe_watermark(wav, self.sample_rate, enabled=watermark, verify=verify)

    def synthesize(
        self,
        text: str,
        reference: object | None = None,
        language: str = "en",
        emotion: str | None = None,
        intensity: float | None = None,
        style_reference: object | None = None,
        speed: float = 1.0,
        seed: int | None = None,
        sampling: SamplingConfig | None = None,
        watermark: bool = True,
        pitch_range: float | None = None,
        label_prosody: bool = True,
        speaker_contrast: float | None = None,
    ) -> Audio:
        """Speak `text` in the voice of `reference`; long text is split, never truncated.

        `pitch_range` widens (> 1) or flattens (< 1) the intonation at the decoder; the default
        is the emotion's F0 range at its intensity (`pitch_range_for`). The emotion also sets
        the pitch level, tempo (times `speed`) and loudness the LM falls short of
        (`prosody_for`). `label_prosody=False` leaves the emotion to the LM alone: none of
        these. `speaker_contrast` overrides the model's speaker contrast strength for this
        call (`conditioning`)."""
        with compute_threads(self.threads):
            return self._synthesize(
                text, reference, language, emotion, intensity, style_reference, speed, seed,
                sampling, watermark, pitch_range, label_prosody, speaker_contrast,
            )  # fmt: skip

    def _label_controls(
        self, emotion, intensity, style_reference, pitch_range, label_prosody
    ) -> tuple[float, LabelProsody]:  # fmt: skip
        """(decoder F0 range, F0 shift + tempo + gain) for a call; neutral with the label's off."""
        if not label_prosody:
            return self.pitch_range_for(None, None, None, pitch_range), LabelProsody()
        return (
            self.pitch_range_for(emotion, intensity, style_reference, pitch_range),
            self.prosody_for(emotion, intensity, style_reference),
        )

    def _synthesize(
        self, text, reference, language, emotion, intensity, style_reference, speed, seed,
        sampling, watermark, pitch_range, label_prosody, speaker_contrast,
    ) -> Audio:  # fmt: skip
        clock = StageClock()
        with clock.stage("prepare"):
            chunks, cond, sampling, timbre, decoder_voice, voice = self._prepare(
                text, reference, language, emotion, intensity, style_reference, speed,
                sampling, speaker_contrast,
            )  # fmt: skip
            pitch, extra = self._label_controls(
                emotion, intensity, style_reference, pitch_range, label_prosody
            )
        decoder_tempo, rate = self._tempo_split(speed * extra.tempo)
        seeds = self._seeds(seed, len(chunks))
        joiner = SegmentJoiner(self.sample_rate, self.config.crossfade_ms, self.config.pause_ms)

        def decode(take: GenerationResult, phonemes: torch.Tensor | None = None) -> np.ndarray:
            with clock.stage("decode"):
                return self._decode(
                    self._codec_codes(take.codes)[None], pitch, decoder_tempo,
                    extra.f0_shift_st, decoder_voice, phonemes,
                )  # fmt: skip

        pieces: list[np.ndarray] = []
        infos: list[SegmentInfo] = []
        takes = sampling.candidates if self.reader is not None else 1
        step = max(1, self.config.batch_size // takes)  # chunks per batch; every take counts
        for start in range(0, len(chunks), step):
            batch = chunks[start : start + step]
            jobs = [(j, take) for j in range(len(batch)) for take in range(takes)]
            with warnings.catch_warnings(), clock.stage("lm"):
                if takes > 1:  # a dropped take's cap concerns nobody; the kept one's is below
                    warnings.simplefilter("ignore", MaxLengthWarning)
                results = generate(
                    self.lm,
                    [self._phonemes(batch[j]) for j, _ in jobs],
                    Conditioning.cat([cond] * len(jobs)),
                    sampling,
                    seed=[seeds[start + j] + take * TAKE_SEED_STRIDE for j, take in jobs],
                    compile=self.compile,
                )
            for j, chunk in enumerate(batch):
                kept = self._best_take(
                    chunk, results[j * takes : (j + 1) * takes], decode, voice,
                    sampling.voice_margin, clock,
                )  # fmt: skip
                result = kept.result
                if takes > 1 and not result.stopped:
                    warnings.warn(
                        MaxLengthWarning(
                            f"chunk {start + j} reached its frame cap in all {takes} takes "
                            "without an end-of-speech token; its audio may be cut off"
                        ),
                        stacklevel=3,
                    )
                pieces += [joiner.start_segment(), joiner.push(kept.audio)]
                infos.append(
                    SegmentInfo(
                        chunk.text,
                        len(chunk.ids),
                        result.n_frames,
                        result.stopped,
                        takes,
                        reader_score=kept.reader_score,
                        voice_similarity=kept.voice_similarity,
                    )
                )
        pieces.append(joiner.finish())
        with clock.stage("finish"):
            wav = self._finish(
                np.concatenate(pieces), rate, watermark, gain_db=extra.gain_db,
                timbre=timbre.stream() if timbre is not None else None,
            )  # fmt: skip
        return Audio(wav, self.sample_rate, segments=infos, timings=clock.seconds)

    def _best_take(
        self,
        chunk: TextChunk,
        takes: list[GenerationResult],
        decode: Callable[..., np.ndarray],
        voice: torch.Tensor | None = None,
        voice_margin: float = 0.0,
        clock: StageClock | None = None,
    ) -> KeptTake:
        """The take the unit reader hears saying the chunk best, or with `voice_margin` > 0 the
        one closest to `voice` (the voice's speaker embedding) among those it scores at most
        that much worse (`takes_within`). `clock` times the reading ("read") and the voice's
        choice ("voice"); `decode` times itself.

        A units reader reads each take's semantic units; a codes reader reads the codec's
        codes of each take's decoded audio, and a mel reader its log-mel spectrogram, so they
        also hear what the decoder made of the units. A
        take that hit its frame cap loses to any that stopped. One take: itself, unscored.

        A decoder that reads the text (`Codec.reads_phonemes`) then decodes the kept take
        again, told which phoneme each frame says (`phoneme_frames`)."""
        target = read_ids(chunk.ids, self.frontend.inventory)
        if len(takes) == 1 or self.reader is None or not target:
            # nothing to choose from, or nothing to hear (punctuation only)
            audio = decode(takes[0])
            return KeptTake(takes[0], self._with_text(chunk, takes[0], audio, decode, clock))
        language = LANGUAGES.index(chunk.language)
        clock = clock or StageClock()
        audios: list[np.ndarray | None] = [None] * len(takes)
        source = self.reader.config.source
        if source != "units":  # a reader of the takes' audio
            audios = [decode(t) for t in takes]
        with clock.stage("read"):
            if source == "units":
                heard = [t.codes[0] for t in takes]
            elif source == "codes":
                heard = self.codec.encode_list(audios, self.sample_rate)
            else:
                heard = [self.reader.log_mel(a, self.sample_rate) for a in audios]
            scores = self.reader.score(heard, target, language)
        close = takes_within(scores, [t.stopped for t in takes], voice_margin)
        best, similarity = close[0], None
        if len(close) > 1 and voice is not None:
            # Only the takes the reader cannot tell apart are decoded (if a units reader left
            # them undecoded) and embedded.
            for i in close:
                audios[i] = decode(takes[i]) if audios[i] is None else audios[i]
            with clock.stage("voice"):
                cosines = self.voice_similarities(
                    [audios[i] for i in close], self.sample_rate, voice
                )
            pick = closest_to_voice(cosines)
            best, similarity = close[pick], cosines[pick]
        audio = audios[best]
        audio = decode(takes[best]) if audio is None else audio
        audio = self._with_text(chunk, takes[best], audio, decode, clock)
        return KeptTake(takes[best], audio, scores[best], similarity)

    def _with_text(
        self,
        chunk: TextChunk,
        take: GenerationResult,
        audio: np.ndarray,
        decode: Callable[..., np.ndarray],
        clock: StageClock | None = None,
    ) -> np.ndarray:
        """`audio` (the take decoded without the text) decoded again with its phoneme
        frames, for a decoder that reads them; otherwise (or when the reader cannot place the
        text in it) `audio` itself."""
        if not self.codec.reads_phonemes:
            return audio
        with (clock or StageClock()).stage("read"):
            frames = self.phoneme_frames(chunk, audio, take.codes.shape[-1])
        return audio if frames is None else decode(take, frames)

    def phoneme_frames(
        self, chunk: TextChunk, audio: np.ndarray, n_frames: int
    ) -> torch.Tensor | None:
        """Which of the chunk's phonemes each of a take's `n_frames` frames says, heard by the
        mel reader in `audio` (the take decoded; `tts.forced_align`) -> [1, 2, n_frames], or
        None without a mel reader, with nothing to hear, or when the phonemes cannot fit."""
        language = LANGUAGES.index(chunk.language)
        frames = self.align_phonemes(
            chunk.ids, language, audio, n_frames, self.codec.reads_phonemes
        )
        return None if frames is None else torch.from_numpy(frames)[None].to(self.device)

    def align_phonemes(
        self, ids: Sequence[int], language: int, audio: np.ndarray, n_frames: int, none_id: int
    ) -> np.ndarray | None:
        """`phoneme_frames` for any LM input ids (their heard symbols, `read_ids`) in language
        id `language` -> [2, n_frames] ids, `none_id` where there is none; None as there.
        recipes/align_phonemes.py labels training utterances with it."""
        reader = self.reader
        target = read_ids(ids, self.frontend.inventory)
        if reader is None or reader.config.source != "mel" or not target or n_frames < 1:
            return None
        mel = reader.log_mel(audio, self.sample_rate)
        with torch.inference_mode():
            lengths = torch.tensor([mel.shape[-1]], device=mel.device)
            log_probs = reader(mel[None], lengths, torch.tensor([language], device=mel.device))
        try:
            index = ctc_align(log_probs[0][0], target, reader.config.blank_id)
        except ConfigError:
            return None
        # reader frames per take frame (the decoder's tempo stretches the audio)
        per_frame = len(audio) * reader.config.sample_rate / self.sample_rate
        per_frame /= reader.config.hop_length * n_frames
        return frame_phonemes(index, target, n_frames, per_frame, none_id)

    def set_phoneme_weight(self, weight: float) -> None:
        """How hard the codec's decoder leans on the text from now on
        (`CodecConfig.phoneme_weight`; the shipped codec's config sets it): higher says the
        words more clearly and the voice a little less like the reference (README, "How hard
        the decoder leans on the text"). A codec whose decoder reads no text refuses it
        (`Codec.set_phoneme_weight`)."""
        self.codec.set_phoneme_weight(weight)

    def warm_up(
        self, languages: Sequence[str] = LANGUAGES, reference: object | None = None
    ) -> float:
        """Pay a fresh process's one-time costs now, so that the first request is as fast as
        the rest; returns the seconds it took. `tts serve` and `tts demo` call it before they
        listen. Without it the first call loads the watermark's network (about 0.8 s, most of
        it importing Perth's librosa), each language's front end, and runs the speaker encoder
        and the LM for the first time: on the 2-core CPU of the README's speed table the first
        streamed piece of a fresh process came after 1.13 s without it and 0.104 s with it
        (`recipes/bench_cold_start.py`, medians of 3; a second request's 0.098 / 0.095 s).

        It loads the watermark's network, then speaks one short sentence in each of
        `languages` in `reference`'s voice (None: the model's stored voice). A model with
        no stored voice and no `reference` warms only the watermark and the front ends."""
        start = time.perf_counter()
        languages = [check_language(lang) for lang in languages]
        default_watermarker().load()
        for lang in languages:
            if reference is None and not self.voices:
                self.frontend.process(WARM_UP_TEXT[lang], lang)
            else:
                self.synthesize(WARM_UP_TEXT[lang], reference=reference, language=lang, seed=0)
        took = time.perf_counter() - start
        log.info("warmed up in %.2f s (%s)", took, ", ".join(languages) or "no language")
        return took

    def synthesize_to_file(self, path: str | Path, text: str, **kwargs: Any) -> Path:
        """`synthesize` and write the result (format from the suffix: .wav, .flac, .ogg)."""
        return self.synthesize(text, **kwargs).save(path)

    def stream(
        self,
        text: str,
        reference: object | None = None,
        language: str = "en",
        emotion: str | None = None,
        intensity: float | None = None,
        style_reference: object | None = None,
        speed: float = 1.0,
        seed: int | None = None,
        sampling: SamplingConfig | None = None,
        watermark: bool = True,
        chunk_frames: int | None = None,
        min_chunk_ms: float = 160.0,
        pitch_range: float | None = None,
        label_prosody: bool = True,
        speaker_contrast: float | None = None,
    ) -> Iterator[np.ndarray]:
        """Yield float32 audio pieces at `sample_rate` while the LM generates.

        A piece is released once `chunk_frames` new frames are decodable and at least
        `min_chunk_ms` of audio is ready (short pieces would watermark and stretch badly).
        The default `chunk_frames` is the fewest that make the first piece that long.
        `pitch_range`, `label_prosody` and `speaker_contrast` work as in `synthesize`.
        """
        pieces = self._stream(
            text, reference, language, emotion, intensity, style_reference, speed, seed,
            sampling, watermark, chunk_frames, min_chunk_ms, pitch_range, label_prosody,
            speaker_contrast,
        )  # fmt: skip
        while True:
            # The thread setting holds while this generator works, not while the caller does.
            with compute_threads(self.threads):
                piece = next(pieces, None)
            if piece is None:
                return
            yield piece

    def _stream(
        self, text, reference, language, emotion, intensity, style_reference, speed, seed,
        sampling, watermark, chunk_frames, min_chunk_ms, pitch_range, label_prosody,
        speaker_contrast,
    ) -> Iterator[np.ndarray]:  # fmt: skip
        chunks, cond, sampling, timbre, decoder_voice, _ = self._prepare(
            text, reference, language, emotion, intensity, style_reference, speed, sampling,
            speaker_contrast,
        )  # fmt: skip
        pitch, extra = self._label_controls(
            emotion, intensity, style_reference, pitch_range, label_prosody
        )
        decoder_tempo, rate = self._tempo_split(speed * extra.tempo)
        seeds = self._seeds(seed, len(chunks))
        joiner = SegmentJoiner(self.sample_rate, self.config.crossfade_ms, self.config.pause_ms)
        shape = timbre.stream() if timbre is not None else None  # one state for every piece
        min_samples = int(self.sample_rate * min_chunk_ms / 1000)
        if chunk_frames is None:
            # The decoder holds back its lookahead frames and the joiner its cross-fade.
            held_ms = min_chunk_ms + self.config.crossfade_ms
            lookahead = decoder_context_frames(self.codec)[1]
            chunk_frames = lookahead + math.ceil(held_ms * self.codec.frame_rate / 1000)
        pending: list[np.ndarray] = []
        first = True

        def ready(force: bool = False) -> np.ndarray | None:
            nonlocal first
            size = sum(p.size for p in pending)
            if size == 0 or (size < min_samples and not force):
                return None
            wav = np.concatenate(pending)
            pending.clear()
            # Every piece is marked. The check that the mark took is skipped on the first
            # piece only: the listener is waiting on it, while later pieces come faster than
            # they play, so their check costs no waiting.
            out = self._finish(
                wav, rate, watermark, verify=not first, gain_db=extra.gain_db, timbre=shape
            )
            first = False
            return out

        for chunk, chunk_seed in zip(chunks, seeds, strict=True):
            pending.append(joiner.start_segment())
            decoder = StreamingDecoder(
                self.codec,
                pitch_range=pitch,
                tempo=decoder_tempo,
                pitch_shift=extra.f0_shift_st,
                speaker=decoder_voice,
            )
            for part in generate_stream(
                self.lm,
                [self._phonemes(chunk)],
                cond,
                sampling,
                seed=[chunk_seed],
                chunk_frames=chunk_frames,
                compile=self.compile,
            ):
                pending.append(joiner.push(decoder.push(self._codec_codes(part.codes[0]))))
                if (out := ready()) is not None:
                    yield out
            pending.append(joiner.push(decoder.flush()))
        pending.append(joiner.finish())
        if (out := ready(force=True)) is not None:
            yield out


class KeptTake(NamedTuple):
    """The take synthesis keeps of a chunk (`Synthesizer._best_take`)."""

    result: GenerationResult
    audio: np.ndarray
    reader_score: float | None = None  # None: no reader chose (one take)
    voice_similarity: float | None = None  # None: the voice did not choose


def pick_take(scores: Sequence[float], stopped: Sequence[bool]) -> int:
    """The take the reader keeps: one that stopped by itself before one cut at its frame cap,
    then the reader's lowest score, then the first."""
    return min(range(len(scores)), key=lambda i: (not stopped[i], scores[i], i))


def takes_within(scores: Sequence[float], stopped: Sequence[bool], margin: float) -> list[int]:
    """The takes the voice may choose among: the reader's pick (`pick_take`) first, then every
    other take that stopped as it did and that the reader scores at most `margin` worse, in
    order. `margin` 0: the reader's pick alone."""
    best = pick_take(scores, stopped)
    if margin <= 0:
        return [best]
    limit = scores[best] + margin
    others = [
        i for i in range(len(scores))
        if i != best and stopped[i] == stopped[best] and scores[i] <= limit
    ]  # fmt: skip
    return [best, *others]


def closest_to_voice(cosines: Sequence[float]) -> int:
    """Which of the takes `takes_within` gives (their cosines to the voice, in its order) the
    voice keeps: the highest cosine; on a tie, the earlier, so the reader's pick first."""
    return max(range(len(cosines)), key=lambda j: (cosines[j], -j))


def check_reader(reader: UnitReader, lm: CodecLM, codec: Codec, inventory: SymbolInventory) -> None:
    """Raise CheckpointError unless `reader` can read this pipeline's takes."""
    rc = reader.config
    if rc.vocab_size < len(inventory):
        raise CheckpointError(
            f"the unit reader knows {rc.vocab_size} symbols but the inventory has {len(inventory)}"
        )
    if rc.source == "units" and not lm.config.n_semantic:
        raise CheckpointError("a units reader needs an LM that predicts semantic units")
    if rc.source == "codes" and (rc.n_streams, rc.n_units) != (
        codec.n_codebooks,
        codec.codebook_size,
    ):
        raise CheckpointError(
            f"the codes reader reads {rc.n_streams} codebooks of {rc.n_units} but the codec "
            f"has {codec.n_codebooks} of {codec.codebook_size}"
        )
    if 0 < codec.reads_phonemes < len(inventory):
        raise CheckpointError(
            f"the codec's decoder reads {codec.reads_phonemes} phoneme symbols but the "
            f"inventory has {len(inventory)}"
        )


def stretch(wav: np.ndarray, rate: float) -> np.ndarray:
    """Time-stretch (rate > 1: faster) with the pitch kept, at the input's loudness.

    librosa's phase vocoder leaves the phases of neighbouring bins out of step, and their
    partial cancellation costs 3-4 dB of level on speech at any rate other than 1 (measured:
    -3.4 dB at 0.95, -3.0 at 1.11); the output is scaled back to the input's RMS."""
    import librosa

    out = librosa.effects.time_stretch(wav, rate=rate).astype(np.float32)
    rms_in, rms_out = (float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) for x in (wav, out))
    if rms_out > 0.0:
        out *= np.float32(rms_in / rms_out)
    return out


def random_synthesizer(
    lm_preset: str = "tiny",
    codec_preset: str = "tiny",
    *,
    style_encoder: bool = True,
    max_frames_per_phoneme: float = 0.5,
    max_frames_offset: int = 8,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> Synthesizer:
    """A complete pipeline with random LM, codec and style weights, for tests and speed
    benchmarks (its speech is noise). The frame cap is small by default because a random LM
    rarely predicts the end of speech; ~2.5 frames a phoneme gives realistic lengths at 25 Hz.
    """
    from tts.model import LMConfig
    from tts.speakers import StyleEncoderConfig

    torch.manual_seed(seed)
    inventory = SymbolInventory.default()
    codec = load_codec(f"koe-{codec_preset}", pretrained=False, device=device)
    config = LMConfig.preset(
        lm_preset,
        vocab_size=len(inventory),
        pad_id=inventory.pad_id,
        codebook_size=codec.codebook_size,
        n_codebooks=codec.n_codebooks,
        max_frames_per_phoneme=max_frames_per_phoneme,
        max_frames_offset=max_frames_offset,
    )
    style = None
    if style_encoder:
        small = StyleEncoderConfig(conv_channels=(16, 16, 32), gru_size=32, n_tokens=4)
        style = StyleEncoder(small).to(device)
    voice = torch.nn.functional.normalize(torch.randn(256), dim=0)
    return Synthesizer(
        CodecLM(config).to(device),
        codec,
        TextFrontend(inventory=inventory),
        load_speaker_encoder("resemblyzer", device=device),
        style,
        voices={"default": voice},
        config=PipelineConfig(
            style_encoder="style_encoder" if style_encoder else None,
            sampling=SamplingConfig(temperature=0.9, top_k=50),
        ),
    )


def stream_to_array(pieces: Sequence[np.ndarray] | Iterator[np.ndarray]) -> np.ndarray:
    """Concatenate streamed pieces (convenience for tests and the CLI)."""
    parts = list(pieces)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


__all__ = [
    "MaxLengthWarning",
    "PipelineConfig",
    "SegmentInfo",
    "Synthesizer",
    "random_synthesizer",
    "stream_to_array",
]
