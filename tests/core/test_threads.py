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
