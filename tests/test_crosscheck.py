"""The clock cross-check (bench/crosscheck.py): the sample, the verdicts, the profiler's per-call
device spans, and the CPU path end to end on a one-case run directory."""

from __future__ import annotations

import json

import pytest

from bench.cases import Case, write_cases
from bench.crosscheck import device_spans, main, sample_cases, verdict


def _record(case_id, median_s, backend="jax", compile_mode="jit", status="ok"):
    return {"case_id": case_id, "backend": backend, "compile_mode": compile_mode, "device": "cuda",
            "status": status, "median_s": median_s}  # fmt: skip


def test_sample_spreads_over_medians_and_leaves_out_compile():
    records = [_record(f"j{i}", 1e-3 * (i + 1)) for i in range(7)]
    records += [_record("c", 1e-3, "torch", "compile"), _record("w", 1e-3, status="wrong")]
    chosen = [r["case_id"] for r in sample_cases(records, per_group=3)]
    assert chosen == ["j0", "j3", "j6"]


@pytest.mark.parametrize(
    ("harness", "wall", "device", "expected"),
    [
        (1.00e-3, 1.00e-3, 1.05e-3, "agree"),
        (1.00e-3, 0.50e-3, 1.00e-3, "returns early"),  # the host saw half the device's work
        (1.30e-4, 1.30e-4, 1.00e-4, "host overhead"),  # 30 µs of dispatch and sync on a short call
        (2.00e-3, 2.00e-3, 1.00e-3, "disagree"),
    ],
)
def test_verdicts(harness, wall, device, expected):
    assert verdict(harness, wall, device, 0.10) == expected


def test_device_span_is_first_kernel_start_to_last_kernel_end_within_each_call():
    windows = {0: (0, 1000), 1: (2000, 3000)}
    kernels = [(100, 300), (250, 700), (2100, 2150), (2400, 2900), (5000, 6000)]  # the last: no call's
    assert device_spans(windows, kernels, 2) == pytest.approx([600e-9, 800e-9])
    with pytest.raises(RuntimeError, match="no GPU kernel inside call 0"):
        device_spans({0: (10_000, 11_000)}, kernels, 1)


def test_cpu_cross_check_of_a_recorded_case(tmp_path, monkeypatch):
    pinned = []
    monkeypatch.setattr("bench.crosscheck.set_threads", pinned.append)  # never pin the test process
    case = Case("penalty", (("points", 11),), "torch", "rev-over-rev", "eager", "float64", "cpu")
    write_cases(tmp_path / "cases.json", [case])
    record = {"case_id": case.id, "backend": "torch", "compile_mode": "eager", "device": "cpu",
              "status": "ok", "median_s": 1e-3, "threads": 1}  # fmt: skip
    (tmp_path / "results.jsonl").write_text(json.dumps(record) + "\n")
    assert main([str(tmp_path), "--calls", "3"]) == 0
    assert pinned == [1]  # the threads the recorded case had
    rows = (tmp_path / "crosscheck.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(case.id)
    fields = dict(zip(rows[0].split(","), rows[1].split(",")))
    assert fields["method"] == "perf_counter" and fields["error"] == ""
    assert float(fields["wall_median_s"]) == float(fields["device_median_s"]) > 0
    assert "| " + case.id in (tmp_path / "crosscheck.md").read_text()


def test_a_directory_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error:")
