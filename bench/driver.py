"""The crash-proof driver: runs pending cases in child pytest processes, one batch per child.

A segfault, an out-of-memory kill or a hang in one case ends only that child: the case in progress
is recorded as `crashed`, `out of memory` or `over budget` and a new child continues with the rest.
Every finished case is appended to `results.jsonl` at once, so nothing measured is ever lost. A
child stopped from outside (SIGTERM or SIGINT: a scheduler's time limit, Ctrl-C) stops the run
instead, and its case in progress is not recorded, so a resume runs it once. Children die with
the driver and inherit the run directory's lock. The UDE training runs (`bench.train`) and the
report (`reports.render`) run as child processes too: the driver orchestrates commands and
imports neither.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.cases import Case, write_cases
from bench.measure import base_record
from bench.oom import classify_sigkill, kernel_log, oom_kill_counters
from bench.racing import PROGRESS_EVERY_S, progress_line
from bench.results import append_record, load_records
from bench.timing import TIMING_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.25
BENCHMARK_PLUGIN = "pytest_benchmark.plugin"
"""The one pytest plugin a benchmark child loads. Plugin autoloading is off in the child: the
installed plugins (torchtyping's imports PyTorch; typeguard's, jaxtyping's, xdist's) cost about 2 s
of CPU per child (collecting bench/test_cases.py: 3.5 s of user CPU with them, 1.5 s without), and
a child that runs only JAX cases then never imports PyTorch."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Interrupted(BaseException):
    """The run is being stopped by a signal (SIGTERM from a scheduler, SIGINT from Ctrl-C)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Driver:
    """Runs pending cases in child pytest processes and keeps `results.jsonl` complete.

    `keep_fds`: descriptors every child inherits (the run directory's lock)."""

    def __init__(self, out: Path, cases: list[Case], args, keep_fds: tuple[int, ...] = ()):
        self.out, self.cases, self.args, self.keep_fds = out, cases, args, keep_fds
        self.results = out / "results.jsonl"
        self.current = out / "current-case"
        self.progress_file = out / "progress.json"
        self.last_progress: tuple[str | None, float] = (None, 0.0)
        """(group, monotonic time) of the last progress line printed."""
        self.started = time.monotonic()
        self.children = 0
        self.proc: subprocess.Popen | None = None
        self.selected = {c.id for c in cases}
        self.reported = self.done_ids() & self.selected
        """Selected cases with a record, each counted once: the progress counter."""

    def done_ids(self) -> set[str]:
        return {r["case_id"] for r in load_records(self.results)}

    def pending(self) -> list[Case]:
        done = self.done_ids()
        return [c for c in self.cases if c.id not in done]

    def progress(self, record: dict) -> None:
        done = len(self.reported)
        median = record.get("median_s")
        timing = f"{median * 1e3:9.3f} ms" if median else " " * 12
        elapsed = time.monotonic() - self.started
        print(
            f"[{done:3d}/{len(self.cases)}] {elapsed:7.1f}s {record['status']:<13} {timing}  "
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
            "-q", "-rsx", "-p", "no:cacheprovider", "-p", BENCHMARK_PLUGIN, "--rootdir", str(ROOT),
            "--cases", str(cases_file), "--results", str(self.results),
            "--current", str(self.current), "--threads", str(self.args.threads),
            f"--prebuild={self.args.prebuild}",
            "--raw", str(self.out / "raw" / "benchmarks.jsonl"), "--progress", str(self.progress_file),
            f"--benchmark-json={self.out / 'raw' / f'benchmark-{self.children:03d}-{stamp}.json'}",
            *(f"{flag}={getattr(self.args, flag[2:].replace('-', '_'))}" for flag, *_ in TIMING_OPTIONS),
            "--benchmark-sort=name",
            *(f"--plugin={m}" for m in self.args.plugin),
            *([f"--params={Path(self.args.params).resolve()}"] if self.args.params else []),
        ]  # fmt: skip
        if self.current.exists():
            self.current.unlink()
        counters = oom_kill_counters()
        with open(log_path, "w") as log, _signals_blocked():
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**child_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, **child_options(self.keep_fds),
            )  # fmt: skip
        while self.proc.poll() is None:
            time.sleep(POLL_S)
            self._report_new()
            self._report_progress()
            if self._over_budget():
                self._kill()
                self._record_interrupted("over budget", f"exceeded the {self.args.budget:g} s budget")
        self._report_new()
        self.progress_file.unlink(missing_ok=True)
        code, pid = self.proc.returncode, self.proc.pid
        self.proc = None
        if self.current.exists():
            if code is not None and -code in STOP_SIGNALS:
                raise Interrupted(-code)  # stopped from outside: the run stops, the case is not recorded
            if code == -signal.SIGKILL:
                status, detail = classify_sigkill(pid, counters, oom_kill_counters(), kernel_log())
            else:
                status, detail = "crashed", f"child exited with {_exit_reason(code)}"
            self._record_interrupted(
                status, f"{detail}; log {log_path.relative_to(self.out)}{_tail(log_path)}"
            )
        elif {c.id for c in pending} - self.done_ids() and not self._made_progress(pending):
            # The child died before starting any case (e.g. an import error): record, don't loop.
            error = f"harness child failed: {_exit_reason(code)}{_tail(log_path)}"
            for case in pending:
                if case.id not in self.done_ids():
                    self._append({**base_record(case), "status": "failed", "error": error})

    def _report_progress(self) -> None:
        """While a group is timed, a line on stderr when it starts and at least every
        PROGRESS_EVERY_S seconds: the group, its blocks, candidates left, what was dropped."""
        try:
            state = json.loads(self.progress_file.read_text())
        except (OSError, ValueError):
            return
        group, printed = self.last_progress
        now = time.monotonic()
        if state.get("group") != group or now - printed >= PROGRESS_EVERY_S:
            print(progress_line(state, time.time()), file=sys.stderr, flush=True)
            self.last_progress = (state.get("group"), now)

    def stop(self) -> str | None:
        """Stop the child and forget the case in progress (it is not recorded, so a resume runs
        it once); returns its id."""
        self._kill()
        case_id = self.current.read_text().strip() if self.current.exists() else None
        if self.current.exists():
            self.current.unlink()
        return case_id if case_id not in self.done_ids() else None

    def _made_progress(self, pending) -> bool:
        return any(c.id in self.done_ids() for c in pending)

    def _report_new(self) -> None:
        """Print progress for each selected case whose first record appeared since the last call."""
        for record in load_records(self.results):
            case_id = record["case_id"]
            if case_id in self.selected and case_id not in self.reported:
                self.reported.add(case_id)
                self.progress(record)

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
        self._report_new()


def child_env() -> dict[str, str]:
    """The environment of every child: unbuffered output, and one thread for NumPy's BLAS unless
    the user set one. NumPy serves the untimed float64 reference and the derived tolerances (tall,
    skinny products: 10⁴ points × 5-wide layers); a second OpenBLAS thread only spins there
    (sched_yield, kernel time), and on a loaded 2-core VM the 10,000-point penalty's reference check
    took 14.4 s with two threads, 5.4 s with one (its finite-difference tolerance: 35 s, 11 s)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1",
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1")}  # fmt: skip


def child_options(keep_fds: tuple[int, ...] = ()) -> dict:
    """Popen options for every child of a run: it inherits `keep_fds` (the run's lock), dies with
    the driver (Linux: PR_SET_PDEATHSIG), and has the stop signals unblocked."""
    return {"pass_fds": keep_fds, "preexec_fn": _child_setup(os.getpid())}


def _child_setup(parent: int):
    # Resolved here, in the parent: the child between fork and exec should only make system calls.
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the driver died before prctl took effect
                os._exit(1)

    return setup


def die_with_parent(parent: int) -> None:
    """Called first by a process that a multithreaded parent started without `child_options` (no
    preexec_fn: Python code between fork and exec may deadlock there): Linux then kills it when
    its parent dies, and it exits at once if `parent` is gone already."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


@contextlib.contextmanager
def _signals_blocked():
    """Defer SIGTERM/SIGINT while a child is started, so a stop never orphans one whose Popen
    object was not yet stored."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_training(out: Path, iters: int, threads: int, configs: list[str] = (),
                 keep_fds: tuple[int, ...] = ()) -> None:  # fmt: skip
    """The UDE training runs (bench/train.py) in a child process, output streamed: `configs`
    (`--config` values; empty: bench.train's defaults). A failing configuration is recorded in
    training.jsonl by the child and never ends the run."""
    print(f"training: Adam, {iters} iterations per configuration (bench.train)", flush=True)
    cmd = [sys.executable, "-m", "bench.train", "--out", str(out), "--iters", str(iters),
           "--threads", str(threads), *(f"--config={c}" for c in configs)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(), **child_options(keep_fds))
    if proc.returncode not in (0, 1):  # 1: some configuration failed (recorded in training.jsonl)
        print(f"training ended with {_exit_reason(proc.returncode)}; see training.jsonl", flush=True)


def render_report(out: Path, keep_fds: tuple[int, ...] = ()) -> bool:
    """`python -m reports.render OUT` in a child process; True if it wrote the report."""
    proc = subprocess.run([sys.executable, "-m", "reports.render", str(out)], cwd=ROOT,
                          env=child_env(), **child_options(keep_fds))  # fmt: skip
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
