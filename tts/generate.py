"""Autoregressive generation of codec frames with a KV cache (gpt-fast style).

One top-to-bottom loop (`generate_stream`): prefill the cache with the prefixes, then one step
per delayed frame: logits -> classifier-free guidance -> stop rules -> sampling filters ->
sample -> force the delay structure (BOS / EOS / PAD) -> yield finished frames. `generate`
collects the stream into per-item codes.

Determinism: every item draws its random numbers from its own `torch.Generator`, the same
number of draws per step whatever the batch, so an item gives the same codes alone or in a
batch (prefixes are left-padded with a key mask; see tts/model.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from tts.conditioning import Conditioning
from tts.delay import undo_delay
from tts.errors import ConfigError, TextError
from tts.labels import EMOTIONS
from tts.model import CodecLM, ConditionDrop, ConditioningError, frozen_copies

NEUTRAL = EMOTIONS.index("neutral")


MAX_CANDIDATES = 16  # takes per chunk; each one costs a full generation


class MaxLengthWarning(UserWarning):
    """An item reached its frame cap without predicting EOS (its audio may be cut off)."""


@dataclass
class SamplingConfig:
    temperature: float = 1.0  # 0 = greedy
    # The semantic-unit stream(s) of an LM that predicts them (LMConfig.n_semantic): they carry
    # what is said, so a cooler draw there trades variety for intelligibility while the codec
    # streams keep `temperature`. None = `temperature`; 0 = greedy units.
    unit_temperature: float | None = None
    top_k: int = 0  # keep the k most likely codes; 0 = off
    top_p: float = 1.0  # keep the smallest set of codes with probability >= p; 1 = off
    repetition_penalty: float = 1.0  # > 1 discourages codes seen in the recent window; 1 = off
    repetition_window: int = 32  # steps of each codebook's history the penalty looks at
    # Classifier-free guidance, logits_uncond + s * (logits - logits_uncond); 1 = off (no
    # extra pass). The unconditional pass drops speaker, style and emotion, and the text too
    # in an LM trained with a null text (LMConfig.null_text), which then also sharpens how
    # closely the speech follows its text.
    cfg_scale: float = 1.0
    # What that unconditional pass drops: "all" (speaker, style, emotion, and the text in a
    # null-text LM) or only the "text" (a null-text LM): voice and emotion then stay out of
    # the guidance, which pushes towards the text alone.
    cfg_drop: str = "all"
    # Emotion guidance: also run each text as neutral (intensity 0) and push the logits away
    # from it, logits + (g - 1) * (emotional - neutral). Strengthens what the emotion label
    # changes; no effect on neutral items; 1 = off (no extra pass).
    emotion_guidance: float = 1.0
    # Speaker guidance: also run each text with the speaker embedding dropped (its learned
    # null) and push the logits towards the voice, logits + (g - 1) * (with - without).
    # Continued training leans on the audio so far more than on the embedding, so the voice
    # drifts towards an average one; this amplifies what the embedding alone changes.
    # 1 = off (no extra pass).
    speaker_guidance: float = 1.0
    # Takes sampled per sentence chunk by `Synthesizer.synthesize` when its model has a unit
    # reader (tts.reader): the take the reader hears saying the text best (in its units, or in
    # the codec's codes of its decoded audio) is kept. 1 = one take (no reader pass). The LM
    # itself draws one take per item; streaming speaks the first take as it comes.
    candidates: int = 1
    # With several takes: among those the reader scores at most this much worse than its best
    # (CTC loss per phoneme), keep the one whose voice the speaker encoder finds closest to
    # the reference. The reader's ranking of takes it scores alike says little about which
    # reads clearer, while two takes of one chunk differ by about 0.02 in speaker similarity
    # (median; up to 0.07). 0 = the reader alone decides (no speaker-encoder pass).
    voice_margin: float = 0.0

    def __post_init__(self) -> None:
        if self.temperature < 0 or not math.isfinite(self.temperature):
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        unit = self.unit_temperature
        if unit is not None and (isinstance(unit, bool) or unit < 0 or not math.isfinite(unit)):
            raise ConfigError(f"unit_temperature must be >= 0 or None, got {unit}")
        if self.top_k < 0:
            raise ConfigError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must lie in (0, 1], got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ConfigError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.repetition_window < 1:
            raise ConfigError(f"repetition_window must be >= 1, got {self.repetition_window}")
        if self.cfg_scale < 0:
            raise ConfigError(f"cfg_scale must be >= 0, got {self.cfg_scale}")
        if self.cfg_drop not in ("all", "text"):
            raise ConfigError(f"cfg_drop must be 'all' or 'text', got {self.cfg_drop!r}")
        if self.emotion_guidance < 0 or not math.isfinite(self.emotion_guidance):
            raise ConfigError(f"emotion_guidance must be >= 0, got {self.emotion_guidance}")
        if self.speaker_guidance < 0 or not math.isfinite(self.speaker_guidance):
            raise ConfigError(f"speaker_guidance must be >= 0, got {self.speaker_guidance}")
        margin = self.voice_margin
        if (
            isinstance(margin, bool)
            or not isinstance(margin, (int, float))
            or not (margin >= 0 and math.isfinite(margin))
        ):
            raise ConfigError(f"voice_margin must be a finite number >= 0, got {margin}")
        takes = self.candidates
        if (
            isinstance(takes, bool)
            or not isinstance(takes, int)
            or not 1 <= takes <= MAX_CANDIDATES
        ):
            raise ConfigError(
                f"candidates must be an integer in [1, {MAX_CANDIDATES}], got {self.candidates}"
            )


@dataclass
class GenerationResult:
    codes: torch.Tensor  # [K, F] codec codes, delay undone
    stopped: bool  # True: the model predicted EOS; False: cut at the frame cap

    @property
    def n_frames(self) -> int:
        return int(self.codes.shape[1])


@dataclass
class StreamChunk:
    codes: list[torch.Tensor]  # per item, the frames [K, n] completed since the last chunk
    finished: list[bool]  # per item, no more frames will come
    stopped: list[bool]  # per item, EOS was predicted (False while running or when capped)


# ----- sampling filters (logits [..., V] -> logits) -----------------------------------------


def apply_repetition_penalty(
    logits: torch.Tensor, history: torch.Tensor, penalty: float, n_codes: int
) -> torch.Tensor:
    """Make codes in `history` [..., W] less likely: positive logits / penalty, negative * it.

    Only real codes (< n_codes) count; special ids in the history are ignored.
    """
    if penalty == 1.0 or history.shape[-1] == 0:
        return logits
    dump = logits.shape[-1]  # special ids are scattered into an extra column, then dropped
    index = torch.where(history < n_codes, history, torch.full_like(history, dump))
    seen = torch.zeros(*logits.shape[:-1], dump + 1, dtype=torch.bool, device=logits.device)
    seen = seen.scatter(-1, index, True)[..., :dump]
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the k largest logits of each row (others -inf); k <= 0 or >= V: unchanged."""
    if k <= 0 or k >= logits.shape[-1]:
        return logits
    keep = torch.zeros_like(logits, dtype=torch.bool)
    keep.scatter_(-1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, -math.inf)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely ids whose probability sums to >= p."""
    if p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    before = probs.cumsum(-1) - probs  # mass of the strictly more likely ids
    drop_sorted = before >= p  # the set is already complete without this id
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, -math.inf)


def codebook_temperatures(
    sampling: SamplingConfig, n_codebooks: int, n_semantic: int
) -> list[float]:
    """The temperature of each codebook: `unit_temperature` for the first `n_semantic`."""
    unit = sampling.temperature if sampling.unit_temperature is None else sampling.unit_temperature
    return [unit if k < n_semantic else sampling.temperature for k in range(n_codebooks)]


def sample_codes(
    logits: torch.Tensor,
    sampling: SamplingConfig,
    generators: list[torch.Generator] | None,
    temperatures: Sequence[float] | None = None,
) -> torch.Tensor:
    """One code per row of logits [B, K, V] -> [B, K]; greedy where the temperature is 0.

    `temperatures`: one per codebook (default: `sampling.temperature` for all). Sampling
    draws exponential noise per item from its own generator: argmax(p / q) with q ~ Exp(1)
    picks id i with probability p_i, and ids filtered to p = 0 are never picked. The noise is
    drawn for every codebook, greedy ones too, so an item's draws do not depend on them.

    With top-k on, the filters and the draw run on the k kept ids only (`topk` returns them
    sorted, so top-p sorts k values, not the vocabulary): the same codes as filtering all V
    ids, in less time (1001 codes, three takes: 1.0 -> 0.7 ms a step on the 2-core CPU, where
    the decoding step itself takes 8-10 ms). The noise is still drawn for all V ids (most of
    the remaining time) and read at the kept ones, so each id keeps its own noise: a draw
    does not move when logits that tie swap places in the top k (as float16-rounded or int8
    weights make them do), and seeds give the codes they gave before this shortcut.
    """
    temps = [sampling.temperature] * logits.shape[1] if temperatures is None else temperatures
    if len(temps) != logits.shape[1]:
        raise ConfigError(f"{len(temps)} temperatures for {logits.shape[1]} codebooks")
    if all(t == 0 for t in temps):
        return logits.argmax(-1)
    scale = torch.tensor([t if t > 0 else 1.0 for t in temps], device=logits.device)
    scaled = logits / scale[:, None]
    ids = None  # the vocabulary ids of the columns drawn from (None: all of them)
    if 0 < sampling.top_k < scaled.shape[-1]:
        scaled, ids = scaled.topk(sampling.top_k, dim=-1)
    probs = top_p_filter(scaled, sampling.top_p).softmax(-1)
    assert generators is not None and len(generators) == probs.shape[0]
    noise = torch.stack(
        [
            torch.empty_like(row).exponential_(generator=g)
            for row, g in zip(logits, generators, strict=True)
        ]
    )
    if ids is None:
        sampled = (probs / noise).argmax(-1)
    else:
        sampled = ids.gather(-1, (probs / noise.gather(-1, ids)).argmax(-1, keepdim=True))[..., 0]
    if all(t > 0 for t in temps):  # the usual case: no greedy codebook to put back
        return sampled
    is_greedy = torch.tensor([t == 0 for t in temps], device=logits.device)
    return torch.where(is_greedy, logits.argmax(-1), sampled)


# ----- the generation loop ------------------------------------------------------------------


def pad_phonemes(
    phonemes: Sequence[torch.Tensor], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A list of 1-D phoneme id tensors -> padded ids [B, N] and lengths [B]."""
    if len(phonemes) == 0:
        raise TextError("no texts to generate")
    for i, ids in enumerate(phonemes):
        if not isinstance(ids, torch.Tensor) or ids.dim() != 1 or ids.numel() == 0:
            raise TextError(f"text {i}: phonemes must be a non-empty 1-D tensor of symbol ids")
    lengths = torch.tensor([len(ids) for ids in phonemes])
    padded = torch.full((len(phonemes), int(lengths.max())), pad_id, dtype=torch.long)
    for i, ids in enumerate(phonemes):
        padded[i, : len(ids)] = ids.long()
    return padded, lengths


def _generators(seed: int | Sequence[int] | None, batch: int, device) -> list[torch.Generator]:
    if seed is None:  # still reproducible under torch.manual_seed
        seeds = [int(s) for s in torch.randint(0, 2**62, (batch,))]
    elif isinstance(seed, int):
        seeds = [seed + i for i in range(batch)]  # item i of a batch = seed + i alone
    else:
        seeds = [int(s) for s in seed]
        if len(seeds) != batch:
            raise ConfigError(f"got {len(seeds)} seeds for {batch} texts; give one per text")
    return [torch.Generator(device=device).manual_seed(s) for s in seeds]


def _decode_fn(model: CodecLM, compile: bool):
    if not compile:
        return model.decode_step
    if getattr(model, "_compiled_decode_step", None) is None:
        model._compiled_decode_step = torch.compile(model.decode_step, dynamic=False)
    return model._compiled_decode_step


@torch.inference_mode()
def generate_stream(
    model: CodecLM,
    phonemes: Sequence[torch.Tensor],
    cond: Conditioning,
    sampling: SamplingConfig | None = None,
    *,
    seed: int | Sequence[int] | None = None,
    max_frames: int | None = None,
    min_frames: int = 1,
    chunk_frames: int = 8,
    compile: bool = False,
) -> Iterator[StreamChunk]:
    """Generate codes for a batch of texts, yielding newly completed frames as they come.

    `phonemes`: one 1-D id tensor per text; `cond`: a batch of the same size. A chunk comes
    whenever an item has `chunk_frames` new frames, an item finishes, or all are done.
    `max_frames` overrides the per-text cap `model.config.max_frames(n_phonemes)`; an item
    cut at its cap has stopped=False and raises a `MaxLengthWarning`. `seed`: one per text,
    or an int (text i uses seed + i), or None (seeds drawn from torch's global RNG).
    `compile=True` runs the decode step through `torch.compile` (worth it on GPUs).
    """
    sampling = sampling or SamplingConfig()
    config, special = model.config, model.config.special
    device = next(model.parameters()).device
    n_cb = config.n_codebooks
    ids, lengths = pad_phonemes(phonemes, config.pad_id)
    batch = ids.shape[0]
    if cond.batch_size != batch:
        raise ConditioningError(f"{batch} texts but a conditioning batch of {cond.batch_size}")
    if chunk_frames < 1 or min_frames < 1 or (max_frames is not None and max_frames < 1):
        raise ConfigError("chunk_frames, min_frames and max_frames must be >= 1")

    # Frame caps, and the cache columns: prefix + BOS frame + one column per later step.
    n_prefix = ids.shape[1] + 4
    tail = max(n_cb - 2, 0)  # steps after codebook 0's EOS until the last frame completes
    room = config.max_seq_len - n_prefix - 1 - tail
    if room < 1:
        raise TextError(f"text of {ids.shape[1]} phonemes leaves no room for audio")
    caps = [config.max_frames(int(n)) if max_frames is None else max_frames for n in lengths]
    caps_t = torch.tensor([min(c, room) for c in caps], device=device)  # the cap wins over min
    n_steps = int(caps_t.max()) + tail + 1

    # Guidance runs the texts again under other conditions, as more rows of the batch:
    # classifier-free guidance with every condition dropped (and the text, when the LM has a
    # null text), emotion guidance as neutral, speaker guidance without the speaker.
    cond = cond.to(device)
    emotional = bool(((cond.intensity != 0) & (cond.emotion != NEUTRAL)).any())
    use_cfg = sampling.cfg_scale != 1.0
    use_emotion = sampling.emotion_guidance != 1.0 and emotional
    use_speaker = sampling.speaker_guidance != 1.0
    conds, drops = [cond], [ConditionDrop.none(batch, device)]
    if use_cfg:
        conds.append(cond)
        if sampling.cfg_drop == "text":
            if not config.null_text:
                raise ConfigError("cfg_drop='text' needs an LM trained with a null text")
            drops.append(ConditionDrop.only(batch, device, "text"))
        else:
            drops.append(ConditionDrop.all(batch, device, text=config.null_text))
    if use_emotion:
        conds.append(dataclasses.replace(cond, intensity=torch.zeros_like(cond.intensity)))
        drops.append(ConditionDrop.none(batch, device))
    if use_speaker:
        conds.append(cond)
        drops.append(ConditionDrop.only(batch, device, "speaker"))
    n_pass = len(conds)
    rows_ids, rows_len = ids.to(device).repeat(n_pass, 1), lengths.to(device).repeat(n_pass)
    rows_cond, drop = Conditioning.cat(conds), ConditionDrop.cat(drops)

    temperatures = codebook_temperatures(sampling, n_cb, config.n_semantic)
    generators = _generators(seed, batch, device) if max(temperatures) > 0 else None
    decode = _decode_fn(model, compile)
    cache_len = n_prefix + n_steps
    if compile:  # bucket the cache length so other text lengths reuse the compiled step
        cache_len = min(config.max_seq_len, -(-cache_len // 256) * 256)
    was_training = model.training
    model.eval()
    model.setup_cache(rows_ids.shape[0], cache_len, fixed_shape=compile)
    frozen = contextlib.ExitStack()
    try:
        if not compile:  # the weights cannot change mid-generation: skip the layers' checks
            frozen.enter_context(frozen_copies(model))
        logits = model.prefill(rows_ids, rows_len, rows_cond, drop)
        history = torch.full((batch, n_cb, n_steps), special.pad, dtype=torch.long, device=device)
        never = n_steps + 1
        end = torch.full((batch,), never, dtype=torch.long, device=device)  # step of EOS
        stopped = torch.zeros(batch, dtype=torch.bool, device=device)
        emitted = [0] * batch
        was_finished = [False] * batch
        codebook = torch.arange(n_cb, device=device)
        for t in range(n_steps):
            if t > 0:
                frame_in = history[:, :, t - 1]
                column = torch.tensor([n_prefix + t], device=device)
                logits = decode(frame_in.repeat(n_pass, 1), column)
            passes = list(logits.float().chunk(n_pass))
            logits = cond_logits = passes.pop(0)
            if use_cfg:
                uncond_logits = passes.pop(0)
                logits = uncond_logits + sampling.cfg_scale * (cond_logits - uncond_logits)
            if use_emotion:
                neutral_logits = passes.pop(0)
                logits = logits + (sampling.emotion_guidance - 1) * (cond_logits - neutral_logits)
            if use_speaker:
                voiceless_logits = passes.pop(0)
                logits = logits + (sampling.speaker_guidance - 1) * (cond_logits - voiceless_logits)

            # Only codebook 0 decides the end (the others follow the delay pattern), and not
            # before min_frames.
            logits[:, 1:, special.eos] = -math.inf
            if t < min_frames:
                logits[:, 0, special.eos] = -math.inf
            window = history[:, :, max(0, t - sampling.repetition_window) : t]
            logits = apply_repetition_penalty(
                logits, window, sampling.repetition_penalty, config.codebook_size
            )
            frame = sample_codes(logits, sampling, generators, temperatures)

            # End of utterance: EOS sampled on codebook 0, or forced at the cap (reported).
            running = end == never
            capped = running & (t >= caps_t)
            frame[:, 0] = torch.where(capped, special.eos, frame[:, 0])
            new_end = running & (frame[:, 0] == special.eos)
            stopped |= new_end & ~capped
            end = torch.where(new_end, t, end)

            # Force the delay structure: codebook k holds frame t - k of its item.
            src = t - codebook[None, :]
            frame = torch.where(src < 0, special.bos, frame)
            frame = torch.where(src == end[:, None], special.eos, frame)
            frame = torch.where(src > end[:, None], special.pad, frame)
            history[:, :, t] = frame

            # Frames 0 .. t - K + 1 are complete in every codebook.
            done = torch.minimum(end, torch.tensor(max(t - n_cb + 2, 0), device=device)).tolist()
            ends = end.tolist()
            finished = [d == e for d, e in zip(done, ends, strict=True)]
            newly = [f and not w for f, w in zip(finished, was_finished, strict=True)]
            pending = max(d - e for d, e in zip(done, emitted, strict=True))
            if all(finished) or any(newly) or pending >= chunk_frames:
                codes = []
                for i in range(batch):
                    steps = history[i, :, emitted[i] : done[i] + n_cb - 1]
                    codes.append(undo_delay(steps, done[i] - emitted[i]).cpu())
                    emitted[i] = done[i]
                    if newly[i] and not bool(stopped[i]):
                        warnings.warn(
                            MaxLengthWarning(
                                f"text {i} reached its cap of {int(caps_t[i])} frames without "
                                "an end-of-speech token; its audio may be cut off"
                            ),
                            stacklevel=3,  # past torch.inference_mode's generator wrapper
                        )
                was_finished = finished
                yield StreamChunk(codes, finished, [bool(s) for s in stopped])
            if all(finished):
                break
    finally:
        frozen.close()
        model.clear_cache()
        model.train(was_training)


def generate(
    model: CodecLM,
    phonemes: Sequence[torch.Tensor],
    cond: Conditioning,
    sampling: SamplingConfig | None = None,
    *,
    seed: int | Sequence[int] | None = None,
    max_frames: int | None = None,
    min_frames: int = 1,
    compile: bool = False,
) -> list[GenerationResult]:
    """Generate codes [K, F_i] for each text, with a flag saying whether it stopped by EOS."""
    batch = len(phonemes)
    parts: list[list[torch.Tensor]] = [[] for _ in range(batch)]
    stopped = [False] * batch
    for chunk in generate_stream(
        model,
        phonemes,
        cond,
        sampling,
        seed=seed,
        max_frames=max_frames,
        min_frames=min_frames,
        chunk_frames=1 << 30,
        compile=compile,
    ):
        for i, codes in enumerate(chunk.codes):
            parts[i].append(codes)
        stopped = chunk.stopped
    return [GenerationResult(torch.cat(p, dim=1), s) for p, s in zip(parts, stopped, strict=True)]
