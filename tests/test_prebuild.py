"""The parallel pre-builder: each case is built cold once, by the child or the helper, and a case the
helper built keeps the helper's compile time."""

import json
import os
import sys
import time
from contextlib import contextmanager

import pytest

from bench import prebuild
from bench.cases import Case, write_cases
from bench.config import HarnessConfig
from bench.measure import GroupRunner, build, measure_group, time_group
from bench.prebuild import MIN_CASES, PRE_BUILDER, NoPreBuilder, PreBuilder, pre_builder
from bench.timing import TimingPolicy

STRATEGIES = ("rev-over-rev", "fwd-over-rev", "rev-over-fwd", "taylor")
"""Four JAX strategies of the 11-point penalty: built in about a second each, so real builds stand
in for torch.compile's (the protocol does not depend on what is cached)."""


def _cases(n: int | None = None):
    return [Case("penalty", (("points", 11),), "jax", s, "jit", "float64", "cpu") for s in STRATEGIES[:n]]


def _alone():
    """Two cases of a group that builds alone (float32: no helper where float64 is "cached")."""
    return [Case("penalty", (("points", 11),), "jax", s, "jit", "float32", "cpu") for s in STRATEGIES[:2]]


@pytest.fixture
def waiting_helper(monkeypatch, tmp_path):
    """Helpers started from here on only wait (`sleep 60`), whatever their arguments."""
    waits = tmp_path / "python"
    waits.write_text("#!/bin/sh\nexec sleep 60\n")
    waits.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(waits))


def _directory(tmp_path, cases):
    for sub in ("claims", "done"):
        (tmp_path / sub).mkdir()
    write_cases(tmp_path / "cases.json", cases)
    return tmp_path


class Beside:
    """A stand-in for `Backend.building_beside`: counts the builds made inside it."""

    def __init__(self, build):
        self.active, self.inside, self.outside, self._build = False, 0, 0, build

    @contextmanager
    def __call__(self, case):
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def build(self, case, config):
        self.inside += self.active
        self.outside += not self.active
        return self._build(case, config)


def test_the_helper_builds_from_the_last_case_back_until_one_is_claimed(tmp_path, monkeypatch):
    cases = _cases(3)
    directory = _directory(tmp_path, cases)
    (directory / "claims" / "1").touch()  # the child has reached case 1
    beside = Beside(build)
    monkeypatch.setattr("bench.measure.building_beside", beside)
    monkeypatch.setattr("bench.measure.build", beside.build)
    assert prebuild.main([str(directory), "--parts=0"]) == 0
    assert (beside.inside, beside.outside) == (1, 0)  # built with the backend's settings for it
    done = {p.stem: json.loads(p.read_text()) for p in (directory / "done").glob("*.json")}
    assert set(done) == {"2"}
    assert done["2"]["status"] == "ok" and done["2"]["compile_s"] > 0
    assert {p.name for p in (directory / "claims").iterdir()} == {"1", "2"}


def test_a_group_is_built_once_by_the_child_and_the_helper_together(monkeypatch):
    cases = _cases(MIN_CASES)
    helpers = []

    def recorded_pre_builder(*args, **kwargs):
        helpers.append(prebuild.pre_builder(*args, **kwargs))
        return helpers[-1]

    def build_once_the_helper_has_built_the_last(case, config):
        if case == cases[0]:  # deterministic: the helper has built at least the last case
            last = helpers[0].dir / "done" / f"{len(cases) - 1}.json"
            deadline = time.monotonic() + 120
            while not last.exists() and helpers[0].proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        return build(case, config)

    beside = Beside(build_once_the_helper_has_built_the_last)
    monkeypatch.setattr("bench.measure.caches_compiled", lambda case: True)
    monkeypatch.setattr("bench.measure.pre_builder", recorded_pre_builder)
    monkeypatch.setattr("bench.measure.build", beside.build)
    monkeypatch.setattr("bench.measure.building_beside", beside)
    config = HarnessConfig(prebuild=True, policy=TimingPolicy(parts=False, max_time=0.05, min_blocks=2))
    prepared = measure_group(cases, config=config)
    assert (beside.inside, beside.outside) == (len(cases), 0)  # the child's builds too
    assert [p.record["status"] for p in prepared] == ["ok"] * len(cases)
    assert all(p.record["compile_s"] > 0 and p.record["median_s"] > 0 for p in prepared)
    assert all(p.record["compile_parallel"] for p in prepared)  # built while the other process built
    # the child builds from the first case on, the helper from the last back: the helper's are a suffix
    by_helper = [p.record.get("compiled_by") == PRE_BUILDER for p in prepared]
    assert by_helper[-1] and not by_helper[0] and by_helper == sorted(by_helper)
    assert helpers[0].proc.poll() is not None and not helpers[0].dir.exists()  # gone before the timing


def test_the_child_loads_what_the_helper_finished_before_its_next_cold_build(monkeypatch):
    """Loading a helper's case from the cache runs while the helper still builds, not after."""
    cases, order = _cases(MIN_CASES), []

    class FinishedTheLast(NoPreBuilder):
        parallel = True

        def finished(self, pending):
            return cases[-1] if cases[-1] in pending else None

        def claim(self, case):
            return {"status": "ok", "compile_s": 9.0} if case == cases[-1] else None

    def recorded_build(case, config):
        order.append(case)
        return build(case, config)

    monkeypatch.setattr("bench.measure.pre_builder", lambda *args: FinishedTheLast())
    monkeypatch.setattr("bench.measure.build", recorded_build)
    config = HarnessConfig(prebuild=True, policy=TimingPolicy(parts=False, max_time=0.05, min_blocks=2))
    prepared = measure_group(cases, config=config)
    assert order == [cases[-1], *cases[:-1]]
    assert [p.case for p in prepared] == cases  # reported and timed in the group's order
    assert prepared[-1].record["compiled_by"] == PRE_BUILDER and prepared[-1].record["compile_s"] == 9.0


def _state(proc, until: str = "stopped") -> str:
    """The helper's state, "stopped", "running" (or sleeping) or "gone", once it is `until` (a
    signal takes effect when the process is next scheduled) or after 2 s."""
    deadline = time.monotonic() + 2
    while True:
        if proc.poll() is not None:
            return "gone"
        code = next(ln for ln in open(f"/proc/{proc.pid}/status") if ln.startswith("State:")).split()[1]
        state = "stopped" if code in ("T", "t") else "running"
        if state == until or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def test_a_later_groups_helper_builds_while_an_earlier_group_builds_and_is_paused_while_it_is_timed(
    monkeypatch,
):
    """Started ahead: the helper of the group that will have one builds beside the group before
    it, is paused before that group is timed, and finishes its own group with the child."""
    alone = _alone()
    helped = _cases(MIN_CASES)
    helpers, seen = [], []

    def recorded_pre_builder(*args, **kwargs):
        helper = prebuild.pre_builder(*args, **kwargs)
        if helper.parallel:
            for name in ("pause", "resume"):
                method = getattr(helper, name)
                monkeypatch.setattr(helper, name, lambda m=method, n=name: (seen.append(n), m()))
        helpers.append(helper)
        return helper

    def build_once_the_helper_has_built_the_last(case, config):
        if case == alone[0]:
            seen.append(("build alone", _state(helpers[0].proc, until="running")))
        if case == alone[-1]:  # deterministic: the helper has built the helped group's last case
            last = helpers[0].dir / "done" / f"{len(helped) - 1}.json"
            deadline = time.monotonic() + 120
            while not last.exists() and helpers[0].proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        return build(case, config)

    def recorded_time_group(group, mark=None, config=None):
        seen.append(("time", group[0].case.dtype))
        return time_group(group, mark, config)

    monkeypatch.setattr("bench.measure.caches_compiled", lambda case: case.dtype == "float64")
    monkeypatch.setattr("bench.measure.pre_builder", recorded_pre_builder)
    monkeypatch.setattr("bench.measure.build", build_once_the_helper_has_built_the_last)
    monkeypatch.setattr("bench.measure.time_group", recorded_time_group)
    config = HarnessConfig(prebuild=True, policy=TimingPolicy(parts=False, max_time=0.05, min_blocks=2))
    runner = GroupRunner([*alone, *helped], config=config)
    records = [runner.take(c).record for c in [*alone, *helped]]
    runner.close()
    assert [h.parallel for h in helpers] == [True, False]  # started ahead (the alone group: none)
    # running beside the alone group's builds, paused before its timing, resumed for its own group
    assert seen == [
        "resume",
        ("build alone", "running"),
        "pause",
        ("time", "float32"),
        "resume",
        ("time", "float64"),
    ]
    assert [r["status"] for r in records] == ["ok"] * len(records)
    assert all(r["compile_parallel"] for r in records)  # every build shared the CPU with it
    assert records[-1]["compiled_by"] == PRE_BUILDER
    assert not any(r.get("compiled_by") for r in records[: len(alone)])
    assert all(r["median_s"] > 0 for r in records)
    assert helpers[0].proc.poll() is not None and not helpers[0].dir.exists()  # ended with its group


def test_pause_stops_the_helper_until_resume(waiting_helper):
    helper = PreBuilder(_cases(MIN_CASES), HarnessConfig(prebuild=True))
    assert _state(helper.proc, until="running") == "running"
    helper.pause()
    assert _state(helper.proc) == "stopped"
    helper.resume()
    assert _state(helper.proc, until="running") == "running"
    helper.pause()
    helper.close()  # a stopped helper is ended too
    assert _state(helper.proc) == "gone"


def test_a_helper_started_ahead_for_a_group_never_reached_ends_with_the_runner(monkeypatch, waiting_helper):
    alone = _alone()
    monkeypatch.setattr("bench.measure.caches_compiled", lambda case: case.dtype == "float64")
    config = HarnessConfig(prebuild=True, policy=TimingPolicy(parts=False, max_time=0.05, min_blocks=2))
    runner = GroupRunner([*alone, *_cases(MIN_CASES)], config=config)
    runner.take(alone[0])
    group, helper = runner.ahead
    assert group == _cases(1)[0].group and _state(helper.proc) == "stopped"  # the alone group is timed
    directory = helper.dir
    runner.close()
    assert helper.proc.poll() is not None and not directory.exists() and runner.ahead is None


def test_finished_names_a_case_only_once_the_helper_has_recorded_it(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # no helper process needed here
    cases = _cases(4)
    helper = PreBuilder(cases, HarnessConfig(prebuild=True))
    (helper.dir / "claims" / "3").touch()
    (helper.dir / "claims" / "2").touch()
    assert helper.finished(cases) is None  # claimed, still building
    (helper.dir / "done" / "2.json").write_text('{"status": "ok", "compile_s": 1.0}')
    assert helper.finished(cases) == cases[2]
    assert helper.finished(cases[:2]) is None  # the child has taken it already
    helper.close()


def test_a_case_claimed_by_a_helper_that_died_is_built_by_the_child(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the helper exits at once
    cases = _cases(4)
    helper = PreBuilder(cases, HarnessConfig(prebuild=True))
    helper.proc.wait()
    helper.pause()  # an exited helper: nothing to stop or continue
    helper.resume()
    (helper.dir / "claims" / "3").touch()  # claimed, never done
    start = time.perf_counter()
    assert helper.claim(cases[3]) is None
    assert helper.claim(cases[0]) is None  # unclaimed: the child claims it
    assert time.perf_counter() - start < 5
    directory = helper.dir
    helper.close()
    assert not directory.exists()


def test_no_helper_where_it_cannot_pay(monkeypatch):
    def yes(case):
        return True

    def broken(case):
        raise RuntimeError("no backend")

    on = HarnessConfig(prebuild=True)
    assert type(pre_builder(_cases(MIN_CASES), yes, HarnessConfig(prebuild=False))) is NoPreBuilder
    assert type(pre_builder(_cases(MIN_CASES - 1), yes, on)) is NoPreBuilder
    assert type(pre_builder(_cases(MIN_CASES), lambda case: False, on)) is NoPreBuilder
    assert type(pre_builder(_cases(MIN_CASES), broken, on)) is NoPreBuilder
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # --threads 1 pins the child
    assert type(pre_builder(_cases(MIN_CASES), yes, on)) is NoPreBuilder


@pytest.mark.parametrize("compile_mode, caches", [("compile", True), ("eager", False)])
def test_torch_compile_caches_what_it_compiles(compile_mode, caches):
    from backends import get_backend

    assert get_backend("torch").caches_compiled(compile_mode) is caches
    assert get_backend("jax").caches_compiled("jit") is False


def test_torch_compile_builds_on_one_thread_beside_a_helper(monkeypatch):
    """Inductor's compile workers only contend with the second building process."""
    from torch._inductor import config

    from backends import get_backend

    monkeypatch.setattr(config, "compile_threads", 4)  # a pool of 4, whatever this machine's CPUs
    before = config.compile_threads
    with get_backend("torch").building_beside("compile"):
        assert config.compile_threads == 1
    assert config.compile_threads == before
    with get_backend("torch").building_beside("eager"), get_backend("jax").building_beside("jit"):
        assert config.compile_threads == before


def test_no_cache_no_helper_for_torch_compile(monkeypatch):
    from torch._inductor import config

    from backends import get_backend

    monkeypatch.setattr(config, "fx_graph_cache", False)
    assert get_backend("torch").caches_compiled("compile") is False


HELPER = (
    "import sys, time; from bench.driver import die_with_parent; "
    "die_with_parent(int(sys.argv[1])); print('ready', flush=True); time.sleep(60)"
)
MIDDLE = f"""
import os, subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", {HELPER!r}, str(os.getpid())], stdout=sys.stdout)
print(helper.pid, flush=True)
time.sleep(60)
"""
"""A child that starts a helper (which arms its parent-death signal) and waits."""


def _alive(pid: int) -> bool:
    try:
        state = next(ln for ln in open(f"/proc/{pid}/status") if ln.startswith("State:"))
    except (FileNotFoundError, StopIteration):
        return False
    return "zombie" not in state


def test_a_helper_dies_with_the_child_that_started_it():
    import subprocess

    middle = subprocess.Popen([sys.executable, "-c", MIDDLE], stdout=subprocess.PIPE, text=True)
    helper_pid = int(middle.stdout.readline())
    assert middle.stdout.readline().strip() == "ready"  # its parent-death signal is armed
    middle.kill()
    middle.wait()
    deadline = time.monotonic() + 10
    while _alive(helper_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper_pid)
    gone = subprocess.run(
        [sys.executable, "-c", "from bench.driver import die_with_parent; die_with_parent(1)"]
    )
    assert gone.returncode == 1  # its parent is not pid 1: gone already
