"""Incremental decoding of codec frames and click-free joining of audio segments.

Both one-shot synthesis and streaming go through `SegmentJoiner`, so the two produce the same
samples; `StreamingDecoder` decodes frames as they arrive with enough context on both sides
that each emitted sample equals what decoding the whole sequence would give (exactly, for a
codec whose decoder has a finite receptive field; approximately otherwise).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from tts.codecs.base import Codec
from tts.codecs.source_filter import PitchRange
from tts.errors import ConfigError

DEFAULT_CONTEXT_FRAMES = 16  # for decoders whose receptive field is unknown

# Decoders with a frame transformer see the whole sequence, so no window is exact. Measured on
# the shipped koe-small codec (8 Kokoro clips, chunks of 8 frames), the log-mel L1 distance of
# windowed to whole-sequence decoding is 0.15 with 16 frames each side, 0.16 with 32 before
# and 4 after, 0.20 with 16 before and 4 after (the codec's own error against its input:
# 1.10). Frames before cost only compute; frames after are latency (40 ms each at 25 Hz), so
# 32/4 keeps nearly all of 16/16's fidelity for 12 frames (480 ms) less waiting.
ATTENTION_CONTEXT_FRAMES = (32, 4)


def decoder_context_frames(codec: Codec) -> tuple[int, int]:
    """Frames of context (before, after) each decoded window needs to match full decoding."""
    cfg = getattr(getattr(codec, "model", None), "cfg", None)
    if cfg is None or not hasattr(cfg, "decoder_frame_blocks"):
        return DEFAULT_CONTEXT_FRAMES, DEFAULT_CONTEXT_FRAMES
    if getattr(cfg, "decoder_transformer_layers", 0):
        return ATTENTION_CONTEXT_FRAMES
    # Koe decoder: stem conv (k7) and frame-rate ConvNeXt blocks (k7) reach 3 frames each;
    # the transposed-conv upsampling ~1 frame; STFT-rate blocks 3 STFT frames each; the
    # inverse STFT window half a window. Rounded up, plus one frame of margin.
    stft_per_frame = cfg.decoder_upsample
    reach = 3 + 3 * cfg.decoder_frame_blocks + 1
    reach += math.ceil(3 * cfg.decoder_blocks / stft_per_frame)
    reach += math.ceil(cfg.istft_n_fft / (2 * cfg.hop)) + 1
    if getattr(cfg, "decoder_kind", "istft") == "source_filter":
        # The sources are analysed by a forward STFT (another half window) from F0 that is
        # interpolated between STFT frames (one more frame).
        reach += math.ceil(cfg.istft_n_fft / (2 * cfg.hop)) + 1
    return int(reach), int(reach)


class StreamingDecoder:
    """Feed code frames [K, n] as they are generated; get back the audio that is final.

    `context` = (frames before, frames after) each decoded window (default: what the codec
    needs, `decoder_context_frames`); a frame's audio comes once the frames after it exist.
    `pitch_range` widens (> 1) or flattens (< 1) the intonation, `pitch_shift` (semitones)
    moves it, and `tempo` speaks faster (> 1) or slower (a source-filter codec only; see
    `PitchRange`, `KoeCodec.decode_window`). `speaker`: the voice's embedding, for a decoder
    that reads one (`Codec.reads_speaker`).
    """

    def __init__(
        self,
        codec: Codec,
        context: tuple[int, int] | None = None,
        pitch_range: float = 1.0,
        tempo: float = 1.0,
        pitch_shift: float = 0.0,
        speaker: torch.Tensor | None = None,
    ) -> None:
        self.codec = codec
        # the voice's embedding, for a decoder that reads one (codecs without: called as before)
        self.voice = {} if speaker is None else {"speaker": speaker}
        self.before, self.after = decoder_context_frames(codec) if context is None else context
        if self.before < 0 or self.after < 0:
            raise ConfigError(f"context frames must be >= 0, got {(self.before, self.after)}")
        self.frames: list[torch.Tensor] = []
        self.n_frames = 0
        self.emitted = 0  # frames whose audio has been returned
        # A source-filter decoder makes its own harmonics: each window continues the phase the
        # audio already sent ended with (else every seam would be a phase jump: a click).
        self.chain_phase = bool(getattr(codec, "continues_phase", False))
        self.phase = 0.0  # the fundamental's phase where the emitted audio ends
        pitch = PitchRange(pitch_range, pitch_shift)
        self.pitch = None if pitch.is_identity else pitch
        if self.pitch is not None and not getattr(codec, "controls_pitch", False):
            raise ConfigError(f"a pitch range needs a source-filter Koe codec, not {codec.name!r}")
        self.tempo = float(tempo)
        hop = codec.samples_per_frame_at(self.tempo)  # output samples per code frame
        if hop is None:
            raise ConfigError(
                f"codec {codec.name!r} cannot decode at tempo {tempo}: stretch the audio"
            )
        self.hop = hop

    def _decode_until(self, ready: int) -> np.ndarray:
        if ready <= self.emitted:
            return np.zeros(0, dtype=np.float32)
        codes = torch.cat(self.frames, dim=1) if len(self.frames) > 1 else self.frames[0]
        self.frames = [codes]
        start = max(0, self.emitted - self.before)
        end = min(self.n_frames, ready + self.after)
        hop = self.hop
        if self.chain_phase:
            window = codes[None, :, start:end]
            wav_t, phases = self.codec.decode_window(
                window,
                start,
                self.emitted - start,
                self.phase,
                pitch=self.pitch,
                observe=(self.emitted - start, ready - start),
                tempo=self.tempo,
                **self.voice,
            )
            self.phase = float(phases[ready - start])  # where the next window takes over
            wav = wav_t[0].cpu().numpy()
        else:
            window = codes[None, :, start:end]
            wav = self.codec.decode(window, **self.voice)[0].cpu().numpy()
        out = wav[(self.emitted - start) * hop : (ready - start) * hop]
        self.emitted = ready
        return out.astype(np.float32)

    def push(self, codes: torch.Tensor) -> np.ndarray:
        """Add frames [K, n]; return audio for the frames no later frame can change."""
        if codes.shape[-1]:
            self.frames.append(codes)
            self.n_frames += int(codes.shape[-1])
        return self._decode_until(self.n_frames - self.after)

    def flush(self) -> np.ndarray:
        """The sequence is complete: return the rest of its audio."""
        if not self.frames:
            return np.zeros(0, dtype=np.float32)
        return self._decode_until(self.n_frames)


class SegmentJoiner:
    """Concatenate segments (sentences) with a short equal-power cross-fade between them.

    Audio is pushed piece by piece; the last `crossfade` samples of a segment are held back
    until the next segment starts (or the stream ends), so pushing pieces gives exactly the
    same samples as pushing whole segments. Nothing is dropped: every input sample ends up in
    the output, overlapped only inside the cross-fade.
    """

    def __init__(self, sample_rate: int, crossfade_ms: float = 20.0, pause_ms: float = 0.0):
        self.crossfade = round(sample_rate * crossfade_ms / 1000)
        self.pause = np.zeros(round(sample_rate * pause_ms / 1000), dtype=np.float32)
        t = (np.arange(self.crossfade, dtype=np.float64) + 0.5) / max(1, self.crossfade)
        self.fade_in = np.sin(0.5 * np.pi * t).astype(np.float32)
        self.fade_out = np.cos(0.5 * np.pi * t).astype(np.float32)
        self.tail = np.zeros(0, dtype=np.float32)  # held-back end of the current segment
        self.blend: np.ndarray | None = None  # faded-out tail the new segment's head is mixed into
        self.blended = 0  # how many samples of `blend` already hold the new head
        self.started = False

    def start_segment(self) -> np.ndarray:
        """Begin a new segment; returns audio that became final."""
        out = [self._release_blend()]
        if self.started:
            faded = self.tail * self.fade_out[: len(self.tail)]
            if self.pause.size:  # fade out into a pause instead of overlapping
                out += [faded, self.pause]
            else:
                self.blend, self.blended = faded, 0
            self.tail = np.zeros(0, dtype=np.float32)
        self.started = True
        return np.concatenate(out)

    def push(self, piece: np.ndarray) -> np.ndarray:
        """Add audio to the current segment; returns audio that became final."""
        piece = np.asarray(piece, dtype=np.float32).reshape(-1)
        out = []
        if self.blend is not None:
            n = min(len(self.blend) - self.blended, piece.size)
            span = slice(self.blended, self.blended + n)
            self.blend[span] += piece[:n] * self.fade_in[span]
            self.blended += n
            piece = piece[n:]
            if self.blended == len(self.blend):
                out.append(self._release_blend())
        buffer = np.concatenate([self.tail, piece])
        keep = min(self.crossfade, buffer.size)
        out.append(buffer[: buffer.size - keep])
        self.tail = buffer[buffer.size - keep :]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def finish(self) -> np.ndarray:
        """End of the stream: everything that was held back."""
        out = np.concatenate([self._release_blend(), self.tail])
        self.tail = np.zeros(0, dtype=np.float32)
        return out

    def _release_blend(self) -> np.ndarray:
        out = self.blend if self.blend is not None else np.zeros(0, dtype=np.float32)
        self.blend, self.blended = None, 0
        return out
