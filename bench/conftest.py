"""pytest options for the benchmark layer; `bench.run` drives it, one child process per batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.cases import read_cases
from bench.config import HarnessConfig, harness_config
from bench.groups import order_by_group
from bench.threads import set_threads
from bench.timing import add_timing_options

HARNESS = pytest.StashKey[HarnessConfig]()
"""Where the child's configuration is kept, built once from its options (`pytest_configure`)."""


def pytest_addoption(parser):
    group = parser.getgroup("nested-ad-bench")
    group.addoption("--cases", help="JSON file of cases to run (written by bench.run)")
    group.addoption("--results", help="JSON-lines file that finished records are appended to")
    group.addoption("--current", help="file naming the case in progress (for crash attribution)")
    group.addoption("--raw", help="JSON-lines file for each case's raw pytest-benchmark data")
    group.addoption(
        "--progress", help="file describing the group being timed (for the driver's progress line)"
    )
    group.addoption("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    group.addoption("--prebuild", type=int, default=1, help="1: a helper process pre-builds each "
                    "torch.compile group from its last case (bench/prebuild.py); 0: not")  # fmt: skip
    group.addoption("--plugin", action="append", default=[], help="module with register()")
    group.addoption("--params", help=".npz parameter file to evaluate every case at")
    add_timing_options(group.addoption)


def pytest_configure(config):
    from bench.plugins import load_plugins

    load_plugins(config.getoption("--plugin"))
    config.stash[HARNESS] = harness_config(lambda name: config.getoption("--" + name.replace("_", "-")))
    set_threads(config.getoption("--threads"))


def pytest_generate_tests(metafunc):
    if "case_id" in metafunc.fixturenames:
        path = metafunc.config.getoption("--cases")
        if not path:
            raise pytest.UsageError("run benchmarks through `python -m bench.run` (or pass --cases)")
        # Each comparison group's cases together (the driver sorts them by Case order, which
        # interleaves groups): a group is measured as one, by its first test.
        cases = order_by_group(read_cases(Path(path)))
        # Parametrise by the id string (JSON-serialisable in pytest-benchmark's output).
        metafunc.parametrize("case_id", [c.id for c in cases], ids=[c.id for c in cases])


@pytest.fixture
def case(request, case_id):
    return {c.id: c for c in read_cases(Path(request.config.getoption("--cases")))}[case_id]


def mark_current(current: str | None, case_id: str) -> None:
    """Name the case in progress in the `current` file (the driver attributes a crash or a hang
    to it; the file's mtime starts the case's budget clock). Atomic: written, then renamed."""
    if current:
        tmp = f"{current}.tmp"
        Path(tmp).write_text(case_id)
        os.replace(tmp, current)


@pytest.fixture(scope="session")
def harness(request) -> HarnessConfig:
    """The child's configuration, built once from its options."""
    return request.config.stash[HARNESS]


@pytest.fixture(scope="session")
def groups(request, harness):
    """Measures the child's cases group by group (bench.measure.GroupRunner), naming the case in
    progress at each build and each burst of the interleaved timing; a helper started ahead for a
    group never reached is ended with the session."""
    from bench.measure import GroupRunner

    current = harness.current_file
    cases = order_by_group(read_cases(Path(request.config.getoption("--cases"))))
    runner = GroupRunner(cases, mark=lambda case_id: mark_current(current, case_id), config=harness)
    yield runner
    runner.close()


@pytest.fixture
def recorder(harness):
    """Marks the case as in progress, then appends its finished record."""
    from bench.results import append_record

    current, results, raw = harness.current_file, harness.results_file, harness.raw_file

    class Recorder:
        def start(self, case):
            mark_current(current, case.id)

        def finish(self, record, benchmark=None):
            if results:
                append_record(results, record)
            # Raw timings per case: pytest-benchmark's own JSON is written only at session end,
            # which a crashed or killed child never reaches.
            if raw and benchmark is not None and benchmark.stats is not None:
                append_record(raw, benchmark.stats.as_dict(include_data=True))
            if current and Path(current).exists():
                Path(current).unlink()

    return Recorder()
