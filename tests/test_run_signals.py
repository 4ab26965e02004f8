"""A run interrupted by Ctrl-C or SIGTERM keeps what it measured, stops its child, and is resumed
without losing or repeating a case."""

import re
import signal
import subprocess
import sys
import time

from bench.results import load_records
from tests.runs import ROOT, processes_of, run_cli, wait_for


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

    resumed = run_cli(["--resume", str(out), *args, "--no-report"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} already done" in resumed.stdout
    after = load_records(out / "results.jsonl")
    ids = [r["case_id"] for r in after]
    assert len(ids) == len(set(ids)) == 6
    assert after[: len(before)] == before


def test_sigterm_stops_the_child_keeps_records_and_resume_runs_the_cut_case_once(tmp_path):
    out = tmp_path / "run"
    slow = ["--set", "smoke", "--max-time", "0.5", "--precision", "0.001"]  # a case in progress is likely
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.run", "--out", str(out), *slow],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(lambda: len(load_records(out / "results.jsonl")) >= 2)
    proc.send_signal(signal.SIGTERM)  # what a scheduler sends at its time limit
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    match = re.search(
        r"interrupted by SIGTERM: everything measured so far is kept(; (\S+) was in progress)?", err
    )
    assert match, err
    in_progress = match.group(2)
    before = load_records(out / "results.jsonl")
    assert 2 <= len(before) < 6
    assert all(r["status"] in ("ok", "unsupported") for r in before)  # the cut case is not "crashed"
    assert (out / "report.html").exists()  # a report of what exists
    assert not processes_of(out)  # the child was stopped with the driver
    assert (out / "run.lock").read_text() == ""  # released cleanly

    resumed = run_cli(["--resume", str(out), "--set", "smoke", "--no-report"])
    assert resumed.returncode == 0, resumed.stderr
    after = load_records(out / "results.jsonl")
    ids = [r["case_id"] for r in after]
    assert len(ids) == len(set(ids)) == 6
    assert after[: len(before)] == before
    if in_progress:
        assert in_progress not in {r["case_id"] for r in before} and ids.count(in_progress) == 1
