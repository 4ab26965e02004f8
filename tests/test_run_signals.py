"""A run interrupted by Ctrl-C or SIGTERM keeps what it measured, stops its child, and is resumed
without losing or repeating a case.

One run directory goes through both signals, as a scheduler's job would: started and stopped by
Ctrl-C, resumed and stopped by SIGTERM while a case is in progress, then resumed to the end (three
real runs instead of two started and two resumed ones: the signals need real processes, not each
their own sweep)."""

import re
import signal
import subprocess
import sys
import time

from bench.results import load_records
from tests.runs import ROOT, processes_of, run_cli, wait_for


def _start(args):
    return subprocess.Popen(
        [sys.executable, "-m", "bench.run", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_interrupt_sigterm_and_resume_lose_and_repeat_nothing(tmp_path):
    out = tmp_path / "run"
    results = out / "results.jsonl"

    # Ctrl-C: exit 130, what was measured kept, a report of what exists.
    proc = _start(["--out", str(out), "--set", "smoke", "--max-time", "0.05"])
    deadline = time.time() + 300
    while len(load_records(results)) < 2 and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    after_int = load_records(results)
    assert 2 <= len(after_int) < 6
    assert (out / "report.html").exists()  # a report of what exists
    (out / "report.html").unlink()  # the SIGTERM below must write its own

    # Resumed, then SIGTERM (what a scheduler sends at its time limit) while a case is in progress.
    slow = ["--max-time", "0.5", "--precision", "0.001"]  # a case in progress stays in progress
    proc = _start(["--resume", str(out), "--set", "smoke", *slow])
    wait_for(lambda: (out / "current-case").exists() or proc.poll() is not None)  # the new child's case
    proc.send_signal(signal.SIGTERM)
    stdout, err = proc.communicate(timeout=120)
    assert f"{len(after_int)} already done" in stdout
    assert proc.returncode == 143, err
    match = re.search(
        r"interrupted by SIGTERM: everything measured so far is kept(; (\S+) was in progress)?", err
    )
    assert match, err
    in_progress = match.group(2)
    before = load_records(results)
    assert 2 <= len(before) < 6
    assert before[: len(after_int)] == after_int
    assert all(r["status"] in ("ok", "unsupported") for r in before)  # the cut case is not "crashed"
    assert (out / "report.html").exists()  # a report of what exists
    assert not processes_of(out)  # the child was stopped with the driver
    assert (out / "run.lock").read_text() == ""  # released cleanly

    # Resumed to the end: every case once, the records before the signals unchanged.
    resumed = run_cli(["--resume", str(out), "--set", "smoke", "--no-report"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} already done" in resumed.stdout
    after = load_records(results)
    ids = [r["case_id"] for r in after]
    assert len(ids) == len(set(ids)) == 6
    assert after[: len(before)] == before
    if in_progress:
        assert in_progress not in {r["case_id"] for r in before} and ids.count(in_progress) == 1
