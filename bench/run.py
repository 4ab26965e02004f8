"""Run a benchmark sweep: `python -m bench.run [--set default] [--out DIR | --resume DIR] ...`.

The command line of the harness: it selects the cases, validates every input up front (one
`error:` line and exit 2), then hands them to the crash-proof driver (`bench/driver.py`), runs the
UDE training and renders the report. `--resume DIR` skips cases already recorded there. Ctrl-C
stops the child, keeps everything measured, and renders the report of what exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.cases import Case, load_sweep, load_sweep_config, params_options, shard, write_cases
from bench.driver import ROOT, Driver, render_report, run_training
from bench.environment import environment, gpu_name
from bench.plugins import load_plugins
from bench.timing import add_timing_options
from problems import get_problem, load_params
from problems.errors import BenchInputError


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--set", default="default", help="sweep file or built-in set name (bench/sets)")
    p.add_argument("--backends", help="comma-separated subset, e.g. jax,torch")
    p.add_argument("--strategies", help="comma-separated subset of strategy names")
    p.add_argument("--dtypes", help="comma-separated: float32,float64")
    p.add_argument("--device", dest="devices", help="cpu or cuda (comma-separated for both)")
    p.add_argument("--variants", help="compile modes: jit,eager (JAX), eager,compile (PyTorch)")
    p.add_argument(
        "--options", "--sizes", dest="options",
        help="problem option overrides, e.g. points=101,10000;order=1,2 (--sizes is the older name)",
    )  # fmt: skip
    p.add_argument("--out", help="output directory (default reports/out/<run-id>)")
    p.add_argument("--resume", help="continue the run in this directory, skipping finished cases")
    p.add_argument("--shard", help="i/n: run the i-th of n disjoint slices of the sweep")
    p.add_argument("--budget", type=float, default=300.0, help="seconds per case before it is stopped")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    add_timing_options(p.add_argument)
    p.add_argument("--params", help=".npz parameter file (W1..Wn, b1..bn; its widths set `layers`)")
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
        "variants": _split(args.variants),
        "options": _parse_options(args.options),
    }
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
        render_report(out)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
