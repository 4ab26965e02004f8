"""Helpers of the end-to-end tests of `python -m bench.run`: run it as a child process, find
the processes of a run directory, wait for a condition."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUICK = ["--max-time", "0.05", "--min-rounds", "2"]
"""The timing options of every quick run: the tests check behaviour, not times."""


def run_cli(args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "bench.run", *QUICK, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, **kw,
    )  # fmt: skip


def processes_of(run_dir: Path) -> list[int]:
    """Live processes whose command line names this run directory (the driver, its children)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(run_dir) in (proc / "cmdline").read_bytes().decode(
                errors="replace"
            ):
                pids.append(int(proc.name))
        except OSError:
            continue
    return [p for p in pids if p != os.getpid()]


def wait_for(condition, timeout=300.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.1)
