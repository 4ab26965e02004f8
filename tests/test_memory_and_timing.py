"""The measuring instruments on workloads of known size: they must report what they are given.

Timed workloads are busy-waits. On the wall clock one cannot end early, and ends late only when
the process is descheduled at its end, which on a loaded machine happens to most rounds; so the
wall-clock test asserts only what holds under any load: no round is early, and at least one of
the many rounds ends undisturbed. The tests of the interleaving (ratios, drift, block order)
spin on and are timed by this thread's CPU clock instead, which stands still while the thread
is descheduled: their workloads' durations are then known on a loaded machine too.
"""

import time

import numpy as np
import pytest

from bench.memory import cpu_peak_bytes, peak_memory
from bench.timing import (
    QUANTILES,
    TimingPolicy,
    block_order,
    calibrate,
    measure_interleaved,
    quantile,
    ratio,
)


def _spin(seconds, clock=time.perf_counter):
    end = clock() + seconds
    while clock() < end:
        pass


def _cpu_spin(seconds):
    _spin(seconds, time.thread_time)


def _interleaved(members, policy, reference=None, before_burst=None):
    return measure_interleaved(members, policy, reference, before_burst, clock=time.thread_time)


FAST = TimingPolicy(min_time=0.1, max_time=0.5, min_blocks=10, rel_precision=0.05)
"""Small bursts (10 ms), so each test takes well under a second or two."""


@pytest.mark.parametrize("mib", [64, 256])
def test_cpu_peak_of_a_known_allocation(mib):
    n = mib * 2**20 // 8

    def allocate():
        a = np.ones(n)  # touched, so resident
        return float(a[-1])

    peak = cpu_peak_bytes(allocate)
    if peak is None:
        pytest.skip("this kernel does not allow resetting the resident high-water mark")
    # Stated tolerance: −1 MiB (pages the baseline already held get reused) to +8 MiB (the
    # interpreter's and the allocator's bookkeeping). It holds on any x86-64 Linux because the
    # instrument counts 4 KiB pages: transparent huge pages are off during the call, so neither
    # the machine's THP policy nor khugepaged collapsing a 2 MiB extent that numpy once madvised
    # can add to the reading. (A reading of 75 MiB was seen here once, not reproduced since: the
    # reading is process-wide, see bench/memory.py for the sources and what is done about them.)
    assert (mib - 1) * 2**20 <= peak <= (mib + 8) * 2**20


def test_peak_is_per_call_not_per_process():
    big = cpu_peak_bytes(lambda: np.ones(64 * 2**20 // 8).sum())
    small = cpu_peak_bytes(lambda: np.ones(2**20 // 8).sum())
    if big is None:
        pytest.skip("no high-water-mark reset")
    assert small < 8 * 2**20 < big  # the earlier 64 MiB peak does not leak into the next call


def test_peak_memory_is_the_median_reading_and_ignores_one_outlier():
    calls = iter([16, 16, 200, 16, 16])  # MiB: one call inflated (another thread, khugepaged)

    def allocate():
        return float(np.ones(next(calls) * 2**20 // 8)[-1])

    r = peak_memory(allocate, "jax", "cpu")
    assert r["memory_method"] == "resident high-water mark"
    if r["peak_memory_bytes"] is not None:
        assert 15 * 2**20 <= r["peak_memory_bytes"] <= 24 * 2**20


def test_torch_compiled_code_reports_its_known_allocation():
    """A torch.compile'd function whose one buffer is its 1 MiB output: the reading is that buffer
    (the allocator's records), not the new resident pages, which read 0 when the heap already
    holds freed pages to serve it from (torch.compile's rev-over-rev-func read "0 B")."""
    torch = pytest.importorskip("torch")
    x = torch.ones(2**18)  # float32: 1 MiB
    compiled = torch.compile(lambda x: torch.sin(x) + 1)
    compiled(x)
    r = peak_memory(lambda: compiled(x), "torch", "cpu")
    assert r["memory_method"] == "torch allocator peak"
    # the output, plus at most a few small tensors of the compiled region's bookkeeping
    assert 2**20 <= r["peak_memory_bytes"] <= 2**20 + 4096


@pytest.mark.parametrize("duration", [0.002, 0.02])
def test_timing_of_a_known_duration(duration):
    policy = TimingPolicy(min_time=0.2, max_time=0.5, min_blocks=20)  # 20 to 100 rounds
    (timing,) = measure_interleaved({"spin": lambda: _spin(duration)}, policy).values()
    # Busy-waiting cannot finish early: every round is at least `duration`; and of its 20 or more
    # rounds at least one ends undisturbed, within 10 % (+50 µs for the loop and the clock), even
    # when this process gets only a quarter of a CPU (0.75^20 < 0.5 %).
    assert min(timing.samples) >= duration
    assert min(timing.samples) <= 1.1 * duration + 5e-5
    assert timing.iqr >= 0 and len(timing.blocks) >= 20


@pytest.mark.parametrize("duration", [0.002, 0.02])
def test_cpu_timing_of_a_known_duration(duration):
    (timing,) = _interleaved({"spin": lambda: _cpu_spin(duration)}, FAST).values()
    # Stated tolerance: the median within 5 % (+20 µs: the loop's last check and the clock calls).
    assert duration <= timing.median <= 1.05 * duration + 2e-5


def test_calibration_batches_fast_calls():
    iterations, per_call = calibrate(lambda: None, 1e-3)
    assert iterations > 1  # a no-op is batched above the timer's resolution
    assert per_call < 1e-5
    (timing,) = measure_interleaved({"noop": lambda: None}, FAST).values()
    assert timing.iterations > 1 and timing.median < 1e-5


def test_calibration_times_a_call_longer_than_two_bursts_once():
    """A call of at least two bursts is timed once (a burst is one call whatever its exact time);
    a shorter one still gets the fastest of three rounds."""
    now, calls = [0.0], []

    def clock():
        return now[0]

    def call(seconds):
        def fn():
            calls.append(seconds)
            now[0] += seconds

        return fn

    assert calibrate(call(0.25), 1e-2, clock, burst_s=0.05) == (1, 0.25) and len(calls) == 1
    calls.clear()
    iterations, per_call = calibrate(call(0.06), 1e-2, clock, burst_s=0.05)
    assert (iterations, len(calls)) == (1, 3) and per_call == pytest.approx(0.06)
    calls.clear()
    assert calibrate(call(0.25), 1e-2, clock)[0] == 1 and len(calls) == 3  # no burst given: as before


def _two_spins(slow_blocks=(), slowdown=3.0, both=False):
    """Members "a" (1 ms) and "b" (2 ms of CPU); in `slow_blocks` the machine is `slowdown` times
    slower for b's burst (or for both bursts: `both`). Blocks are counted by bursts."""
    bursts = {"a": -1, "b": -1}

    def before_burst(name):
        bursts[name] += 1  # the calibration counts as burst 0, block k is burst k + 1

    def member(name, seconds):
        def call():
            slow = bursts[name] - 1 in slow_blocks and (both or name == "b")
            _cpu_spin(seconds * (slowdown if slow else 1.0))

        return call

    members = {"a": member("a", 0.001), "b": member("b", 0.002)}
    return members, before_burst


def test_interleaved_ratio_of_known_speeds():
    members, before_burst = _two_spins()
    timings = _interleaved(members, FAST, {"b": "a"}, before_burst)
    r = ratio(timings["b"], timings["a"])
    # Stated tolerance: 10 % (CPU-clock spins: only the loop's and the clock's overhead).
    assert 1.8 <= r.median <= 2.2
    assert r.lo <= r.median <= r.hi
    assert len(timings["a"].blocks) == len(timings["b"].blocks) >= 10


@pytest.mark.parametrize("both", [False, True], ids=["one-member", "whole-block"])
def test_a_slowdown_in_one_block_does_not_move_the_ratio(both):
    """A block where the machine is 3x slower (for one member, or for both as drift would be):
    the per-block ratio is off (one member) or unchanged (both), and the median over blocks is
    still the true 2 within the stated 10 %."""
    members, before_burst = _two_spins(slow_blocks={3}, both=both)
    timings = _interleaved(members, FAST, {"b": "a"}, before_burst)
    medians_a, medians_b = timings["a"].block_medians, timings["b"].block_medians
    assert medians_b[3] > 2.5 * 0.002  # the slowdown did hit block 3
    assert 1.8 <= ratio(timings["b"], timings["a"]).median <= 2.2
    if both:
        assert 1.8 <= medians_b[3] / medians_a[3] <= 2.2  # the same conditions for both


def test_stops_when_precise_and_respects_limits():
    members, _ = _two_spins()
    loose = _interleaved(members, TimingPolicy(min_time=0.1, max_time=0.5, rel_precision=0.5), {"b": "a"})
    assert 10 <= len(loose["a"].blocks) <= 12 and loose["b"].stable and loose["a"].stable
    capped = _interleaved(
        members, TimingPolicy(min_time=0.1, max_time=0.1, rel_precision=0.0, max_rounds=30), {"b": "a"}
    )
    assert not capped["b"].stable
    assert 10 <= len(capped["b"].blocks) <= 30  # stopped by max_rounds or the time limit


@pytest.mark.parametrize("n", [1, 2, 5])
def test_block_order_rotates_every_member_through_every_position(n):
    orders = [block_order(n, k, seed=7) for k in range(4 * n)]
    assert all(sorted(o) == list(range(n)) for o in orders)
    for cycle in range(4):
        in_cycle = orders[cycle * n : (cycle + 1) * n]
        for position in range(n):
            assert sorted(o[position] for o in in_cycle) == list(range(n))  # each member once
    assert orders == [block_order(n, k, seed=7) for k in range(4 * n)]  # deterministic
    if n > 2:
        assert len({tuple(o) for o in orders}) > n  # cycles are shuffled differently


def test_bursts_follow_the_block_order():
    seen = []
    members = {name: (lambda: None) for name in "abc"}
    measure_interleaved(members, FAST, before_burst=seen.append)
    bursts = seen[3:]  # after one calibration each
    blocks = [bursts[i : i + 3] for i in range(0, len(bursts), 3)]
    assert len(blocks) >= 10
    assert blocks == [[list(members)[i] for i in block_order(3, k, FAST.seed)] for k in range(len(blocks))]


def test_quantiles_of_the_ratio_spread():
    assert QUANTILES == (0.10, 0.90)
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert quantile(list(range(11)), 0.1) == pytest.approx(1.0)
