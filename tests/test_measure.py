"""The correctness gate of the harness: wrong or failing strategies are recorded, never timed."""

import pytest

from bench.cases import Case
from bench.measure import measure
from tests import faulty


@pytest.fixture(scope="module", autouse=True)
def _faults():
    faulty.register()
    yield
    faulty.unregister()


def _case(strategy, backend="jax", dtype="float64", device="cpu", variant="jit"):
    return Case("penalty", (("points", 101),), backend, strategy, variant, dtype, device)


def test_correct_strategy_is_ok_with_errors_and_compile_time():
    r = measure(_case("rev-over-rev"))
    assert r["status"] == "ok" and r["error"] == ""
    assert r["grad_rel_err"] < 1e-13 and r["tolerance"] == 1e-10
    assert r["compile_s"] > 0


def test_wrong_gradient_is_reported_wrong_and_not_timed():
    class NeverCalled:
        def __call__(self, *a, **k):
            raise AssertionError("a wrong case must not be timed")

    r = measure(_case("test-wrong"), benchmark=NeverCalled())
    assert r["status"] == "wrong"
    assert "relative error 1.000e-03 > tolerance 1.000e-10" in r["error"]
    assert "median_s" not in r


def test_nan_gradient_is_wrong():
    r = measure(_case("test-nan"))
    assert r["status"] == "wrong" and "non-finite" in r["error"]


def test_exception_is_failed_with_message():
    r = measure(_case("test-raise"))
    assert r["status"] == "failed"
    assert "RuntimeError: deliberate failure while building" in r["error"]


def test_unsupported_and_unavailable_device():
    assert measure(_case("rev-over-rev-func"))["status"] == "unsupported"
    r = measure(_case("rev-over-rev", backend="torch", device="cuda", variant="eager"))
    import torch

    if not torch.cuda.is_available():
        assert r["status"] == "skipped" and "device 'cuda' not available to torch" in r["error"]


def test_memory_error_is_out_of_memory_and_not_timed():
    r = measure(_case("test-memory-error"))
    assert r["status"] == "out of memory"
    assert "MemoryError: deliberate: cannot allocate the gradient" in r["error"]
    assert "median_s" not in r
