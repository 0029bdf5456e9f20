"""Int8 weights for the LM's linear layers at inference on CPU (`lm_matmul_dtype: "int8"`).

Why: a decoding step multiplies a handful of rows (takes x guidance passes) by every weight
of the LM, so on CPU it is bound by reading the weights, and the default LM's 47 MB of
float32 weights overflow a 32 MB L3. Stored as int8 (one scale per output channel) they take
a quarter of that, and PyTorch's fbgemm kernel multiplies them with the rows quantized on the
fly (per call, one scale for the whole input): the LM's 45 products on 6 rows took 1.0-1.4 ms
instead of 4.1 ms on the 2-core AMD EPYC of stop 43 (scratch benchmark, model card).

The products are approximate (0.7% relative error, median over the LM's own inputs, against
0.2% for bfloat16), so other tokens are sampled. Layers whose inputs have outlier channels
lose most (`Linear.int8_inputs`: the MLPs' down projections multiply in bfloat16 where the
CPU has bfloat16 instructions, `bfloat16_native`, else in float32); with those kept out of
int8, the default LM's teacher-forced cross-entropy on held-out codes rose 0.0002 (down
projections in float32) or 0.0004 (in bfloat16; the model card).
Only the float weight is ever saved or trained; the packed copy is made from it at inference.
Where the kernel is missing (a CPU build without fbgemm, or another device) `int8_available`
says so and the layers multiply in float32.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

# fbgemm is PyTorch's x86 kernel library; "x86" (its default engine there) picks between
# fbgemm and oneDNN per call and was 30% slower on 6 rows. ARM builds have only qnnpack,
# which was slower than float32 here, so they keep float32.
ENGINE = "fbgemm"
# The engine is a process-wide setting that packing switches for a moment; the server's
# replicas pack their layers on their first requests, possibly at once.
_ENGINE_LOCK = threading.Lock()


def int8_available() -> bool:
    """Whether this PyTorch build can multiply by packed int8 weights on CPU (checked once by
    running the kernel: a build without fbgemm, or a future one without these operators,
    says no, and the layers keep float32)."""
    return _full_range_inputs() is not None


@functools.cache
def _full_range_inputs() -> bool | None:
    """Whether the kernel takes 8-bit inputs without overflowing; None: no kernel.

    Why ask: on CPUs without VNNI, fbgemm adds pairs of u8 x s8 products into 16 bits, which
    saturate for large inputs against large weights (2 x 255 x 127 > 32767); PyTorch's
    `reduce_range` (7-bit inputs) avoids that with a rounding step twice as coarse. Ones
    times ones, the worst case, tells the two apart on this machine."""
    quantized = getattr(torch.backends, "quantized", None)
    if quantized is None or ENGINE not in quantized.supported_engines:
        return None
    try:
        packed = pack_int8(torch.ones(1, 64))
        full = torch.ops.quantized.linear_dynamic(torch.ones(1, 64), packed, False)
    except (RuntimeError, AttributeError, NotImplementedError) as err:
        log.warning("int8 products unavailable (%s); the LM multiplies in float32", err)
        return None
    return abs(float(full[0, 0]) - 64.0) < 0.5


@functools.cache
def bfloat16_native() -> bool:
    """Whether this CPU has bfloat16 product instructions (AVX512-BF16 or AMX). Where it has
    them, a layer that "int8" leaves out multiplies by a bfloat16 copy of its weight: half
    the bytes of float32 to read, and the default LM's step took 6.9-7.9 ms instead of
    8.1-8.8 ms on the AMD EPYC of stop 44 (the model card). Where it has not, bfloat16
    products are not known to be faster, so such a layer keeps its weight's dtype; nor
    without oneDNN, through which PyTorch runs its fast bfloat16 CPU matmuls."""
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    capabilities = get_capabilities() if get_capabilities is not None else {}
    native = bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))
    return native and torch.backends.mkldnn.is_available()


def pack_int8(weight: torch.Tensor) -> torch.ScriptObject:
    """A float weight [out, in] quantized symmetrically per output channel (scale = the row's
    largest magnitude / 127) and packed for `int8_linear`."""
    if weight.dim() != 2 or weight.device.type != "cpu":
        raise ValueError(
            f"pack_int8 takes a 2-D CPU weight, got {tuple(weight.shape)} on {weight.device}"
        )
    w = weight.detach().float()
    # A zero row would get scale 0; any positive scale quantizes it to zeros exactly.
    scale = (w.abs().amax(dim=1) / 127).clamp_min(1e-12).double()
    zero = torch.zeros(w.shape[0], dtype=torch.long)
    with _ENGINE_LOCK, warnings.catch_warnings():
        previous = torch.backends.quantized.engine
        # quantized-tensor constructors warn of a future deprecation; torch is pinned (2.13)
        warnings.simplefilter("ignore", UserWarning)
        try:
            # the packed weight keeps the engine it was packed with
            torch.backends.quantized.engine = ENGINE
            q = torch.quantize_per_channel(w, scale, zero, 0, torch.qint8)
            return torch.ops.quantized.linear_prepack(q, None)
        finally:
            torch.backends.quantized.engine = previous


def int8_linear(x: torch.Tensor, packed: torch.ScriptObject) -> torch.Tensor:
    """x [..., in] (float32) times a `pack_int8` weight: [..., out] in float32.

    The input is quantized per call over its own range, to 8 bits where the kernel adds
    without overflow (measured on the LM's own rows: median error 0.7%, against 1.2% with
    7-bit inputs) and to 7 bits where it would saturate (`_full_range_inputs`)."""
    reduce_range = not _full_range_inputs()
    return torch.ops.quantized.linear_dynamic(x.float().contiguous(), packed, reduce_range)


def int8_product(
    weight: torch.Tensor,
) -> tuple[torch.ScriptObject, Callable[[torch.Tensor], torch.Tensor]]:
    """`weight` packed (`pack_int8`) and a function x -> `int8_linear(x, packed)` in x's dtype.

    Why a function: a decoding step makes 37 of these products on a few rows, each ~20 us of
    kernel (6 rows, ~12 us of it fixed cost), and the Python around each call (finding the
    operator, asking which input range to use, and the operator's own Python-side check of
    its arguments for traced stand-ins of the packed weight, which never occur here) was a
    few us more. For the decoding step's inputs (contiguous float32 rows) this resolves them
    once and calls the C++ operator directly; any other input goes through `int8_linear`."""
    packed = pack_int8(weight)
    overload = torch.ops.quantized.linear_dynamic.default
    kernel = getattr(overload, "_op", overload)  # the C++ operator, without that check
    reduce_range = not _full_range_inputs()

    def product(x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 and x.is_contiguous():
            return kernel(x, packed, reduce_range)
        return int8_linear(x, packed).to(x.dtype)

    return packed, product
