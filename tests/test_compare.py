"""Run comparison: status regressions always flagged, timing only beyond the measured noise."""

import json
import shutil
from pathlib import Path

from reports.compare import _frame, compare, main

FIXTURE = Path(__file__).parent / "fixtures" / "run"


def _edit(tmp_path, name, edit):
    run = tmp_path / name
    shutil.copytree(FIXTURE, run)
    records = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    for r in records:
        edit(r)
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def _verdicts(a, b):
    df = compare(_frame(a), _frame(b))
    return dict(zip(df["case_id"], df["verdict"]))


def test_identical_runs_are_within_noise(tmp_path):
    v = _verdicts(FIXTURE, FIXTURE)
    ok = [k for k in v if "rev-over-rev-jit" in k or "rev-over-rev-eager" in k]
    assert ok and all(v[k] == "within noise" for k in ok)
    assert not any(x.startswith("REGRESSION") for x in v.values())


def test_slowdown_beyond_noise_is_flagged_small_one_is_not(tmp_path):
    def slower(r):
        if r["backend"] == "jax" and r["status"] == "ok":
            r["median_s"] *= 2.0  # far outside IQR 12 µs / √500 rounds
        if r["backend"] == "torch" and r["status"] == "ok":
            r["median_s"] *= 1.05  # below the 10 % minimum change

    v = _verdicts(FIXTURE, _edit(tmp_path, "b", slower))
    assert v["penalty[points=101]-jax-rev-over-rev-jit-float32-cpu"] == "slower"
    assert v["penalty[points=101]-torch-rev-over-rev-eager-float32-cpu"] == "within noise"


def test_status_regression_fails_ci_but_timing_never_does(tmp_path, capsys):
    def broken(r):
        if r["case_id"].startswith("penalty[points=101]-jax-rev-over-rev-jit"):
            r.update(status="wrong", error="relative error 1e-3 > tolerance 1e-10", median_s=None)

    b = _edit(tmp_path, "broken", broken)
    assert (
        _verdicts(FIXTURE, b)["penalty[points=101]-jax-rev-over-rev-jit-float32-cpu"]
        == "REGRESSION: ok → wrong"
    )
    assert main([str(FIXTURE), str(b), "--fail-on-correctness", "--out", str(tmp_path)]) == 1
    assert "1 correctness regression" in capsys.readouterr().out
    assert (tmp_path / "compare.html").exists()

    def slow(r):
        if r["status"] == "ok":
            r["median_s"] *= 3

    assert main([str(FIXTURE), str(_edit(tmp_path, "slow", slow)), "--fail-on-correctness",
                 "--out", str(tmp_path)]) == 0  # fmt: skip


def test_fixed_case_is_reported(tmp_path):
    def fixed(r):
        if r["status"] == "wrong":
            r.update(status="ok", median_s=0.001, iqr_s=0.0001, rounds=10)

    v = _verdicts(FIXTURE, _edit(tmp_path, "fixed", fixed))
    assert v["penalty[points=101]-torch-fd-central-eager-float32-cpu"] == "fixed: wrong → ok"
