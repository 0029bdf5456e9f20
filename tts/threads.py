"""CPU thread settings for a block of work: torch's pool, and numpy's BLAS.

Synthesis runs its torch work on `threads` threads (the bundle's `cpu_threads`, or the
caller's choice) and numpy's BLAS (OpenBLAS or MKL, through threadpoolctl) on one thread,
and gives both back as they were when the caller has control again.

Why one BLAS thread: the pipeline's numpy products are small (librosa's mel filter bank
over a few hundred frames in the speaker encoder), and OpenBLAS's threads
keep spinning for a while after each product, on the cores that torch's threads want next.
On the 2-core CPU of stop 45, Resemblyzer's embedding of three 4.6 s takes (the voice's
choice among takes) took 100-134 ms right after librosa's mel spectrograms and 42 ms with
one BLAS thread; its LSTM alone took 35 ms, and 105-124 ms right after a numpy product.

OpenBLAS (0.3.31, numpy's here) does not always honour a thread count set from a worker
thread: it ignores one once the process's main thread has set one (a program that
synthesizes on its main thread and then on workers keeps its BLAS setting on the workers),
and in one clean-clone test run a worker's restore after two interleaved blocks did not
take either (the count stayed at one; cause not found). Only speed is affected either way.
The command line synthesizes on the main thread; the server and the demo on workers.
(Measured on a worker thread, ~/koe-runs/s45/worker.py, with the other core busy: the three
takes' embedding 179 -> 89 ms with the limit; after the main thread had used it once, 103
and 107 ms without and with it.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Made on first use (finding the loaded BLAS libraries takes ~0.5 ms); a BLAS library
# loaded after that is not limited. Concurrent blocks (the server's replicas synthesize on
# several threads) share one limit: the first to enter sets it, the last to leave restores
# the original, so interleaved blocks cannot leave it set.
_blas = None
_blas_lock = threading.Lock()
_blas_holders = 0
_blas_limit = None


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
    afterwards (torch's is process-wide: concurrent blocks share it, as before)."""
    with torch_threads(threads), _one_blas_thread():
        yield


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    global _blas, _blas_holders, _blas_limit
    with _blas_lock:
        if _blas_holders == 0:
            if _blas is None:
                from threadpoolctl import ThreadpoolController

                _blas = ThreadpoolController()
            _blas_limit = _blas.limit(limits=1, user_api="blas")
        _blas_holders += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_holders -= 1
            if _blas_holders == 0 and _blas_limit is not None:
                _blas_limit.restore_original_limits()
                _blas_limit = None
