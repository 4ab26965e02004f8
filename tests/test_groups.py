"""Comparison groups: ordered together, built and checked first, timed side by side, and a crash
in the middle of their interleaved timing attributed to the case that crashed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cases import Case, load_sweep, shard, write_cases
from bench.config import HarnessConfig
from bench.groups import group_key, order_by_group
from bench.measure import GroupRunner, finish
from bench.results import load_records
from bench.timing import TimingPolicy
from tests import faulty

ROOT = Path(__file__).resolve().parent.parent


def _case(strategy, dtype="float64", backend="jax", points=101, compile_mode="jit"):
    return Case("penalty", (("points", points),), backend, strategy, compile_mode, dtype, "cpu")


def test_cases_are_ordered_group_by_group_baseline_first():
    cases = sorted(
        _case(s, dtype, backend, compile_mode=v)
        for s in ("fd-central", "rev-over-rev", "taylor")
        for dtype in ("float32", "float64")
        for backend, v in (("jax", "jit"), ("torch", "eager"))
    )  # Case order: strategy before dtype, so the driver's list interleaves the groups
    assert len({group_key(c) for c in cases[:3]}) > 1
    ordered = order_by_group(cases)
    assert sorted(ordered) == cases
    keys = [group_key(c) for c in ordered]
    runs = [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
    assert len(runs) == len(set(keys)) == 4  # each group's cases together
    assert all(c.strategy == "rev-over-rev" for c in ordered[::3])  # the baseline first


@pytest.mark.parametrize("n", [2, 5])
def test_shards_keep_comparison_groups_whole(n):
    cases = load_sweep("default")
    parts = [shard(cases, i, n) for i in range(1, n + 1)]
    owners = {}
    for i, part in enumerate(parts):
        for case in part:
            assert owners.setdefault(group_key(case), i) == i  # a group is in one shard only
    assert sorted(c for p in parts for c in p) == sorted(cases)


def test_the_benchmark_collects_cases_group_by_group(tmp_path):
    cases = sorted(
        _case(s, dtype) for s in ("fd-central", "rev-over-rev") for dtype in ("float32", "float64")
    )
    write_cases(tmp_path / "cases.json", cases)
    args = ["bench/test_cases.py", "--collect-only", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "--cases", str(tmp_path / "cases.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    collected = [line.split("[", 1)[1][:-1] for line in proc.stdout.splitlines() if "::test_case[" in line]
    assert collected == [c.id for c in order_by_group(cases)]
    assert [c.dtype for c in order_by_group(cases)] == ["float32", "float32", "float64", "float64"]


@pytest.fixture
def _faults():
    faulty.register()
    yield
    faulty.unregister()


def test_a_group_is_built_and_checked_first_then_timed_interleaved(_faults):
    marks = []
    f64 = [_case("rev-over-rev"), _case("test-wrong"), _case("fwd-over-rev")]
    ordered = order_by_group([*f64, _case("rev-over-rev", "float32")])
    assert ordered[1:] == f64  # float32's group of one first, then float64's, baseline first
    # precision mode: every ok case is timed in every block (a race may drop fwd-over-rev after 5
    # blocks where it runs 1.5x slower; tests/test_racing.py covers that)
    policy = TimingPolicy(min_rounds=2, max_time=0.05, mode="precision")
    runner = GroupRunner(ordered, mark=marks.append, config=HarnessConfig(policy))
    records = {}
    for case in ordered:
        del marks[:]
        records[f"{case.strategy}-{case.dtype}"] = finish(runner.take(case))
        if case == f64[0]:  # the group's first case: the whole group is measured now
            group_marks = list(marks)

    ids = [c.id for c in f64]
    assert group_marks[:3] == ids  # built (and checked) one after the other
    timed = group_marks[3:-1]  # warm-ups, calibration and bursts; then back to the first case
    assert set(timed) == {ids[0], ids[2]}  # the wrong one is not timed
    assert sum(a != b for a, b in zip(timed, timed[1:])) >= 10  # the case in progress changes per burst
    assert group_marks[-1] == ids[0]

    base, other = records["rev-over-rev-float64"], records["fwd-over-rev-float64"]
    assert (
        records["test-wrong-float64"]["status"] == "wrong" and "blocks" not in records["test-wrong-float64"]
    )
    for r in (base, other):
        assert r["status"] == "ok" and r["blocks"] >= 10 and len(r["block_medians_s"]) == r["blocks"]
        assert (
            r["baseline_strategy"] == "rev-over-rev" and isinstance(r["contended"], bool) and r["load_note"]
        )
        assert r["loss_blocks"] == r["blocks"]  # the parts are interleaved in the same blocks
        assert r["peak_memory_bytes"] is None or r["peak_memory_bytes"] >= 0
    assert base["ratio_to_baseline"] == base["ratio_to_baseline_lo"] == base["ratio_to_baseline_hi"] == 1.0
    assert other["ratio_to_baseline_lo"] <= other["ratio_to_baseline"] <= other["ratio_to_baseline_hi"]
    alone = records["rev-over-rev-float32"]  # a group of one: its ratio to itself
    assert alone["status"] == "ok" and alone["ratio_to_baseline"] == 1.0


def test_a_crash_mid_group_is_attributed_and_the_rest_measured_again(tmp_path):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        '[[sweep]]\nproblem = "penalty"\noptions = { points = [101] }\nbackends = ["jax"]\n'
        'strategies = ["rev-over-rev", "test-segfault-timing", "fwd-over-rev"]\ndtypes = ["float64"]\n'
    )
    out = tmp_path / "run"
    args = ["--plugin", "tests.faulty", "--max-time", "0.05", "--min-rounds", "2", "--budget", "60",
            "--no-report", "--train-iters", "0"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--set", str(sweep), "--out", str(out), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = {r["strategy"]: r for r in load_records(out / "results.jsonl")}
    assert len(records) == 3
    crashed = records["test-segfault-timing"]
    assert crashed["status"] == "crashed" and "SIGSEGV" in crashed["error"]
    # The first child's fatal-error traceback: the crash came in a burst of the interleaved timing.
    first_child = (out / "logs" / "child-001.log").read_text()
    assert "in _burst" in first_child and "in measure_interleaved" in first_child
    assert "in calibrate" not in first_child and "in build" not in first_child
    for strategy in ("rev-over-rev", "fwd-over-rev"):  # measured again, without the crashed one
        assert records[strategy]["status"] == "ok" and records[strategy]["blocks"] >= 10
    assert records["fwd-over-rev"]["ratio_to_baseline"] > 0
    assert (out / "logs" / "child-002.log").exists()
    assert json.loads((out / "cases.json").read_text())
