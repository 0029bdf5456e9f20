import threading

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from tts.threads import ModelThread, compute_threads, in_fresh_thread, torch_threads


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_compute_threads_holds_numpys_blas_to_one_thread_and_restores_both():
    """Inside the block: torch on the asked threads, every loaded BLAS (numpy's OpenBLAS) on
    one; afterwards both as they were, also when the block raises."""
    np.ones((64, 64)) @ np.ones((64, 64))  # numpy's BLAS is loaded
    torch_before, blas_before = torch.get_num_threads(), _blas_threads()
    assert blas_before  # numpy links a BLAS
    wanted = 1 if torch_before > 1 else 2
    with compute_threads(wanted):
        assert torch.get_num_threads() == wanted
        assert set(_blas_threads()) == {1}
        product = np.arange(16.0).reshape(4, 4) @ np.eye(4)  # still computes
    assert np.array_equal(product, np.arange(16.0).reshape(4, 4))
    assert torch.get_num_threads() == torch_before and _blas_threads() == blas_before
    with pytest.raises(RuntimeError, match="inside"), compute_threads(None):
        assert torch.get_num_threads() == torch_before  # None: torch unchanged
        assert set(_blas_threads()) == {1}
        raise RuntimeError("inside")
    assert torch.get_num_threads() == torch_before and _blas_threads() == blas_before
    with torch_threads(None):  # torch's setting alone, unchanged by None
        assert _blas_threads() == blas_before


class _FakeBlas:
    """threadpoolctl's controller as compute_threads uses it: one BLAS pool of `n` threads."""

    def __init__(self, n: int) -> None:
        self.n, self.limits = n, 0

    def limit(self, limits: int, user_api: str):
        assert user_api == "blas"
        self.limits += 1
        original, self.n = self.n, limits
        blas = self

        class Limit:
            def restore_original_limits(self) -> None:
                blas.n = original

        return Limit()


def test_interleaved_blocks_on_two_threads_leave_blas_as_it_was(monkeypatch):
    """The server's replicas synthesize on worker threads: A enters, B enters, A leaves (B
    still works: still one BLAS thread), B leaves; then the original setting is back, not
    the one B found on entry. (OpenBLAS itself is stood in for: it ignores a count set from
    a worker once the main thread has set one, which the test above does.)"""
    import tts.threads

    fake = _FakeBlas(4)
    monkeypatch.setattr(tts.threads, "_blas", fake)
    a_in, b_in, a_out = (threading.Event() for _ in range(3))
    seen = {}

    def a():
        with compute_threads(None):
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with compute_threads(None):
            seen["B in"] = fake.n
            b_in.set()
            a_out.wait(5)
            seen["after A left"] = fake.n

    workers = [threading.Thread(target=f) for f in (a, b)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert seen == {"B in": 1, "after A left": 1}
    assert fake.n == 4 and fake.limits == 1  # one limit for both blocks, then restored


def test_in_fresh_thread_runs_on_a_thread_that_has_ended_by_the_time_it_returns():
    ran_on = []

    def work():
        ran_on.append(threading.current_thread())
        return 42

    assert in_fresh_thread(work) == 42
    (thread,) = ran_on
    assert thread is not threading.current_thread() and not thread.is_alive()
    with pytest.raises(KeyError, match="missing"):  # the error reaches the caller as it was
        in_fresh_thread(lambda: {}["missing"])


def test_model_thread_runs_every_call_and_piece_on_one_thread_of_its_own():
    model = ModelThread("test-model")
    try:
        seen = set()

        def where(x):
            seen.add(threading.get_ident())
            return x * 2

        assert model.call(where, 3) == 6 and model.call(where, x=5) == 10
        closed = []

        def pieces():
            try:
                for i in range(5):
                    seen.add(threading.get_ident())
                    yield i
            finally:
                closed.append(threading.get_ident())

        assert list(model.iterate(pieces())) == [0, 1, 2, 3, 4]
        early = model.iterate(pieces())
        assert next(early) == 0
        early.close()  # a caller that stops early: the pieces are closed, on that thread
        assert len(seen) == 1 and threading.get_ident() not in seen
        assert closed == [seen.copy().pop()] * 2
        with pytest.raises(ValueError, match="bad"):

            def fail():
                raise ValueError("bad")

            model.call(fail)
    finally:
        model.close()
