"""The benchmark: one pytest-benchmark test per case, recording even what fails.

Outcomes map to pytest: ok passes, unsupported/skipped skip, wrong/failed xfail with the message,
so the pytest summary (`-rsx`) lists every non-ok case and one failing case never stops the run.
"""

from __future__ import annotations

import pytest

from bench.measure import measure


def test_case(case, benchmark, recorder):
    recorder.start(case)
    record = measure(case, benchmark)
    benchmark.extra_info.update({k: v for k, v in record.items() if not k.endswith("_s") or k == "compile_s"})
    recorder.finish(record, benchmark)
    if record["status"] in ("unsupported", "skipped"):
        pytest.skip(f"{record['status']}: {record['error']}")
    if record["status"] != "ok":
        pytest.xfail(f"{record['status']}: {record['error']}")
