import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from tts.threads import compute_threads, torch_threads


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


INTERLEAVED = """
import json
import threading
import numpy as np
from threadpoolctl import threadpool_info
from tts.threads import compute_threads

def blas():
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

np.ones((64, 64)) @ np.ones((64, 64))
before = blas()
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
        b_in.set()
        a_out.wait(5)
        seen["after A left"] = blas()

threads = [threading.Thread(target=f) for f in (a, b)]
for t in threads:
    t.start()
for t in threads:
    t.join(10)
print(json.dumps([before, seen["after A left"], blas()]))
"""


def test_interleaved_blocks_on_two_threads_leave_blas_as_it_was():
    """The server's replicas synthesize on worker threads: A enters, B enters, A leaves (B
    still works: still one BLAS thread), B leaves; then the original setting is back, not
    the one B found on entry. In a fresh process, because OpenBLAS ignores settings made
    from other threads once the main thread has made one (as the test above does)."""
    done = subprocess.run(
        [sys.executable, "-c", INTERLEAVED], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    before, after_a, end = json.loads(done.stdout.strip().splitlines()[-1])
    if set(before) == {1}:
        pytest.skip("this machine's BLAS already runs on one thread")
    assert set(after_a) == {1}
    assert end == before
