"""The benchmark: one pytest-benchmark test per case, recording even what fails.

The cases of a comparison group are timed together, interleaved, by the group's first test
(`bench.measure.GroupRunner`); each test then hands its case's rounds to its own benchmark
fixture, measures the case's memory and appends its record.

Outcomes map to pytest: ok passes, unsupported/skipped skip, wrong/failed xfail with the message,
so the pytest summary (`-rsx`) lists every non-ok case and one failing case never stops the run.
"""

from __future__ import annotations

import pytest

from bench.measure import finish


def test_case(case, benchmark, recorder, groups):
    recorder.start(case)
    record = finish(groups.take(case), benchmark)  # the first case of a group times the group
    benchmark.extra_info.update({k: v for k, v in record.items() if not k.endswith("_s") or k == "compile_s"})
    recorder.finish(record, benchmark)
    if record["status"] in ("unsupported", "skipped"):
        pytest.skip(f"{record['status']}: {record['error']}")
    if record["status"] != "ok":
        pytest.xfail(f"{record['status']}: {record['error']}")
