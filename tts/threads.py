"""CPU thread settings for a block of work: torch's pool, and numpy's BLAS.

Synthesis runs its torch work on `threads` threads (the bundle's `cpu_threads`, or the
caller's choice) and numpy's BLAS (OpenBLAS or MKL, through threadpoolctl) on one thread,
and gives both back as they were when the caller has control again.

Why one BLAS thread: the pipeline's numpy products are small (mel filter banks over a few
hundred frames: librosa in the speaker encoder, Perth's watermark), and OpenBLAS's threads
keep spinning for a while after each product, on the cores that torch's threads want next.
On the 2-core CPU of stop 45, Resemblyzer's embedding of three 4.6 s takes (the voice's
choice among takes) took 100-134 ms right after librosa's mel spectrograms and 42 ms with
one BLAS thread; its LSTM alone took 35 ms, and 105-124 ms right after a numpy product.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Made on first use (finding the loaded BLAS libraries takes ~0.5 ms); a BLAS library
# loaded after that is not limited.
_blas = None


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with `threads` torch CPU threads (None: unchanged), then restore."""
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def compute_threads(threads: int | None) -> Iterator[None]:
    """`torch_threads(threads)` with numpy's BLAS on one thread, for a block; both restored
    afterwards. Process-wide settings, like torch's: concurrent blocks share them."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    with torch_threads(threads), _blas.limit(limits=1, user_api="blas"):
        yield
