"""The crash-proof driver: runs pending cases in child pytest processes, one batch per child.

A segfault, an out-of-memory kill or a hang in one case ends only that child: the case in progress
is recorded as `crashed` or `over budget` and a new child continues with the rest. Every finished
case is appended to `results.jsonl` at once, so nothing measured is ever lost. The UDE training
runs (`bench.train`) and the report (`reports.render`) run as child processes too: the driver
orchestrates commands and imports neither.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.cases import Case, write_cases
from bench.measure import base_record
from bench.results import append_record, load_records
from bench.timing import TIMING_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.25


class Driver:
    """Runs pending cases in child pytest processes and keeps `results.jsonl` complete."""

    def __init__(self, out: Path, cases: list[Case], args):
        self.out, self.cases, self.args = out, cases, args
        self.results = out / "results.jsonl"
        self.current = out / "current-case"
        self.started = time.monotonic()
        self.children = 0
        self.proc: subprocess.Popen | None = None
        self.finished = len(self.done_ids() & {c.id for c in cases})

    def done_ids(self) -> set[str]:
        return {r["case_id"] for r in load_records(self.results)}

    def pending(self) -> list[Case]:
        done = self.done_ids()
        return [c for c in self.cases if c.id not in done]

    def progress(self, record: dict) -> None:
        self.finished += 1
        done = self.finished
        median = record.get("median_s")
        timing = f"{median * 1e3:9.3f} ms" if median else " " * 12
        elapsed = time.monotonic() - self.started
        print(
            f"[{done:3d}/{len(self.cases)}] {elapsed:7.1f}s {record['status']:<11} {timing}  "
            f"{record['case_id']}" + (f"  ({record['error'][:90]})" if record.get("error") else ""),
            flush=True,
        )

    def run(self) -> None:
        while pending := self.pending():
            self.run_child(pending)

    def run_child(self, pending: list[Case]) -> None:
        self.children += 1
        cases_file = self.out / "pending-cases.json"
        write_cases(cases_file, pending)
        (self.out / "raw").mkdir(exist_ok=True)
        (self.out / "logs").mkdir(exist_ok=True)
        log_path = self.out / "logs" / f"child-{self.children:03d}.log"
        stamp = datetime.now(UTC).strftime("%H%M%S")
        cmd = [
            sys.executable, "-m", "pytest", str(ROOT / "bench" / "test_cases.py"),
            "-q", "-rsx", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
            "--cases", str(cases_file), "--results", str(self.results),
            "--current", str(self.current), "--threads", str(self.args.threads),
            "--raw", str(self.out / "raw" / "benchmarks.jsonl"),
            f"--benchmark-json={self.out / 'raw' / f'benchmark-{self.children:03d}-{stamp}.json'}",
            *(f"{flag}={getattr(self.args, flag[2:].replace('-', '_'))}" for flag, *_ in TIMING_OPTIONS),
            "--benchmark-sort=name",
            *(f"--plugin={m}" for m in self.args.plugin),
            *([f"--params={Path(self.args.params).resolve()}"] if self.args.params else []),
        ]  # fmt: skip
        if self.current.exists():
            self.current.unlink()
        seen = len(load_records(self.results))
        with open(log_path, "w") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
            while self.proc.poll() is None:
                time.sleep(POLL_S)
                seen = self._report_new(seen)
                if self._over_budget():
                    self._kill()
                    self._record_interrupted("over budget", f"exceeded the {self.args.budget:g} s budget")
            seen = self._report_new(seen)
        code = self.proc.returncode
        self.proc = None
        if self.current.exists():
            detail = f"child exited with {_exit_reason(code)}; log {log_path.relative_to(self.out)}"
            self._record_interrupted("crashed", detail + _tail(log_path))
        elif {c.id for c in pending} - self.done_ids() and not self._made_progress(pending):
            # The child died before starting any case (e.g. an import error): record, don't loop.
            error = f"harness child failed: {_exit_reason(code)}{_tail(log_path)}"
            for case in pending:
                if case.id not in self.done_ids():
                    self._append({**base_record(case), "status": "failed", "error": error})

    def _made_progress(self, pending) -> bool:
        return any(c.id in self.done_ids() for c in pending)

    def _report_new(self, seen: int) -> int:
        records = load_records(self.results)
        for record in records[seen:]:
            self.progress(record)
        return len(records)

    def _over_budget(self) -> bool:
        try:
            return time.time() - self.current.stat().st_mtime > self.args.budget
        except FileNotFoundError:
            return False

    def _kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _record_interrupted(self, status: str, error: str) -> None:
        case_id = self.current.read_text().strip() if self.current.exists() else ""
        case = next((c for c in self.cases if c.id == case_id), None)
        if self.current.exists():
            self.current.unlink()
        if case is not None and case.id not in self.done_ids():
            self._append({**base_record(case), "status": status, "error": error})

    def _append(self, record: dict) -> None:
        append_record(self.results, record)
        self.progress(record)


def run_training(out: Path, iters: int, threads: int) -> None:
    """The UDE training runs (bench/train.py) in a child process, output streamed; a failing
    configuration is recorded in training.jsonl by the child and never ends the run."""
    print(f"training: Adam, {iters} iterations per configuration (bench.train)", flush=True)
    cmd = [sys.executable, "-m", "bench.train", "--out", str(out), "--iters", str(iters),
           "--threads", str(threads)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode not in (0, 1):  # 1: some configuration failed (recorded in training.jsonl)
        print(f"training ended with {_exit_reason(proc.returncode)}; see training.jsonl", flush=True)


def render_report(out: Path) -> bool:
    """`python -m reports.render OUT` in a child process; True if it wrote the report."""
    proc = subprocess.run([sys.executable, "-m", "reports.render", str(out)], cwd=ROOT,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    return proc.returncode == 0


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return (": " + " | ".join(text[-lines:]))[:400] if text else ""
