"""The driver end to end: failures isolated (including a segfault, a hang, an allocation failure
and a SIGKILL), results appended as cases finish, bad input refused, and one live run per
directory. Ctrl-C and SIGTERM are in test_run_signals.py (a file per xdist worker: the two halves
take about as long). One real run (`faulty_run`, weights from a `--params` file) serves the failure,
progress, report and parameter-file tests."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bench.environment import gpu_name
from bench.oom import kernel_log, oom_kill_counters
from bench.results import load_records
from problems import init_params, save_params
from tests.runs import QUICK, ROOT, processes_of, run_cli, wait_for

FAULTY_SWEEP = """
[[sweep]]
problem = "penalty"
sizes = { points = [101] }
backends = ["jax"]
strategies = [
    "rev-over-rev", "test-wrong", "test-nan", "test-raise", "test-segfault", "test-hang", "fwd-over-rev",
    "test-memory-error", "test-sigkill",
]
dtypes = ["float64"]
"""


PARAMS_SEED = 11
"""The faulty run's weights come from a `--params` file of this seed (not the default seed 0)."""


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    """One real run shared by the tests below: every failure kind, from weights given as a file."""
    out = tmp_path_factory.mktemp("faulty")
    sweep = out / "sweep.toml"
    sweep.write_text(FAULTY_SWEEP)
    save_params(out / "p.npz", init_params(seed=PARAMS_SEED))
    args = ["--plugin", "tests.faulty", "--budget", "15", "--params", str(out / "p.npz")]
    proc = run_cli(["--set", str(sweep), "--out", str(out / "run"), *args])
    return out / "run", proc


def test_every_failure_kind_is_recorded_and_the_run_goes_on(faulty_run):
    run, proc = faulty_run
    assert proc.returncode == 0, proc.stderr
    records = load_records(run / "results.jsonl")
    by_strategy = {r["strategy"]: r for r in records}
    assert len(by_strategy) == len(records) == 9
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
    assert by_strategy["test-memory-error"]["status"] == "out of memory"
    assert "MemoryError: deliberate" in by_strategy["test-memory-error"]["error"]
    # A SIGKILL the driver did not send: here the OOM-kill evidence is readable and shows none,
    # so it is a crash; where nothing is readable it is labelled out of memory, as inferred.
    killed = by_strategy["test-sigkill"]
    if oom_kill_counters() or kernel_log() is not None:
        assert (
            killed["status"] == "crashed" and "killed by SIGKILL from outside the harness" in killed["error"]
        )
    else:
        assert (
            killed["status"] == "out of memory" and "most likely out of memory (inferred" in killed["error"]
        )


def test_progress_counts_each_case_once_and_never_exceeds_the_total(faulty_run):
    _, proc = faulty_run
    lines = re.findall(r"^\[\s*(\d+)/(\d+)\] .*?  (penalty\[\S+)", proc.stdout, re.MULTILINE)
    assert [int(done) for done, _, _ in lines] == list(range(1, 10)), proc.stdout
    assert {int(total) for _, total, _ in lines} == {9}
    assert len({case for _, _, case in lines}) == 9


def test_report_files_exist_and_list_every_case(faulty_run):
    run, _ = faulty_run
    df = pd.read_csv(run / "results.csv")
    assert len(df) == 9 and df["case_id"].is_unique
    html = (run / "report.html").read_text()
    for status in ("crashed", "over budget", "wrong", "failed", "out of memory"):
        assert status in html
    raw = load_records(run / "raw" / "benchmarks.jsonl")  # kept although children were killed
    assert sorted(r["extra_info"]["strategy"] for r in raw) == ["fwd-over-rev", "rev-over-rev"]
    assert all(len(r["stats"]["data"]) >= 2 for r in raw)
    assert json.loads((run / "environment.json").read_text())["env_id"]


def _main(args, capsys):
    """`bench.run` in this process: its input checks come before any case runs."""
    from bench.run import main

    try:
        code = main([*QUICK, *args])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    return code, capsys.readouterr().err


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
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
        (["--params", str(nan_params)], "b1 contains NaN"),
        (["--plugin", "no.such.module"], "cannot load plugin"),
    ] + ([] if gpu_name() else [(["--device", "cuda"], "device 'cuda' is not available")]):
        code, err = _main(args, capsys)
        assert code == 2, (args, err)
        assert message in err and "Traceback" not in err
    # The same path through the real command line, in a child process.
    proc = run_cli(["--params", str(bad_params)])
    assert proc.returncode == 2, proc.stderr
    assert "W2 has 4 columns (inputs) but layer 1 has 5 outputs" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_params_file_is_used(faulty_run):
    run, proc = faulty_run
    assert proc.returncode == 0, proc.stderr
    (record,) = [r for r in load_records(run / "results.jsonl") if r["strategy"] == "rev-over-rev"]
    from problems import get_problem

    assert record["status"] == "ok"
    params = init_params(seed=PARAMS_SEED)
    assert abs(record["value"] - get_problem("penalty").reference(params)[0]) < 1e-12
    assert abs(record["value"] - get_problem("penalty").reference(init_params())[0]) > 1e-6  # not seed 0's


def test_one_live_run_per_directory_and_a_dead_runs_lock_is_taken_over(tmp_path):
    out = tmp_path / "run"
    slow = ["--set", "smoke", "--backends", "jax", "--max-time", "2", "--precision", "0.001", "--no-report"]
    cmd = [sys.executable, "-m", "bench.run", "--out", str(out), *slow]
    pipes = {"cwd": ROOT, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    first, second = subprocess.Popen(cmd, **pipes), subprocess.Popen(cmd, **pipes)  # same directory at once
    wait_for(lambda: (out / "cases.json").exists() or first.poll() is not None or second.poll() is not None)
    wait_for(lambda: first.poll() is not None or second.poll() is not None)
    loser, winner = (first, second) if first.poll() is not None else (second, first)
    _, err = loser.communicate(timeout=60)
    assert loser.returncode == 2, err
    assert "is in use by a live run" in err or "already holds a run" in err, err
    assert winner.poll() is None, "the sweep must still be running here; make it longer"

    refused = run_cli(["--resume", str(out), "--set", "smoke", "--backends", "jax"])  # a re-queued job
    assert refused.returncode == 2
    assert f"is in use by a live run (pid {winner.pid} on " in refused.stderr, refused.stderr

    wait_for(lambda: load_records(out / "results.jsonl") or winner.poll() is not None)
    assert winner.poll() is None, "the sweep must still be running here; make it longer"
    winner.kill()  # SIGKILL, as a node failure or a scheduler's last resort: no cleanup at all
    winner.communicate(timeout=60)
    wait_for(lambda: not processes_of(out), timeout=30)  # its child died with it
    before = load_records(out / "results.jsonl")

    resumed = run_cli(["--resume", str(out), "--set", "smoke", "--backends", "jax", "--no-report"])
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"took over the lock of a run that ended without releasing it (pid {winner.pid} on " in resumed.stdout
    )
    after = load_records(out / "results.jsonl")
    ids = [r["case_id"] for r in after]
    assert len(ids) == len(set(ids)) == 3  # one set of records
    assert after[: len(before)] == before
