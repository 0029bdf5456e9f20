"""The codec-token language model: a decoder-only transformer over [conditioning | phonemes |
codec frames], predicting one (delayed) frame of K codebook codes per step.

Sequence layout of one item:

    [speaker] [style] [emotion] [language] [phoneme_1 .. phoneme_n] [BOS frame] [frame_1 ..]

The BOS frame (every codebook at its BOS id) doubles as the separator between text and audio:
its output predicts the first delayed frame. Architecture as in nanoGPT/gpt-fast: pre-norm
blocks with RMSNorm, RoPE attention through `F.scaled_dot_product_attention`, SwiGLU MLP, no
biases. One input embedding table per codebook (summed per step) and one head per codebook.

Two ways to lay out a batch, giving the same numbers for every real token:
- training (`forward`): items right-padded, plain causal attention (flash-friendly, no mask).
  Pads only ever sit after an item's tokens, so causal attention never reaches them.
- generation (`prefill` / `decode_step`): prefixes left-padded so that all items write their
  audio frames into the same cache column each step; positions are offset per item so RoPE
  sees every item start at position 0, and a key mask hides the left padding.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tts.checkpoint import load_checkpoint, load_state_into, save_checkpoint
from tts.conditioning import SPEAKER_DIM, STYLE_DIM, Conditioning
from tts.config import config_from_dict, config_to_dict
from tts.delay import SpecialCodes
from tts.errors import ConditioningError, ConfigError, TextError
from tts.int8 import bfloat16_native, int8_available, int8_product
from tts.labels import EMOTIONS, LANGUAGES

CHECKPOINT_KIND = "codec_lm"
N_CONDITION_TOKENS = 4  # speaker, style, emotion, language


@dataclass
class LMConfig:
    vocab_size: int = 256  # phoneme symbol inventory size (len(inventory) of tts.text)
    pad_id: int = 0  # phoneme padding id
    codebook_size: int = 1024
    n_codebooks: int = 4  # every predicted stream: n_semantic unit streams + the codec's codes
    # Leading streams that carry semantic units (tts.semantic), not codec codes: predicted
    # first (no delay, and their end token ends the utterance), dropped before decoding.
    n_semantic: int = 0
    d_model: int = 512
    n_layer: int = 8
    n_head: int = 8
    mlp_ratio: float = 8 / 3  # SwiGLU hidden = mlp_ratio * d_model, rounded up to 64
    dropout: float = 0.0
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    max_seq_len: int = 4096  # prefix + frames + K, the largest KV cache
    n_languages: int = len(LANGUAGES)
    n_emotions: int = len(EMOTIONS)
    neutral_emotion: int = EMOTIONS.index("neutral")
    # Generation cap: frames <= max_frames_per_phoneme * n_phonemes + max_frames_offset.
    # At 25 Hz, 10 frames a phoneme is 0.4 s, several times slower than slow speech; at 75 Hz
    # (EnCodec) use ~30. Reaching the cap is reported, never silent.
    max_frames_per_phoneme: float = 10.0
    max_frames_offset: int = 50
    # A learned "no text" embedding that can stand in for every phoneme (ConditionDrop.text):
    # the unconditional pass of classifier-free guidance then drops the text too, so guidance
    # pushes each step towards what the text says and away from what the audio so far alone
    # predicts. Off in models trained before it (their weights have no such vector).
    null_text: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.n_head or (self.d_model // self.n_head) % 2:
            raise ConfigError(
                f"d_model={self.d_model} must split into n_head={self.n_head} heads of even size"
            )
        for name in ("vocab_size", "codebook_size", "n_codebooks", "n_layer", "max_seq_len"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"LMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.n_semantic < self.n_codebooks:
            raise ConfigError(
                f"n_semantic={self.n_semantic} must leave at least one of the "
                f"{self.n_codebooks} codebooks for the codec"
            )
        if not 0 <= self.pad_id < self.vocab_size:
            raise ConfigError(f"pad_id={self.pad_id} is outside vocab_size={self.vocab_size}")
        if not 0 <= self.neutral_emotion < self.n_emotions:
            raise ConfigError(f"neutral_emotion={self.neutral_emotion} outside n_emotions")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def mlp_hidden(self) -> int:
        return 64 * math.ceil(self.mlp_ratio * self.d_model / 64)

    @property
    def n_codec_codebooks(self) -> int:
        """The codebooks that go to the codec (after the semantic streams)."""
        return self.n_codebooks - self.n_semantic

    @property
    def special(self) -> SpecialCodes:
        return SpecialCodes(self.codebook_size)

    def max_frames(self, n_phonemes: int) -> int:
        """The generation cap for a text of `n_phonemes` symbols."""
        return int(self.max_frames_per_phoneme * n_phonemes + self.max_frames_offset)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> LMConfig:
        """A named size (`tiny`, `small`, `base`, `large`) with field overrides."""
        if name not in PRESETS:
            raise ConfigError(f"unknown LM preset {name!r}; choose one of {', '.join(PRESETS)}")
        try:
            return replace(cls(**PRESETS[name]), **overrides)
        except TypeError as exc:
            raise ConfigError(f"invalid override for LM preset {name!r}: {exc}") from exc


# Parameter counts with the default 256 symbols, 4 codebooks of 1024 (see docs/design-lm.md):
# tiny ~1.9M (tests, CPU), small ~30M (CPU-trainable), base ~310M and large ~1.0B (GPU).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"d_model": 128, "n_layer": 4, "n_head": 4},
    "small": {"d_model": 512, "n_layer": 8, "n_head": 8},
    "base": {"d_model": 1024, "n_layer": 24, "n_head": 16},
    "large": {"d_model": 1536, "n_layer": 36, "n_head": 16},
}


@dataclass
class ConditionDrop:
    """Per-item flags replacing a condition with its learned null embedding ([B] bool each).

    `text` replaces every phoneme of the item with the null text embedding (the length and
    positions stay); only a model built with `LMConfig.null_text` accepts it set."""

    speaker: torch.Tensor
    style: torch.Tensor
    emotion: torch.Tensor
    text: torch.Tensor

    @staticmethod
    def none(batch: int, device: torch.device | str = "cpu") -> ConditionDrop:
        off = torch.zeros(batch, dtype=torch.bool, device=device)
        return ConditionDrop(off, off, off, off)

    @staticmethod
    def only(batch: int, device: torch.device | str, *names: str) -> ConditionDrop:
        """The named conditions dropped ("speaker", "style", "emotion", "text"), the rest kept."""
        on = torch.ones(batch, dtype=torch.bool, device=device)
        return replace(ConditionDrop.none(batch, device), **dict.fromkeys(names, on))

    @staticmethod
    def all(batch: int, device: torch.device | str = "cpu", text: bool = False) -> ConditionDrop:
        """Every condition dropped; the text too when `text` (a `null_text` model)."""
        on = torch.ones(batch, dtype=torch.bool, device=device)
        return ConditionDrop(on, on, on, on if text else torch.zeros_like(on))

    @staticmethod
    def cat(items: list[ConditionDrop]) -> ConditionDrop:
        return ConditionDrop(
            torch.cat([d.speaker for d in items]),
            torch.cat([d.style for d in items]),
            torch.cat([d.emotion for d in items]),
            torch.cat([d.text for d in items]),
        )


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in float32: bf16 sums of squares lose too much precision. One fused op
        # rather than five: a decoding step runs 17 norms on a few rows, where dispatch is
        # most of the cost (so float32 input, the decoding case, takes the weight in it too).
        if x.dtype == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)
        return F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).type_as(x) * self.weight


class Linear(nn.Linear):
    """An nn.Linear without bias that, outside autograd, multiplies by a kept copy of its
    weight: transposed (float32, bfloat16) or packed (int8).

    Why: a decoding step multiplies a handful of rows (takes x guidance passes), and for so
    few rows F.linear (a GEMM with the weight read transposed) ran 1.5-3x slower on the 2-core
    CPU than x @ W.T with W.T stored contiguously; with the fused RMSNorm, the LM's step
    takes about 10% less time (8.2 -> 7.4 ms, two takes), with the same codes. The copy is
    made on first use and again whenever the weight changes (new storage, or an in-place
    update such as an optimizer step or load_state_dict) or `set_matmul_dtype` is called,
    so training, LoRA and loading still see one weight; it costs the layer's size in memory.
    The product is resolved with the copy (`_make_product`), not on every call, and inside
    `frozen_copies` (generation) the layer calls it unchecked: a step makes 45 products on a
    few rows, where the Python around each costs as much as the kernels' own small work
    (stop 45, the model card).
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features, bias=False)
        self._transposed: torch.Tensor | torch.ScriptObject | None = None
        self._product: Callable[[torch.Tensor], torch.Tensor] | None = None
        self._product_of: tuple | None = None  # what the copy was made from
        self._frozen: Callable[[torch.Tensor], torch.Tensor] | None = None  # frozen_copies
        # Inference only: keep the copy in this dtype (e.g. torch.bfloat16) and multiply in
        # it, returning the input's dtype (`set_matmul_dtype`).
        self.matmul_dtype: torch.dtype | None = None
        # Whether "int8" may quantize this layer's inputs (False: under "int8" it multiplies
        # in bfloat16 on a CPU with bfloat16 instructions, else in its weight's dtype).
        self.int8_inputs = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        product = self._frozen
        if product is None or torch.is_grad_enabled():  # frozen copies serve inference only
            product = self._current_product()
        return F.linear(x, self.weight) if product is None else product(x)

    def _current_product(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """x -> x times the inference copy, made now if missing or stale; None where the
        product must be F.linear's."""
        w = self.weight
        if (torch.is_grad_enabled() and w.requires_grad) or torch.compiler.is_compiling():
            return None  # training, or a compiled step (it picks its own kernels)
        if w.is_inference():  # made under inference_mode: no version counter to key a copy on
            return None
        key = (w.data_ptr(), w._version, self.matmul_dtype, self.int8_inputs)
        if self._product_of != key:
            self._product = self._make_product(w)
            self._product_of = key
        return self._product

    def _make_product(self, w: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """Make the weight's copy for this layer's dtype; return x -> x times it."""
        dtype = self.matmul_dtype or w.dtype
        if dtype == torch.int8:
            if not (w.device.type == "cpu" and int8_available()):
                dtype = w.dtype  # int8 products are a CPU kernel; elsewhere the weight's dtype
            elif not self.int8_inputs:
                dtype = torch.bfloat16 if bfloat16_native() else w.dtype
        if dtype == torch.int8:
            self._transposed, product = int8_product(w)  # an opaque packed copy
            return product
        transposed = self._transposed = w.detach().t().contiguous().to(dtype)

        def product(x: torch.Tensor) -> torch.Tensor:
            if x.dtype == transposed.dtype:
                return x @ transposed
            return (x.to(transposed.dtype) @ transposed).to(x.dtype)

        return product


# The torch dtype of each name in tts.config.LM_MATMUL_DTYPES (what the command lines offer).
MATMUL_DTYPES = {"float32": None, "bfloat16": torch.bfloat16, "int8": torch.int8}


def set_matmul_dtype(module: nn.Module, name: str | None) -> int:
    """Make every `Linear` of `module` multiply in `name`'s dtype at inference ("bfloat16";
    "int8": packed int8 weights on CPU, tts.int8, except layers whose inputs do not survive
    8 bits, `int8_inputs`, which multiply in bfloat16 where the CPU has bfloat16 instructions
    and else in float32), or in its weight's ("float32" or None); returns how many layers it
    set. Why: a decoding step multiplies a few rows by each weight, so it is
    bound by reading the weights. bfloat16 halves that on a CPU with AVX512-BF16 (a 320 ->
    1280 layer on 3 rows: 135 -> 57 us on the AMD EPYC of stop 41, but the whole synthesis
    gained little); int8 quarters it (stop 43: the model card). Both sample other tokens than
    float32. The rest of the step stays in float32."""
    if name is not None and name not in MATMUL_DTYPES:
        raise ConfigError(f"lm_matmul_dtype must be one of {sorted(MATMUL_DTYPES)}, got {name!r}")
    layers = [m for m in module.modules() if isinstance(m, Linear)]
    for layer in layers:  # under "int8", Linear._make_product handles int8_inputs=False
        layer.matmul_dtype = MATMUL_DTYPES[name] if name else None
        # drop the old copy: it is made again (in the new dtype) on the next product
        layer._transposed = layer._product = layer._product_of = layer._frozen = None
    return len(layers)


@contextlib.contextmanager
def frozen_copies(module: nn.Module) -> Iterator[None]:
    """Within this block every `Linear` of `module` multiplies by its inference copy (made on
    entry if missing or stale) without asking, call by call, whether its weight changed or
    which copy it needs; it asks only whether autograd is on. Why: a decoding step calls 45
    layers, and those questions took about 0.15 ms of an 8 ms step on the 2-core CPU (one
    thread; stop 45, the model card). The weights must not change inside it;
    `tts.generate` holds it around its loop. A layer that needs F.linear on entry (autograd
    on, an inference-made weight) keeps all its checks, and a call made with autograd on
    gets them too (a stream left unfinished keeps its block open until it is closed;
    training meanwhile still gets F.linear and its gradients)."""
    layers = [m for m in module.modules() if isinstance(m, Linear)]
    previous = [layer._frozen for layer in layers]
    try:
        for layer in layers:
            layer._frozen = layer._current_product()
        yield
    finally:
        for layer, product in zip(layers, previous, strict=True):
            layer._frozen = product


def rope_tables(head_dim: int, max_len: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables [max_len, head_dim // 2] for rotary position embeddings."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]) of x [B, H, L, D] by per-item angles cos/sin [B, L, D/2]."""
    xf = x.float().unflatten(-1, (-1, 2))
    x0, x1 = xf[..., 0], xf[..., 1]
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    out = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)
    return out.flatten(-2).type_as(x)


class KVCache(nn.Module):
    """Preallocated keys and values [B, H, max_len, D] of one attention layer."""

    def __init__(self, batch: int, n_head: int, max_len: int, head_dim: int, dtype, device):
        super().__init__()
        shape = (batch, n_head, max_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    def update(self, columns: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        self.k.index_copy_(2, columns, k.to(self.k.dtype))
        self.v.index_copy_(2, columns, v.to(self.v.dtype))
        return self.k, self.v


class Attention(nn.Module):
    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.head_dim
        self.qkv = Linear(config.d_model, 3 * config.d_model)
        self.proj = Linear(config.d_model, config.d_model)
        self.dropout = config.dropout
        self.cache: KVCache | None = None
        # Training-only probe (tts.alignment): (heads, first key, end key); when set, forward
        # keeps the raw scores of the first `heads` heads against those keys in probe_scores.
        self.probe: tuple[int, int, int] | None = None
        self.probe_scores: torch.Tensor | None = None

    def forward(self, x, cos, sin, mask=None, cache_columns=None) -> torch.Tensor:
        batch, length, _ = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.n_head, self.head_dim)
        # q and k rotated in one call (a decoding step spends more on dispatch than on math)
        qk = qkv[:, :, :2].permute(0, 2, 3, 1, 4).reshape(batch, 2 * self.n_head, length, -1)
        qk = apply_rope(qk, cos, sin)
        q, k = qk[:, : self.n_head], qk[:, self.n_head :]  # [B, H, L, D] each
        v = qkv[:, :, 2].transpose(1, 2)
        if self.cache is not None and cache_columns is not None:
            k, v = self.cache.update(cache_columns, k, v)
            if mask is not None:  # the mask may cover only the first columns (see _run_cached)
                k, v = k[:, :, : mask.shape[-1]], v[:, :, : mask.shape[-1]]
        if self.probe is not None:
            heads, start, end = self.probe
            keys = k[:, :heads, start:end]
            self.probe_scores = (q[:, :heads] @ keys.transpose(-1, -2)) / math.sqrt(self.head_dim)
        dropout = self.dropout if self.training else 0.0
        if mask is None:  # training layout: plain causal, lets SDPA pick flash attention
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        return self.proj(y.transpose(1, 2).reshape(batch, length, -1))


class SwiGLU(nn.Module):
    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.gate = Linear(config.d_model, config.mlp_hidden)
        self.up = Linear(config.d_model, config.mlp_hidden)
        self.proj = Linear(config.mlp_hidden, config.d_model)
        # Its input, the gated hidden state, has outlier channels (largest value / rms ~22
        # against 4-7 at the other layers' inputs), which int8 products (one scale for the
        # whole input) flatten: nearly all of the held-out cross-entropy that int8 cost the
        # default LM came from these layers (stop 43, the model card). So they stay out of
        # int8: bfloat16 products (8 bits of mantissa per value) where the CPU has them
        # (+0.0004 in all, stop 44), else float32.
        self.proj.int8_inputs = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = Attention(config)
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = SwiGLU(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x, cos, sin, mask=None, cache_columns=None) -> torch.Tensor:
        # Dropout only while training: at inference its call is pure overhead in a step.
        h = self.attn(self.attn_norm(x), cos, sin, mask, cache_columns)
        x = x + (self.drop(h) if self.training else h)
        h = self.mlp(self.mlp_norm(x))
        return x + (self.drop(h) if self.training else h)


class CodecLM(nn.Module):
    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        d, special = config.d_model, config.special
        # Conditioning prefix. Null embeddings stand in for dropped conditions (classifier-free
        # guidance); the learned "no style" vector serves both absent and dropped style.
        self.speaker_proj = nn.Linear(SPEAKER_DIM, d, bias=False)
        self.null_speaker = nn.Parameter(torch.zeros(d))
        self.style_proj = nn.Linear(STYLE_DIM, d, bias=False)
        self.no_style = nn.Parameter(torch.zeros(d))
        self.emotion_emb = nn.Embedding(config.n_emotions, d)
        self.null_emotion = nn.Parameter(torch.zeros(d))
        self.language_emb = nn.Embedding(config.n_languages, d)
        self.phoneme_emb = nn.Embedding(config.vocab_size, d)
        self.null_text = nn.Parameter(torch.zeros(d)) if config.null_text else None
        # Audio: one table per codebook, summed per step; one head per codebook.
        self.code_emb = nn.ModuleList(
            nn.Embedding(special.input_vocab, d) for _ in range(config.n_codebooks)
        )
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(d, config.norm_eps)
        self.heads = nn.ModuleList(
            Linear(d, special.output_vocab) for _ in range(config.n_codebooks)
        )
        # Plain attributes, not buffers: `model.to(bfloat16)` must not round the angles.
        self.rope_cos, self.rope_sin = rope_tables(
            config.head_dim, config.max_seq_len, config.rope_base
        )
        # Generation state (see setup_cache): left padding of each item, as a key mask.
        self.key_valid: torch.Tensor | None = None
        self.left_pad: torch.Tensor | None = None
        self.fixed_shape = False
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") and "blocks" in name:  # residual projections
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        for p in (self.null_speaker, self.no_style, self.null_emotion, self.null_text):
            if p is not None:
                nn.init.normal_(p, mean=0.0, std=0.02)

    def rope(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 cos and sin [B, L, head_dim / 2] at positions [B, L]."""
        if self.rope_cos.device != positions.device:
            self.rope_cos = self.rope_cos.to(positions.device)
            self.rope_sin = self.rope_sin.to(positions.device)
        return self.rope_cos[positions], self.rope_sin[positions]

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ----- inputs -----------------------------------------------------------------------------

    def check_inputs(
        self, phonemes: torch.Tensor, phoneme_lengths: torch.Tensor, cond: Conditioning
    ) -> None:
        """Raise a typed error naming the problem with a batch of inputs."""
        c = self.config
        if phonemes.dim() != 2 or phonemes.dtype != torch.long:
            raise TextError(
                f"phonemes must be a LongTensor [batch, length], got {phonemes.dtype} "
                f"{tuple(phonemes.shape)}"
            )
        if phoneme_lengths.shape != (phonemes.shape[0],):
            raise TextError(f"phoneme_lengths must have shape [{phonemes.shape[0]}]")
        if int(phoneme_lengths.min()) < 1 or int(phoneme_lengths.max()) > phonemes.shape[1]:
            raise TextError(
                "every text needs at least one phoneme symbol and lengths within the padded "
                f"batch; got lengths {phoneme_lengths.tolist()}"
            )
        if int(phonemes.min()) < 0 or int(phonemes.max()) >= c.vocab_size:
            raise TextError(
                f"phoneme ids must lie in [0, {c.vocab_size}) (the model's symbol inventory); "
                f"got [{int(phonemes.min())}, {int(phonemes.max())}]"
            )
        batch = phonemes.shape[0]
        checks = [
            ("speaker", cond.speaker, (batch, SPEAKER_DIM)),
            ("emotion", cond.emotion, (batch,)),
            ("intensity", cond.intensity, (batch,)),
            ("language", cond.language, (batch,)),
        ]
        if cond.style is not None:
            checks.append(("style", cond.style, (batch, STYLE_DIM)))
        for name, tensor, shape in checks:
            if tuple(tensor.shape) != shape:
                raise ConditioningError(
                    f"conditioning.{name} has shape {tuple(tensor.shape)}, expected {shape} "
                    f"for a batch of {batch} texts"
                )
        for name, ids, n in (
            ("emotion", cond.emotion, c.n_emotions),
            ("language", cond.language, c.n_languages),
        ):
            if int(ids.min()) < 0 or int(ids.max()) >= n:
                raise ConditioningError(f"conditioning.{name} ids must lie in [0, {n})")

    def condition_tokens(self, cond: Conditioning, drop: ConditionDrop | None) -> torch.Tensor:
        """The four conditioning embeddings [B, 4, D]."""
        batch = cond.batch_size
        dtype = self.speaker_proj.weight.dtype
        if drop is None:
            drop = ConditionDrop.none(batch, cond.speaker.device)
        speaker = self.speaker_proj(cond.speaker.to(dtype))
        speaker = torch.where(drop.speaker[:, None], self.null_speaker, speaker)
        if cond.style is None:
            style = self.no_style.expand(batch, -1)
        else:
            style = self.style_proj(cond.style.to(dtype))
            style = torch.where(drop.style[:, None], self.no_style, style)
        # Intensity interpolates (or extrapolates, > 1) from neutral towards the emotion.
        neutral = self.emotion_emb.weight[self.config.neutral_emotion]
        intensity = cond.intensity.to(dtype)[:, None]
        emotion = neutral + intensity * (self.emotion_emb(cond.emotion) - neutral)
        emotion = torch.where(drop.emotion[:, None], self.null_emotion, emotion)
        language = self.language_emb(cond.language)
        return torch.stack([speaker, style, emotion, language], dim=1)

    def prefix(
        self,
        phonemes: torch.Tensor,
        phoneme_lengths: torch.Tensor,
        cond: Conditioning,
        drop: ConditionDrop | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded prefix embeddings [B, 4 + N, D] and their lengths [B]."""
        self.check_inputs(phonemes, phoneme_lengths, cond)
        text = self.phoneme_emb(phonemes)
        if drop is not None and self.null_text is not None:
            # Always through the select, as the null speaker is: DDP then sees the vector used
            # in every step, even in batches where no text is dropped.
            text = torch.where(drop.text[:, None, None], self.null_text.to(text.dtype), text)
        elif drop is not None and bool(drop.text.any()):
            raise ConfigError(
                "this LM cannot drop the text: it was built without LMConfig.null_text"
            )
        return torch.cat([self.condition_tokens(cond, drop), text], dim=1), (
            phoneme_lengths + N_CONDITION_TOKENS
        )

    def embed_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Delayed frames [B, K, T] -> summed codebook embeddings [B, T, D]."""
        return sum(emb(frames[:, k]) for k, emb in enumerate(self.code_emb))  # type: ignore[return-value]

    def code_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Hidden states [B, T, D] -> logits [B, K, T, codebook_size + 1]."""
        hidden = self.norm(hidden)
        return torch.stack([head(hidden) for head in self.heads], dim=1)

    # ----- training layout --------------------------------------------------------------------

    def forward(
        self,
        phonemes: torch.Tensor,
        phoneme_lengths: torch.Tensor,
        cond: Conditioning,
        frames: torch.Tensor,
        drop: ConditionDrop | None = None,
    ) -> torch.Tensor:
        """Teacher-forced logits [B, K, T, codebook_size + 1] for input frames [B, K, T].

        `frames[:, :, 0]` must be the BOS frame; logits at step t predict delayed frame t.
        """
        prefix, prefix_len = self.prefix(phonemes, phoneme_lengths, cond, drop)
        batch, n_prefix, _ = prefix.shape
        n_steps = frames.shape[2]
        if n_prefix + n_steps > self.config.max_seq_len:
            raise TextError(
                f"prefix ({n_prefix}) + frames ({n_steps}) exceed max_seq_len="
                f"{self.config.max_seq_len}"
            )
        audio = self.embed_frames(frames)
        # Place item b's audio right after its own prefix: columns prefix_len[b] + t.
        columns = prefix_len[:, None] + torch.arange(n_steps, device=frames.device)
        index = columns[:, :, None].expand(-1, -1, prefix.shape[2])
        x = torch.cat([prefix, audio.new_zeros(batch, n_steps, prefix.shape[2])], dim=1)
        x = x.scatter(1, index, audio)
        positions = torch.arange(x.shape[1], device=x.device).expand(batch, -1)
        cos, sin = self.rope(positions)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.code_logits(x.gather(1, index))

    # ----- generation layout: KV cache, left-padded prefixes ----------------------------------

    def setup_cache(
        self, batch: int, max_len: int, device=None, dtype=None, fixed_shape: bool = False
    ) -> None:
        """Allocate a KV cache for `batch` sequences of up to `max_len` columns.

        Each step attends to the columns written so far, not to the whole preallocated cache
        (its empty tail would cost time at every step); `fixed_shape=True` attends to all
        `max_len` columns (masked) so that every step has the same shapes, as a compiled step
        needs.
        """
        if max_len > self.config.max_seq_len:
            raise TextError(
                f"generation needs {max_len} positions but max_seq_len is "
                f"{self.config.max_seq_len}; shorten the text"
            )
        weight = self.speaker_proj.weight
        device = device or weight.device
        dtype = dtype or weight.dtype
        c = self.config
        for block in self.blocks:
            block.attn.cache = KVCache(batch, c.n_head, max_len, c.head_dim, dtype, device)
        self.fixed_shape = fixed_shape

    def clear_cache(self) -> None:
        for block in self.blocks:
            block.attn.cache = None
        self.key_valid = self.left_pad = None

    def _run_cached(self, x: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """Run the blocks on x [B, L, D] at cache columns [L] (left-padded layout)."""
        assert self.key_valid is not None and self.left_pad is not None, "call prefill first"
        # Keys: the columns written so far (columns are ascending), or all for a fixed shape.
        n_keys = self.key_valid.shape[1] if self.fixed_shape else int(columns[-1]) + 1
        keys = torch.arange(n_keys, device=x.device)
        # A query sees keys at or before its column that are not left padding. Padding
        # queries see themselves only, which keeps softmax finite (their output is unused).
        causal = keys[None, :] <= columns[:, None]  # [L, n_keys]
        valid = self.key_valid[:, None, :n_keys]
        mask = causal & (valid | (keys[None, :] == columns[:, None]))
        positions = (columns[None, :] - self.left_pad[:, None]).clamp(min=0)  # [B, L]
        cos, sin = self.rope(positions)
        for block in self.blocks:
            x = block(x, cos, sin, mask[:, None], columns)
        return self.code_logits(x[:, -1:])[:, :, 0]

    def prefill(
        self,
        phonemes: torch.Tensor,
        phoneme_lengths: torch.Tensor,
        cond: Conditioning,
        drop: ConditionDrop | None = None,
    ) -> torch.Tensor:
        """Fill the cache with the left-padded prefix + BOS frame; logits [B, K, V] of step 0.

        Call `setup_cache` first with max_len >= (4 + max phonemes) + 1 + the steps to run.
        """
        prefix, prefix_len = self.prefix(phonemes, phoneme_lengths, cond, drop)
        batch, n_prefix, _ = prefix.shape
        # Left-pad: column j of item b holds its prefix token j - left_pad[b].
        left_pad = n_prefix - prefix_len
        src = torch.arange(n_prefix, device=prefix.device)[None, :] - left_pad[:, None]
        prefix = prefix.gather(1, src.clamp(min=0)[:, :, None].expand(-1, -1, prefix.shape[2]))
        bos = torch.full(
            (batch, self.config.n_codebooks, 1), self.config.special.bos, device=prefix.device
        )
        x = torch.cat([prefix, self.embed_frames(bos)], dim=1)
        max_len = self.blocks[0].attn.cache.k.shape[2]  # type: ignore[union-attr]
        keys = torch.arange(max_len, device=prefix.device)
        self.key_valid = keys[None, :] >= left_pad[:, None]
        self.left_pad = left_pad
        return self._run_cached(x, torch.arange(n_prefix + 1, device=prefix.device))

    def decode_step(self, frame: torch.Tensor, column: torch.Tensor) -> torch.Tensor:
        """Feed one delayed frame [B, K] at cache column [1]; logits [B, K, V] of the next step."""
        return self._run_cached(self.embed_frames(frame[:, :, None]), column)

    # ----- checkpoints ------------------------------------------------------------------------

    def save(self, directory: str | Path, **metadata: Any) -> Path:
        """Write model.safetensors + config.json into `directory`."""
        return save_checkpoint(
            directory, self.state_dict(), CHECKPOINT_KIND, config_to_dict(self.config), **metadata
        )

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> CodecLM:
        """Rebuild a model from a checkpoint directory written by `save`."""
        state, payload = load_checkpoint(directory, kind=CHECKPOINT_KIND, device=device)
        model = cls(config_from_dict(LMConfig, payload["config"])).to(device)
        load_state_into(model, state, str(directory))
        return model.eval()
