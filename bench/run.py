"""Run a benchmark sweep: `python -m bench.run [--set default] [--out DIR | --resume DIR] ...`.

Cases run under pytest-benchmark in child processes, so a segfault, an out-of-memory kill or a
hang in one case ends only that child: the case in progress is recorded as `crashed` or
`over budget` and a new child continues with the rest. Every finished case is appended to
`results.jsonl` at once; `--resume DIR` skips cases already recorded there. Ctrl-C stops the
child, keeps everything measured, and renders the report of what exists.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.cases import Case, load_sweep, shard, write_cases
from bench.environment import environment, gpu_name
from bench.measure import base_record
from bench.results import append_record, load_records
from bench.timing import TIMING_OPTIONS, add_timing_options
from problems.errors import BenchInputError

ROOT = Path(__file__).resolve().parent.parent
POLL_S = 0.25


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--set", default="default", help="sweep file or built-in set name (bench/sets)")
    p.add_argument("--backends", help="comma-separated subset, e.g. jax,torch")
    p.add_argument("--strategies", help="comma-separated subset of strategy names")
    p.add_argument("--dtypes", help="comma-separated: float32,float64")
    p.add_argument("--device", dest="devices", help="cpu or cuda (comma-separated for both)")
    p.add_argument("--variants", help="compile modes: jit,eager (JAX), eager,compile (PyTorch)")
    p.add_argument("--sizes", help="problem option overrides, e.g. points=101,10000;order=1,2")
    p.add_argument("--out", help="output directory (default reports/out/<run-id>)")
    p.add_argument("--resume", help="continue the run in this directory, skipping finished cases")
    p.add_argument("--shard", help="i/n: run the i-th of n disjoint slices of the sweep")
    p.add_argument("--budget", type=float, default=300.0, help="seconds per case before it is stopped")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    add_timing_options(p.add_argument)
    p.add_argument("--params", help=".npz parameter file (W1..Wn, b1..bn) instead of the seeded init")
    p.add_argument(
        "--train-iters", type=int,
        help="UDE training iterations after the cases (default: the sweep's [training] iters; 0: none)",
    )  # fmt: skip
    p.add_argument("--no-report", action="store_true", help="do not render the report at the end")
    p.add_argument(
        "--plugin", action="append", default=[],
        help="module whose register() adds strategies (e.g. tests.faulty); repeatable",
    )  # fmt: skip
    return p.parse_args(argv)


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _parse_sizes(value: str | None) -> dict | None:
    if not value:
        return None
    sizes = {}
    for item in value.split(";"):
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise BenchInputError(f"sizes must look like points=101,10000;order=1,2; got {value!r}")
        sizes[name.strip()] = [_scalar(v.strip()) for v in values.split(",")]
    return sizes


def _scalar(text: str) -> int | str:
    """Integers stay integers (so "2.5" reaches the problem and is refused there)."""
    try:
        return int(text)
    except ValueError:
        try:
            float(text)
        except ValueError:
            return text
        return float(text)


def select_cases(args) -> list[Case]:
    overrides = {
        "backends": _split(args.backends),
        "strategies": _split(args.strategies),
        "dtypes": _split(args.dtypes),
        "devices": _split(args.devices),
        "variants": _split(args.variants),
        "sizes": _parse_sizes(args.sizes),
    }
    cases = load_sweep(args.set, overrides)
    if args.shard:
        try:
            index, count = (int(v) for v in args.shard.split("/"))
        except ValueError as exc:
            raise BenchInputError(f"--shard must be i/n, e.g. 2/8; got {args.shard!r}") from exc
        cases = shard(cases, index, count)
    return cases


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


def check_params_file(path: str | None, cases: list[Case]) -> None:
    """Validate `--params` against the network of every problem in the sweep, up front."""
    if not path:
        return
    from problems import get_problem, load_params

    if not Path(path).is_file():
        raise BenchInputError(f"--params {path}: no such file")
    for case in {(c.problem, c.sizes): c for c in cases}.values():
        problem = get_problem(case.problem, **case.options())
        try:
            load_params(path, problem.network)
        except BenchInputError as exc:
            raise BenchInputError(f"--params {path} does not fit {case.id.split(']-')[0]}]: {exc}") from exc


def check_devices(cases: list[Case]) -> None:
    """Refuse a sweep whose every requested device is missing here; a sweep that also has an
    available device runs, and its unavailable cases are recorded as `skipped`."""
    requested = {c.device for c in cases}
    if "cuda" in requested and not gpu_name():
        available = requested - {"cuda"}
        if not available:
            raise BenchInputError(
                "device 'cuda' is not available on this machine (no NVIDIA GPU found); available: cpu"
            )
        print("note: no GPU on this machine; cuda cases will be recorded as skipped", flush=True)


def sweep_training_iters(set_name: str) -> int:
    """Iterations of the sweep file's `[training]` table (0 when it has none)."""
    import tomllib

    from bench.cases import SETS_DIR

    path = Path(set_name) if Path(set_name).exists() else SETS_DIR / f"{set_name}.toml"
    return int(tomllib.loads(path.read_text()).get("training", {}).get("iters", 0))


def run_training(out: Path, iters: int, threads: int) -> None:
    """The UDE training runs (bench/train.py) in a child process, output streamed; a failing
    configuration is recorded in training.jsonl by the child and never ends the run."""
    print(f"training: Adam, {iters} iterations per configuration (bench.train)", flush=True)
    cmd = [sys.executable, "-m", "bench.train", "--out", str(out), "--iters", str(iters),
           "--threads", str(threads)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if proc.returncode not in (0, 1):  # 1: some configuration failed (recorded in training.jsonl)
        print(f"training ended with {_exit_reason(proc.returncode)}; see training.jsonl", flush=True)


def load_plugins(modules: list[str]) -> None:
    """Import each module and call its register(): extra strategies without editing the suite."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name).register()
        except (ImportError, AttributeError) as exc:
            raise BenchInputError(f"cannot load plugin {name!r}: {exc}") from exc


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


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        load_plugins(args.plugin)
        cases = select_cases(args)
        check_params_file(args.params, cases)
        check_devices(cases)
        if args.resume:
            out = Path(args.resume)
            if not (out / "results.jsonl").exists() and not (out / "cases.json").exists():
                raise BenchInputError(f"--resume {out}: no results.jsonl there to resume")
        else:
            run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            out = Path(args.out) if args.out else ROOT / "reports" / "out" / run_id
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    write_cases(out / "cases.json", cases)
    env_file = out / "environment.json"
    if not env_file.exists():
        env_file.write_text(json.dumps(environment(args.threads or None), indent=1))
    driver = Driver(out, cases, args)
    print(f"{len(cases)} cases, {len(cases) - len(driver.pending())} already done; output {out}", flush=True)
    interrupted = False
    try:
        driver.run()
        train_iters = args.train_iters if args.train_iters is not None else sweep_training_iters(args.set)
        if train_iters:
            run_training(out, train_iters, args.threads)
    except KeyboardInterrupt:
        interrupted = True
        driver._kill()
        print("\ninterrupted: everything measured so far is kept", file=sys.stderr)
    if not args.no_report:
        from reports.render import render

        paths = render([out], out)
        print("report:", ", ".join(str(p) for p in paths))
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
