"""Racing (bench/racing.py): the rule on synthetic per-block times, the interleaved timing under a
deterministic fake clock (members advance it by known amounts, so no real time is measured and
nothing depends on the machine's load), a dropped and a hopeless case's records and how the
report reads them, and the driver's progress line."""

import json
import random
import time

import pytest

import bench.measure
import bench.racing
from backends.base import Compiled
from bench.cases import Case
from bench.config import HarnessConfig
from bench.measure import Prepared, base_record, time_group
from bench.racing import CUT, FIRST_TEST, Race, hopeless, progress_line
from bench.timing import TimingPolicy, measure_interleaved
from reports.decision import terminal_table
from reports.runs import load_runs
from reports.verdict import decide, dropped_text, verdicts
from tests.synthetic import record, write_run


def _wobble(k: int, member: str, amplitude: float) -> float:
    """A deterministic per-block factor in [1 − amplitude, 1 + amplitude] (seeded by member and block)."""
    return 1 + amplitude * random.Random(f"{member}:{k}").uniform(-1, 1)


class FakeClock:
    """Seconds that advance only when a member runs: member `m` takes `seconds[m]` × its block's
    wobble per call. Blocks are counted by bursts (`before_burst`; the calibration is burst 0)."""

    def __init__(self, seconds: dict[str, float], amplitude: float = 0.02):
        self.now = 0.0
        self.seconds, self.amplitude = seconds, amplitude
        self.bursts = {m: -1 for m in seconds}

    def __call__(self) -> float:
        return self.now

    def before_burst(self, member: str) -> None:
        self.bursts[member] += 1

    def members(self) -> dict:
        def call(m):
            def run():
                self.now += self.seconds[m] * _wobble(max(self.bursts[m], 0), m, self.amplitude)

            return run

        return {m: call(m) for m in self.seconds}


POLICY = TimingPolicy(min_time=0.05, max_time=0.5, min_blocks=10)


def _race(seconds: dict[str, float], amplitude=0.02, may_lead=lambda c: True, policy=POLICY):
    clock = FakeClock(seconds, amplitude)
    race = Race({m: m for m in seconds}, {m: [m] for m in seconds}, may_lead)
    blocks_seen = []
    timings = measure_interleaved(
        clock.members(), policy, {}, clock.before_burst, clock, race=race, after_block=blocks_seen.append
    )
    return race, timings, blocks_seen


def test_slow_candidates_are_dropped_after_the_first_test_and_the_group_stops_when_settled():
    race, timings, seen = _race({"a": 1e-3, "b": 1.3e-3, "c": 3e-3, "d": 2e-3})
    assert set(race.dropped) == {"c", "d"}
    for name in ("c", "d"):
        d = race.dropped[name]
        assert d.after_blocks == FIRST_TEST and len(timings[name].blocks) == FIRST_TEST  # not timed further
        assert d.leader == "a" and d.ratio.lo >= CUT and d.ratio.lo <= d.ratio.median <= d.ratio.hi
    assert d.reason.startswith("≥ ") and "the fastest" in d.reason
    # b is 1.3x: not beyond the cut, but outside noise from the 10th block on: settled there
    assert race.verdict == "margin" and race.leader == "a" and race.runner_up == "b"
    assert len(timings["a"].blocks) == len(timings["b"].blocks) == POLICY.min_blocks
    assert seen == list(range(1, POLICY.min_blocks + 1))
    assert all(t.stable for t in timings.values())


def test_two_within_the_band_are_settled_as_a_tie():
    race, timings, _ = _race({"a": 1e-3, "b": 1e-3}, amplitude=0.03)
    assert race.verdict == "tie" and not race.dropped
    assert len(timings["a"].blocks) == POLICY.min_blocks


def test_an_open_race_runs_to_its_time_limit_and_is_not_stable():
    race, timings, _ = _race({"a": 1e-3, "b": 1.06e-3}, amplitude=0.15)
    assert race.verdict == "budget" and not race.dropped
    assert all(t.measured_s >= POLICY.max_time for t in timings.values())  # each had its max_time
    assert not any(t.stable for t in timings.values())


def test_the_floor_never_leads_and_one_contender_left_settles_the_race():
    race, timings, _ = _race({"floor": 0.5e-3, "a": 1e-3, "b": 2.5e-3}, may_lead=lambda c: c != "floor")
    assert race.leader == "a" and set(race.dropped) == {"b"}  # the floor is faster, yet a leads
    assert race.verdict == "alone" and len(timings["floor"].blocks) == POLICY.min_blocks


def test_precision_mode_does_not_race():
    policy = TimingPolicy(min_time=0.05, max_time=0.5, min_blocks=10, mode="precision", rel_precision=0.05)
    race, timings, _ = _race({"a": 1e-3, "c": 3e-3}, policy=policy)
    assert not race.dropped and race.verdict is None
    assert len(timings["a"].blocks) == len(timings["c"].blocks) >= policy.min_blocks


def test_a_hopeless_first_call_is_beyond_both_the_factor_and_the_seconds():
    first = {"fast": 0.01, "slow": 0.15, "hopeless": 8.2, "floor": 0.001}
    reasons = hopeless(first, may_lead=lambda c: c != "floor")
    assert set(reasons) == {"hopeless"}  # slow: 15x, under 1 s; the floor is not the yardstick
    assert "820× the fastest's" in reasons["hopeless"] and "not timed further" in reasons["hopeless"]
    assert hopeless({"a": 0.5, "b": 0.9}) == {}  # far slower but under a second


def test_the_progress_line_names_the_group_candidates_left_and_what_was_dropped():
    race = Race({"a": "a", "b": "b", "c": "c"}, {m: [m] for m in "abc"})
    race.after_block(
        FIRST_TEST, {"a": [1.0] * 5, "b": [1.1] * 5, "c": [4.0] * 5}, {"a": 1, "b": 1.1, "c": 4}, 10
    )
    state = {"group": "penalty[points=101] jax jit float32 cpu", "started": 100.0, "block": 5,
             **race.progress(str.upper)}  # fmt: skip
    line = progress_line(json.loads(json.dumps(state)), now=112.0)
    assert line == (
        "  timing penalty[points=101] jax jit float32 cpu: block 5, 12 s; 2 of 3 candidates left; "
        "dropped: C ≥ 4× the fastest"
    )


# -- the harness's records and the report ------------------------------------------------------
def _prepared(strategy: str, seconds: float) -> Prepared:
    """An ok case whose evaluation busy-waits `seconds` of wall time."""
    import time

    def run(native):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    case = Case("penalty", (("points", 101),), "jax", strategy, "jit", "float64", "cpu")
    return Prepared(
        case, {**base_record(case), "status": "ok"}, Compiled(lambda p: p, run, lambda out: (0.0, {}))
    )


@pytest.fixture(scope="module")
def raced(tmp_path_factory):
    """One group timed by the harness in race mode: rev-over-rev 1 ms, taylor 12 ms (dropped),
    fwd-over-fwd 0.5 s on its first call (hopeless under a 0.2 s threshold: a fast case's first
    warm call can take several times its later ones), with a progress file."""
    progress = tmp_path_factory.mktemp("race") / "progress.json"
    written = []
    real_write = bench.measure.write_progress
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench.racing, "HOPELESS_S", 0.2)
        mp.setattr(bench.measure, "write_progress", lambda f, s: (written.append(s), real_write(f, s)))
        group = [_prepared("rev-over-rev", 0.001), _prepared("taylor", 0.012), _prepared("fwd-over-fwd", 0.5)]
        config = HarnessConfig(policy=TimingPolicy(min_rounds=2, max_time=0.05), progress_file=str(progress))
        time_group(group, config=config)
    return {p.case.strategy: p.record for p in group}, written, progress


def test_a_first_call_that_was_still_compiling_does_not_end_the_case():
    """A warm call can still compile (torch.compile recompiles on a failed guard): a case whose
    first warm call is hopeless but whose second is not is timed like the others."""
    calls = []

    def run(native):
        calls.append(None)
        end = time.perf_counter() + (0.5 if len(calls) == 1 else 0.002)
        while time.perf_counter() < end:
            pass

    case = Case("penalty", (("points", 101),), "jax", "taylor", "jit", "float64", "cpu")
    recompiling = Prepared(
        case, {**base_record(case), "status": "ok"}, Compiled(lambda p: p, run, lambda out: (0.0, {}))
    )
    group = [_prepared("rev-over-rev", 0.002), recompiling]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench.racing, "HOPELESS_S", 0.2)
        time_group(group, config=HarnessConfig(policy=TimingPolicy(min_rounds=2, max_time=0.05)))
    record = recompiling.record
    assert record.get("dropped_after_blocks") != 0 and record["blocks"] >= 1, record.get("dropped_reason")
    assert record["median_s"] < 0.1


def test_a_dropped_and_a_hopeless_case_are_recorded_with_their_bound_and_reason(raced):
    records, written, progress = raced
    base, dropped, once = records["rev-over-rev"], records["taylor"], records["fwd-over-fwd"]
    assert (
        base["timing_mode"] == "race"
        and base["race_verdict"] == "alone"
        and "dropped_after_blocks" not in base
    )
    assert base["blocks"] >= 10 and base["fastest_strategy"] == "rev-over-rev"
    assert (
        dropped["dropped_after_blocks"] == dropped["blocks"] == len(dropped["block_medians_s"]) >= FIRST_TEST
    )
    assert dropped["ratio_to_fastest_lo"] >= CUT and dropped["dropped_reason"].startswith("≥ ")
    assert dropped["ratio_to_baseline"] == pytest.approx(dropped["ratio_to_fastest"])  # same blocks
    assert once["dropped_after_blocks"] == 0 and once["blocks"] == 0 and once["rounds"] == 2
    assert once["first_call_s"] >= 0.5 and once["median_s"] >= 0.5  # the faster of its two calls
    assert "not timed further" in once["dropped_reason"]
    # progress: the group at block 0, then after every block, and removed when the group is done
    assert written[0]["block"] == 0 and written[0]["candidates"] == 2 and written[-1] is None
    assert any(s and s["dropped"] and s["left"] == 1 for s in written) and not progress.exists()


def test_the_report_reads_a_dropped_case_as_its_bound_never_as_a_precise_time(raced, tmp_path):
    records, _, _ = raced
    assert dropped_text(records["taylor"]).endswith(
        f"the fastest, dropped after {records['taylor']['blocks']} blocks"
    )
    assert dropped_text(records["fwd-over-fwd"]).endswith("× the fastest's first call, best of 2 warm calls")
    assert dropped_text(records["rev-over-rev"]) == ""
    case_fields = {"case_id", "problem", "points", "backend", "strategy", "compile_mode", "dtype", "device",
                   "status", "error", "median_s"}  # fmt: skip
    full = [
        record(
            "penalty",
            {"points": 101},
            "jax",
            s,
            r["median_s"],
            **{k: v for k, v in r.items() if k not in case_fields},
        )  # fmt: skip
        for s, r in records.items()
    ]
    df, _ = load_runs([write_run(tmp_path / "run", full)])
    text = terminal_table(verdicts(df))
    assert "use rev-over-rev" in text and "avoid: fwd-over-fwd (" in text and "best of 2 warm calls" in text
    assert "⚠" not in text or "competing load" in text  # settled ("alone"): only load can be a caveat


def test_only_what_is_unsettled_carries_a_warning(tmp_path):
    """A 2 % precision missed is no warning; a leader within noise of its runner-up is, unless the
    race settled them as a tie; a race stopped by its time limit is."""
    blocks_a, blocks_b = [1.0e-4, 1.1e-4, 0.9e-4, 1.0e-4], [1.05e-4, 1.0e-4, 1.0e-4, 1.02e-4]
    rows = {}
    for verdict in ("margin", "tie", "budget", None):
        run = write_run(tmp_path / str(verdict), [
            record("penalty", {"points": 101}, "jax", "rev-over-rev", 1.0e-4, block_medians_s=blocks_a,
                   stable=False, race_verdict=verdict),
            record("penalty", {"points": 101}, "jax", "taylor", 1.02e-4, block_medians_s=blocks_b,
                   stable=False, race_verdict=verdict),
        ])  # fmt: skip
        rows[verdict] = decide(load_runs([run])[0]).iloc[0]["caveats"]
    assert rows["tie"] == []
    assert (
        len(rows["budget"]) == 1 and "time limit" in rows["budget"][0] and "within noise" in rows["budget"][0]
    )
    assert rows[None] == rows["margin"] and "within noise" in rows[None][0]  # not a precision complaint
    p101 = {"points": 101}
    clear = write_run(tmp_path / "clear", [
        record("penalty", p101, "jax", "rev-over-rev", 1.0e-4, block_medians_s=[1e-4] * 4, stable=False),
        record("penalty", p101, "jax", "taylor", 2.0e-4, block_medians_s=[2e-4] * 4, stable=False),
    ])  # fmt: skip
    assert decide(load_runs([clear])[0]).iloc[0]["caveats"] == []  # stable False alone is no ⚠


def test_the_mode_is_race_unless_a_precision_or_a_study_set_asks_for_fixed_precision():
    from bench.run import parse_args

    assert parse_args([]).mode == "race"
    assert parse_args(["--precision", "0.05"]).mode == "precision"  # an explicit precision implies it
    assert parse_args(["--set", "spellings"]).mode == "precision"  # its [timing] table asks for it
    assert parse_args(["--set", "spellings", "--mode", "race"]).mode == "race"  # the command line wins


def test_the_driver_prints_the_group_when_it_starts_and_at_least_every_10_s(tmp_path, capsys):
    from bench.driver import Driver

    driver = Driver(tmp_path, [], args=None)
    state = {"group": "penalty[points=101] jax jit float32 cpu", "started": 0.0, "block": 3, "left": 2,
             "candidates": 3, "dropped": ["taylor ≥ 3.1× the fastest"]}  # fmt: skip
    driver.progress_file.write_text(json.dumps(state))
    driver._report_progress()
    driver._report_progress()  # the same group, within 10 s: nothing new
    group, printed = driver.last_progress
    driver.last_progress = (group, printed - bench.racing.PROGRESS_EVERY_S)
    driver._report_progress()  # 10 s later: again
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all("2 of 3 candidates left; dropped: taylor ≥ 3.1×" in ln for ln in lines)


def test_compare_sets_the_decisions_side_by_side(tmp_path):
    from reports.compare import compare_decisions, decisions_table

    def run(name, times, noisy=()):
        records = []
        for points, strategies in times.items():
            for strategy, t in strategies.items():
                values = [t * (1.3 if k % 2 else 0.8) for k in range(6)] if strategy in noisy else [t] * 6
                records.append(
                    record("penalty", {"points": points}, "jax", strategy, t, block_medians_s=values)
                )
        return write_run(tmp_path / name, records)

    rr, ty, fd = "rev-over-rev", "taylor", "fd-central"
    a = run("a", {101: {rr: 1e-4, ty: 2e-4}, 10000: {rr: 1e-3, ty: 2e-3}})
    b = run("b", {101: {rr: 1.05e-4, ty: 1e-4}, 10000: {rr: 3e-3, ty: 1e-3}}, noisy={ty})
    df = compare_decisions(a, b)
    assert list(df["verdict"]) == ["tie", "differ"]  # 101: the same two, within noise in B
    assert decisions_table(df).splitlines()[-1] == "decisions: 1 tie, 1 differ"

    # Three close: A says rev-over-rev (1.01× over taylor, outside noise), B fd-central (≈
    # rev-over-rev); fd-central is within noise of rev-over-rev in A, and rev-over-rev of fd-central
    # in B. With fd-central clearly slower in A, the same leaders differ.
    a3 = run(
        "a3",
        {101: {rr: 1e-4, ty: 1.01e-4, fd: 1.03e-4}, 10000: {rr: 1e-3, ty: 1.01e-3, fd: 2e-3}},
        noisy={fd},
    )
    b3 = run(
        "b3", {101: {rr: 1e-4, ty: 1.5e-4, fd: 0.9e-4}, 10000: {rr: 1e-3, ty: 1.5e-3, fd: 0.9e-3}}, noisy={fd}
    )
    df = compare_decisions(a3, b3)
    assert list(df["a"])[0] == "rev-over-rev (1.01× over taylor)" and list(df["b"])[0].startswith(
        "fd-central"
    )
    assert list(df["verdict"]) == ["tie of 3+", "differ"]
    assert decisions_table(df).splitlines()[-1] == "decisions: 1 tie of 3+, 1 differ"
