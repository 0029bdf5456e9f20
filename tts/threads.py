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
and the main thread's while a worker thread that set one is alive (stop 52),
and in one clean-clone test run a worker's restore after two interleaved blocks did not
take either (the count stayed at one; cause not found). Only speed is affected either way.
The command line synthesizes on the main thread; the server and the demo on workers.
(Measured on a worker thread, ~/koe-runs/s45/worker.py, with the other core busy: the three
takes' embedding 179 -> 89 ms with the limit; after the main thread had used it once, 103
and 107 ms without and with it.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

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


# ----- which thread runs the model ---------------------------------------------------------------
#
# A thread that has run torch's parallel CPU work keeps an OpenMP thread pool for as long as it
# lives, and while it does, the LM runs much slower on any other thread (libgomp spins only
# briefly at its barriers once it manages more threads than there are cores, so each of a
# decoding step's many small parallel products waits for its helper thread to wake up). On the
# 2-core AMD EPYC of stop 52 (`recipes/bench_threads.py`, medians of 3 fresh processes, four
# short English sentences), the default model's token generation per second of audio: 0.226
# on the main thread that loaded it, 0.377 on a worker after the main thread loaded it, 0.258
# on a worker after a thread that ended loaded it. The server and the demo synthesize on
# worker threads, so they load the model on a thread that ends (its pool goes with it), and
# the demo keeps the model's work on one thread.

T = TypeVar("T")


def in_fresh_thread(fn: Callable[[], T]) -> T:
    """`fn()` run on a new thread that ends when it returns: its result, or its exception.

    For loading a model that other threads will run (see above): the main thread lives on,
    and its OpenMP pool would slow every later worker's LM."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="tts-load")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


class ModelThread:
    """One long-lived thread for all of a model's work, whatever thread asks (the demo's
    handlers run on whichever of Gradio's worker threads is free; see above)."""

    def __init__(self, name: str = "tts-model") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on the model's thread; blocks for its result or exception."""
        return self._executor.submit(fn, *args, **kwargs).result()

    def iterate(self, pieces: Iterator[T]) -> Iterator[T]:
        """`pieces`, each one produced on the model's thread (and closed there when the
        caller stops early)."""
        done = object()
        try:
            while True:
                piece = self.call(next, pieces, done)
                if piece is done:
                    return
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                self.call(close)

    def close(self, wait: bool = True) -> None:
        """End the thread (after the call it runs, with `wait`); later calls are refused."""
        self._executor.shutdown(wait=wait, cancel_futures=True)
