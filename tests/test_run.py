"""The driver end to end: failures isolated (including a segfault and a hang), results appended
as cases finish, an interrupted run resumed without losing or repeating a case."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.environment import gpu_name
from bench.results import load_records
from problems import init_params, save_params

ROOT = Path(__file__).resolve().parent.parent

FAULTY_SWEEP = """
[[sweep]]
problem = "penalty"
sizes = { points = [101] }
backends = ["jax"]
strategies = [
    "rev-over-rev", "test-wrong", "test-nan", "test-raise", "test-segfault", "test-hang", "fwd-over-rev",
]
dtypes = ["float64"]
"""


def _run(args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "bench.run", "--max-time", "0.05", "--min-rounds", "2", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("faulty")
    sweep = out / "sweep.toml"
    sweep.write_text(FAULTY_SWEEP)
    proc = _run(
        ["--set", str(sweep), "--out", str(out / "run"), "--plugin", "tests.faulty", "--budget", "15"]
    )
    return out / "run", proc


def test_every_failure_kind_is_recorded_and_the_run_goes_on(faulty_run):
    run, proc = faulty_run
    assert proc.returncode == 0, proc.stderr
    by_strategy = {r["strategy"]: r for r in load_records(run / "results.jsonl")}
    assert len(by_strategy) == 7
    assert by_strategy["rev-over-rev"]["status"] == "ok"
    assert by_strategy["fwd-over-rev"]["status"] == "ok"  # ran after the crash and the hang
    assert by_strategy["test-wrong"]["status"] == "wrong"
    assert by_strategy["test-nan"]["status"] == "wrong"
    assert by_strategy["test-raise"]["status"] == "failed"
    assert "deliberate failure" in by_strategy["test-raise"]["error"]
    assert by_strategy["test-segfault"]["status"] == "crashed"
    assert "SIGSEGV" in by_strategy["test-segfault"]["error"]
    assert by_strategy["test-hang"]["status"] == "over budget"
    assert by_strategy["rev-over-rev"]["median_s"] > 0


def test_report_files_exist_and_list_every_case(faulty_run):
    run, _ = faulty_run
    df = pd.read_csv(run / "results.csv")
    assert len(df) == 7 and df["case_id"].is_unique
    html = (run / "report.html").read_text()
    for status in ("crashed", "over budget", "wrong", "failed"):
        assert status in html
    raw = load_records(run / "raw" / "benchmarks.jsonl")  # kept although children were killed
    assert sorted(r["extra_info"]["strategy"] for r in raw) == ["fwd-over-rev", "rev-over-rev"]
    assert all(len(r["stats"]["data"]) >= 2 for r in raw)
    assert json.loads((run / "environment.json").read_text())["env_id"]


def test_interrupt_then_resume_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "run"
    args = ["--set", "smoke", "--max-time", "0.05"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--out", str(out), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 300
    while len(load_records(out / "results.jsonl")) < 2 and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    before = load_records(out / "results.jsonl")
    assert 2 <= len(before) < 6
    assert (out / "report.html").exists()  # a report of what exists

    resumed = _run(["--resume", str(out), *args])
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} already done" in resumed.stdout
    after = load_records(out / "results.jsonl")
    ids = [r["case_id"] for r in after]
    assert len(ids) == len(set(ids)) == 6
    assert after[: len(before)] == before


def test_user_errors_exit_2_without_traceback(tmp_path):
    params = init_params()
    bad_params, nan_params = tmp_path / "bad.npz", tmp_path / "nan.npz"
    save_params(bad_params, {**params, "W2": np.zeros((5, 4))})
    save_params(nan_params, {**params, "b1": np.full(5, np.nan)})
    for args, message in [
        (["--backends", "julia"], "valid backends: jax, torch"),
        (["--shard", "3/2"], "shard must be i/n"),
        (["--set", "nope"], "built-in sets"),
        (["--resume", str(tmp_path / "missing")], "no results.jsonl"),
        (["--sizes", "points=-3"], "points must be an integer"),
        (["--sizes", "points"], "sizes must look like"),
        (["--device", "tpu"], "valid devices: cpu, cuda"),
        (["--strategies", "nope"], "unknown strategy 'nope'"),
        (["--params", str(tmp_path / "missing.npz")], "no such file"),
        (["--params", str(bad_params)], "W2 has 4 columns (inputs) but layer 1 has 5 outputs"),
        (["--params", str(nan_params)], "b1 contains NaN"),
        (["--plugin", "no.such.module"], "cannot load plugin"),
    ] + ([] if gpu_name() else [(["--device", "cuda"], "device 'cuda' is not available")]):
        proc = _run(args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr


def test_params_file_is_used(tmp_path):
    params = init_params(seed=11)
    save_params(tmp_path / "p.npz", params)
    out = tmp_path / "run"
    proc = _run(["--set", "smoke", "--strategies", "rev-over-rev", "--backends", "jax",
                 "--params", str(tmp_path / "p.npz"), "--out", str(out), "--no-report"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (record,) = load_records(out / "results.jsonl")
    from problems import get_problem

    assert record["status"] == "ok"
    assert abs(record["value"] - get_problem("penalty").reference(params)[0]) < 1e-12
