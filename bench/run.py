"""Run a benchmark sweep: `python -m bench.run [--set default] [--out DIR | --resume DIR] ...`.

The command line of the harness: it selects the cases, validates every input up front (one
`error:` line and exit 2, nothing written), locks the run directory for the run's life, then hands
the cases to the crash-proof driver (`bench/driver.py`), runs the UDE training and renders the
report. `--resume DIR` skips cases already recorded there. Ctrl-C or SIGTERM (a scheduler's time
limit) stops the child, keeps everything measured, renders the report of what exists and exits
130 / 143; the case that was in progress runs again on resume.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.cases import Case, load_sweep, load_sweep_config, params_options, shard, write_cases
from bench.driver import ROOT, Driver, Interrupted, render_report, run_training
from bench.environment import environment, gpu_name
from bench.groups import order_by_group
from bench.lock import RunLock, describe_holder
from bench.options import Number, OneLineErrorParser, at_least, available_cpus, positive
from bench.plugins import load_plugins
from bench.timing import TIMING_OPTIONS, add_timing_options
from problems import get_problem, load_params
from problems.errors import BenchInputError, unknown_name


def parse_args(argv=None) -> argparse.Namespace:
    """The options; every numeric one declares its valid range in its `type` (bench/options.py),
    so a bad value is one `error:` line and exit 2 before anything is written."""
    p = OneLineErrorParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--set", default="default", help="sweep file or built-in set name (bench/sets)")
    p.add_argument("--backends", help="comma-separated subset, e.g. jax,torch")
    p.add_argument("--strategies", help="comma-separated subset of strategy names")
    p.add_argument("--dtypes", help="comma-separated: float32,float64")
    p.add_argument("--device", dest="devices", help="cpu or cuda (comma-separated for both)")
    p.add_argument(
        "--compile-modes",
        "--variants",  # old spelling
        dest="compile_modes",
        help="compile modes: jit,eager (JAX), eager,compile (PyTorch); old name: --variants",  # old spelling
    )
    p.add_argument(
        "--options", "--sizes", dest="options",
        help="problem option overrides, e.g. points=101,10000;order=1,2 (--sizes is the older name)",
    )  # fmt: skip
    p.add_argument("--out", help="output directory (default reports/out/<run-id>)")
    p.add_argument("--resume", help="continue the run in this directory, skipping finished cases")
    p.add_argument("--shard", help="i/n: run the i-th of n disjoint slices of the sweep")
    p.add_argument("--budget", type=positive(unit="seconds"), default=300.0,
                   help="seconds without progress (a build, a burst) before a case is stopped")  # fmt: skip
    p.add_argument("--threads", type=Number(int, low=0, high=available_cpus(), unit="0: all available CPUs"),
                   default=0, help="intra-op threads (0: all available CPUs)")  # fmt: skip
    p.add_argument("--prebuild", type=Number(int, low=0, high=1), default=1,
                   help="1: a helper process builds each torch.compile group from its last case back "
                   "while the child builds from its first (bench/prebuild.py); 0: not")  # fmt: skip
    add_timing_options(p.add_argument, defaults=False)
    p.add_argument("--params", help=".npz parameter file (W1..Wn, b1..bn; its widths set `layers`)")
    p.add_argument("--model", help="the model of every problem in the sweep: a kind, or your own module "
                   "torch:<module or file.py>:<factory> / jax:<module or file.py>:<factory> "
                   "(an option override)")  # fmt: skip
    p.add_argument(
        "--train-iters", type=at_least(0),
        help="UDE training iterations after the cases (default: the sweep's [training] iters; 0: none)",
    )  # fmt: skip
    p.add_argument("--no-report", action="store_true", help="do not render the report at the end")
    p.add_argument(
        "--list", action="store_true",
        help="print the selected cases (one id a line, then the count per device) and exit; writes nothing",
    )  # fmt: skip
    p.add_argument(
        "--plugin", action="append", default=[],
        help="module whose register() adds strategies (e.g. tests.faulty); repeatable",
    )  # fmt: skip
    args = p.parse_args(argv)
    try:
        apply_sweep_timing(args)
    except BenchInputError as exc:
        p.error(str(exc))
    if args.min_rounds > args.max_rounds:
        p.error(f"argument --min-rounds: {args.min_rounds} exceeds --max-rounds {args.max_rounds}; "
                "valid: an integer >= 1 and <= --max-rounds")  # fmt: skip
    return args


def apply_sweep_timing(args: argparse.Namespace) -> None:
    """Fill the timing options the command line left out (None): from the sweep file's `[timing]`
    table (e.g. `max_time = 1.0`: a quick set can spend less per case), else the harness default.
    Each table value is validated like the command-line option. A precision given (on the command
    line or in the table) without a mode selects the fixed-precision mode."""
    table = load_sweep_config(args.set).get("timing", {})
    if args.mode is None and "mode" not in table and (args.precision is not None or "precision" in table):
        args.mode = "precision"
    options = {flag[2:].replace("-", "_"): (kind, default) for flag, kind, default, _ in TIMING_OPTIONS}
    unknown = set(table) - set(options)
    if unknown:
        raise unknown_name(f"[timing] option in sweep {args.set!r}", sorted(unknown)[0], sorted(options))
    for key, (kind, default) in options.items():
        if getattr(args, key) is not None:
            continue
        if key not in table:
            setattr(args, key, default)
            continue
        try:
            setattr(args, key, kind(str(table[key])))
        except argparse.ArgumentTypeError as exc:
            raise BenchInputError(f"[timing] {key} = {table[key]!r} in sweep {args.set!r}: {exc}") from exc


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _parse_options(value: str | None) -> dict | None:
    if not value:
        return None
    options = {}
    for item in value.split(";"):
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise BenchInputError(
                f"--options / --sizes must look like points=101,10000;order=1,2; got {value!r}"
            )
        options[name.strip()] = [_scalar(v.strip()) for v in values.split(",")]
    return options


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
        "compile_modes": _split(args.compile_modes),
        "options": _parse_options(args.options),
    }
    if args.model:  # one value, taken whole (a module path may hold characters --options splits on)
        overrides["options"] = {**(overrides["options"] or {}), "model": [args.model]}
    cases = load_sweep(args.set, overrides, implied=params_options(args.params, overrides["options"]))
    if args.shard:
        try:
            index, count = (int(v) for v in args.shard.split("/"))
        except ValueError as exc:
            raise BenchInputError(f"--shard must be i/n, e.g. 2/8; got {args.shard!r}") from exc
        cases = shard(cases, index, count)
    return cases


def check_params_file(path: str | None, cases: list[Case]) -> None:
    """Validate `--params` against the network of every problem in the sweep, up front."""
    if not path:
        return
    if not Path(path).is_file():
        raise BenchInputError(f"--params {path}: no such file")
    for case in {c.instance: c for c in cases}.values():
        problem = get_problem(case.problem, **case.options_dict())
        try:
            load_params(path, problem.network)
        except BenchInputError as exc:
            raise BenchInputError(f"--params {path} does not fit {case.instance}: {exc}") from exc


def print_cases(cases: list[Case]) -> None:
    """The cases a run would measure, in the driver's order (groups together), and their counts:
    a sweep's expansion checked on any machine (`--device cpu` for a GPU set)."""
    for case in order_by_group(cases):
        print(case.id)
    groups = len({c.group for c in cases})
    devices = Counter(c.device for c in cases)
    per_device = ", ".join(f"{n} on {d}" for d, n in sorted(devices.items()))
    print(f"{len(cases)} cases in {groups} comparison groups ({per_device})")


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
    return int(load_sweep_config(set_name).get("training", {}).get("iters", 0))


def sweep_training_configs(set_name: str) -> list[str]:
    """The `[training]` table's `configs` (bench.train's `--config` values; empty: its defaults)."""
    return [str(c) for c in load_sweep_config(set_name).get("training", {}).get("configs", [])]


def run_directory(args) -> Path:
    """The run directory, checked before anything is written: `--resume` needs an existing run,
    and `--out` must not name one (that would mix two runs' records) unless it is resumed."""
    if args.resume:
        out = Path(args.resume)
        if not (out / "results.jsonl").exists() and not (out / "cases.json").exists():
            raise BenchInputError(f"--resume {out}: no results.jsonl there to resume")
        if args.out and Path(args.out).resolve() != out.resolve():
            raise BenchInputError(f"--out {args.out} and --resume {out} name different directories; give one")
        return out
    run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else ROOT / "reports" / "out" / run_id
    check_not_a_run(out)
    return out


def check_not_a_run(out: Path) -> None:
    if (out / "results.jsonl").exists() or (out / "cases.json").exists():
        raise BenchInputError(
            f"--out {out} already holds a run; continue it with --resume {out}, or choose another --out"
        )


def _on_stop_signal(signum, frame):
    """Stop the run (once): later SIGTERMs (a scheduler may repeat it) are ignored while the
    run winds down; a second Ctrl-C interrupts the wind-down."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    raise Interrupted(signum)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        load_plugins(args.plugin)
        cases = select_cases(args)
        check_params_file(args.params, cases)
        if args.list:
            print_cases(cases)
            return 0
        check_devices(cases)
        out = run_directory(args)
        out.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out).acquire()
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return run(args, cases, out, lock)
    finally:
        lock.release()


def run(args, cases: list[Case], out: Path, lock: RunLock) -> int:
    """The run itself, under the directory's lock: cases, training, report."""
    if not args.resume:
        try:
            check_not_a_run(out)  # again under the lock: another run may have started meanwhile
        except BenchInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if lock.previous:
        previous = describe_holder(lock.previous)
        print(f"note: took over the lock of a run that ended without releasing it ({previous})", flush=True)
    keep = (lock.fd,) if lock.fd is not None else ()
    write_cases(out / "cases.json", cases)
    env_file = out / "environment.json"
    if not env_file.exists():
        env_file.write_text(json.dumps(environment(args.threads or None), indent=1))
    driver = Driver(out, cases, args, keep_fds=keep)
    print(f"{len(cases)} cases, {len(cases) - len(driver.pending())} already done; output {out}", flush=True)
    stopped_by = None
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGINT, _on_stop_signal)
    try:
        driver.run()
        train_iters = args.train_iters if args.train_iters is not None else sweep_training_iters(args.set)
        if train_iters:
            run_training(out, train_iters, args.threads, sweep_training_configs(args.set), keep_fds=keep)
    except Interrupted as exc:
        stopped_by = exc.signum
        in_progress = driver.stop()
        again = (
            f"; {in_progress} was in progress, is not recorded and runs again on resume"
            if in_progress
            else ""
        )
        name = signal.Signals(stopped_by).name
        print(
            f"\ninterrupted by {name}: everything measured so far is kept{again}", file=sys.stderr, flush=True
        )
    if not args.no_report:
        try:
            render_report(out, keep_fds=keep)
        except (Interrupted, KeyboardInterrupt) as exc:
            stopped_by = stopped_by or getattr(exc, "signum", signal.SIGINT)
            print(
                f"report not rendered (interrupted); later: make report RUN={out}",
                file=sys.stderr,
                flush=True,
            )
    return 128 + stopped_by if stopped_by else 0


if __name__ == "__main__":
    sys.exit(main())
