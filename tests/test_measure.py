"""The correctness gate of the harness: wrong or failing strategies are recorded, never timed."""

import time

import pytest

from backends import Compiled
from bench.cases import Case
from bench.config import HarnessConfig
from bench.measure import Prepared, base_record, finish, measure, time_group
from bench.timing import TimingPolicy
from tests import faulty


@pytest.fixture(scope="module", autouse=True)
def _faults():
    faulty.register()
    yield
    faulty.unregister()


def _case(strategy, backend="jax", dtype="float64", device="cpu", compile_mode="jit"):
    return Case("penalty", (("points", 101),), backend, strategy, compile_mode, dtype, device)


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
    r = measure(_case("rev-over-rev", backend="torch", device="cuda", compile_mode="eager"))
    import torch

    if not torch.cuda.is_available():
        assert r["status"] == "skipped" and "device 'cuda' not available to torch" in r["error"]


def test_memory_error_is_out_of_memory_and_not_timed():
    r = measure(_case("test-memory-error"))
    assert r["status"] == "out of memory"
    assert "MemoryError: deliberate: cannot allocate the gradient" in r["error"]
    assert "median_s" not in r


def _fake(strategy, seconds, fail_at=None):
    """A prepared ok case whose evaluation busy-waits `seconds` (and raises on call `fail_at`)."""
    calls = 0

    def run(native):
        nonlocal calls
        calls += 1
        if calls == fail_at:
            raise RuntimeError("deliberate failure while timed")
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    case = _case(strategy)
    record = {**base_record(case), "status": "ok"}
    return Prepared(case, record, Compiled(lambda p: p, run, lambda out: (0.0, {})), native=None)


FAST = HarnessConfig(policy=TimingPolicy(min_rounds=2, max_time=0.05))
"""Short timing for tests."""


def test_a_case_failing_while_timed_is_failed_and_the_rest_timed_again():
    group = [_fake("rev-over-rev", 0.001), _fake("fd-central", 0.001, fail_at=12), _fake("taylor", 0.002)]
    time_group(group, config=FAST)
    base, failed, other = (p.record for p in group)
    assert (
        failed["status"] == "failed" and "during timing: RuntimeError: deliberate failure" in failed["error"]
    )
    assert "blocks" not in failed
    assert base["status"] == other["status"] == "ok" and base["blocks"] >= 10
    assert base["ratio_to_baseline"] == 1.0 and other["baseline_strategy"] == "rev-over-rev"
    assert other["ratio_to_baseline_lo"] <= other["ratio_to_baseline"] <= other["ratio_to_baseline_hi"]
    assert {"contended", "load_note", "stable", "block_medians_s", "ratio_to_baseline_lo"} <= set(other)


def test_the_rounds_go_into_pytest_benchmarks_stats():

    class Stats:
        def __init__(self):
            self.durations = []

        def update(self, duration):
            self.durations.append(duration)

    class Benchmark:
        def _make_stats(self, iterations):
            self.iterations, self.stats = iterations, Stats()
            return self.stats

    (prepared,) = [_fake("rev-over-rev", 0.001)]
    time_group([prepared], config=FAST)
    benchmark = Benchmark()
    record = finish(prepared, benchmark)
    assert len(benchmark.stats.durations) == record["rounds"] and benchmark.iterations == record["iterations"]
    per_call = sorted(d / record["iterations"] for d in benchmark.stats.durations)
    assert per_call[len(per_call) // 2] == pytest.approx(record["median_s"], rel=0.05)
    assert record["peak_memory_bytes"] is None or record["peak_memory_bytes"] >= 0
