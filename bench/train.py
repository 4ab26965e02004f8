"""Train the Lotka–Volterra UDE with Adam in each configuration: `python -m bench.train --out DIR`.

As the canonical example: Adam, learning rate 1e-3, from the seed network's initial weights, N
iterations (500 by `--iters 500`). Each configuration (backend × ODE library × solver ×
sensitivity × penalty strategy) is built once through `Backend.value_and_grad`, its initial loss
is checked against the float64 reference (a wrong loss is recorded `wrong` and not trained), then
trained; one failing configuration is recorded with its error and the others go on.

Writes, appending as each configuration finishes:
- DIR/training.csv: one row per iteration per configuration (the loss before that iteration's
  update, and elapsed_s: seconds since the build started, the initial-loss check excluded);
- DIR/training.jsonl: one summary per configuration (status, compile_s = build + first step,
  train_s = the remaining steps, wall_s, per-step median, initial and final loss).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from backends import BACKENDS, get_backend
from bench.measure import describe_error
from bench.results import append_record, load_records
from problems import get_problem
from problems.errors import BenchInputError, unknown_name

LEARNING_RATE = 1e-3
DEFAULT_ITERS = 500
PARAM_SEED = 0
CSV_FIELDS = (
    "config",
    "backend",
    "ode",
    "solver",
    "sensitivity",
    "strategy",
    "iteration",
    "loss",
    "elapsed_s",
)


@dataclass(frozen=True)
class TrainConfig:
    backend: str
    ode: str
    solver: str
    sensitivity: str = "discretise"
    strategy: str = "rev-over-rev"
    compile_mode: str | None = None
    dtype: str = "float64"
    tol: int = 6

    @property
    def label(self) -> str:
        compile_mode = f"/{self.compile_mode}" if self.compile_mode else ""
        return f"{self.backend}{compile_mode} {self.ode} {self.solver} {self.sensitivity} {self.strategy}"

    def problem(self):
        return get_problem(
            "lv-ude", ode=self.ode, solver=self.solver, sensitivity=self.sensitivity, tol=self.tol
        )

    @classmethod
    def parse(cls, text: str) -> TrainConfig:
        """`backend:ode:solver[:sensitivity[:strategy[:compile_mode]]]`, e.g. torch:torchode:tsit5."""
        parts = text.split(":")
        if not 3 <= len(parts) <= 6:
            raise BenchInputError(
                f"configuration must be backend:ode:solver[:sensitivity[:strategy[:compile_mode]]], got "
                f"{text!r}"
            )
        return cls(*parts)


DEFAULT_CONFIGS = (
    TrainConfig("jax", "diffrax", "tsit5"),
    TrainConfig("jax", "diffrax", "dopri5"),
    TrainConfig("torch", "torchdiffeq", "dopri5"),
    TrainConfig("torch", "torchode", "tsit5"),
    TrainConfig("torch", "torchode", "dopri5", "discretise", "rev-over-rev-func", "compile"),
)
"""One line per framework and ODE library, each with its fastest discretise-then-optimise solver
(torchdiffeq has no tsit5), diffrax's dopri5 to compare with torchdiffeq's like for like, and
torchode's solve under torch.compile (whose penalty must compile too: rev-over-rev's double
backward does not, rev-over-rev-func does)."""


def train(config: TrainConfig, iters: int, lr: float = LEARNING_RATE, on_iteration=None) -> dict:
    """Build, check the initial loss, run `iters` Adam steps; the summary record (never raises)."""
    record = {"config": config.label, **asdict(config), "iters": iters, "lr": lr, "status": None, "error": ""}
    try:
        problem = config.problem()
        backend = get_backend(config.backend)
        params = problem.init_params(PARAM_SEED)
        start = time.perf_counter()
        compiled = backend.value_and_grad(problem, config.strategy, config.dtype, "cpu", config.compile_mode)
        init, step = compiled.trainer(lr)
        state = init(params)
        state, loss = step(state)  # the first step compiles (JAX) or warms up (PyTorch)
        record["compile_s"] = time.perf_counter() - start
        reference, _ = problem.reference(params)
        record["initial_loss"] = loss
        record["initial_loss_rel_err"] = abs(loss - reference) / abs(reference)
        tolerance = problem.tolerance(config.strategy, config.dtype, params)
        if not record["initial_loss_rel_err"] <= tolerance:
            return {**record, "status": "wrong", "error": f"initial loss {loss!r} vs reference {reference!r}"}
        if on_iteration:
            on_iteration(0, loss, record["compile_s"])
        durations = []
        started = time.perf_counter()
        for i in range(1, iters):
            t0 = time.perf_counter()
            state, loss = step(state)
            durations.append(time.perf_counter() - t0)
            if on_iteration:
                on_iteration(i, loss, record["compile_s"] + time.perf_counter() - started)
        record["train_s"] = time.perf_counter() - started
        record["wall_s"] = record["compile_s"] + record["train_s"]
        record["step_median_s"] = statistics.median(durations) if durations else None
        record["final_loss"] = loss
        record["status"] = "ok"
    except BenchInputError as exc:
        record.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one failing configuration is a result, not the end
        record.update(status="failed", error=describe_error(exc))
    return record


def run_training(out: Path, iters: int = DEFAULT_ITERS, configs=DEFAULT_CONFIGS, lr: float = LEARNING_RATE,
                 log=print) -> list[dict]:  # fmt: skip
    """Train every configuration; append to out/training.csv and out/training.jsonl as each ends.

    A configuration already recorded there with the same iterations is skipped (so a resumed run
    neither repeats nor duplicates it); the returned records are those of this call.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, summary_path = out / "training.csv", out / "training.jsonl"
    new_file = not csv_path.exists()
    done = {(r.get("config"), r.get("iters")) for r in load_records(summary_path)}
    records = []
    for config in configs:
        if (config.label, iters) in done:
            continue
        rows = []

        def on_iteration(i, loss, elapsed, config=config, rows=rows):
            rows.append({"config": config.label, **{k: getattr(config, k) for k in CSV_FIELDS[1:6]},
                         "iteration": i, "loss": loss, "elapsed_s": elapsed})  # fmt: skip

        record = train(config, iters, lr, on_iteration)
        with open(csv_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            if new_file:
                writer.writeheader()
                new_file = False
            writer.writerows(rows)
        append_record(summary_path, record)
        records.append(record)
        if log:
            log(f"{record['status']:<7} {config.label}: {_summary_line(record)}", flush=True)
    return records


def _summary_line(record: dict) -> str:
    if record["status"] != "ok":
        return record["error"]
    return (
        f"compile {record['compile_s']:.1f} s, {record['iters']} steps {record['train_s']:.1f} s, "
        f"final loss {record['final_loss']:.4g}"
    )


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="run directory (training.csv, training.jsonl)")
    p.add_argument("--iters", type=int, default=DEFAULT_ITERS, help=f"Adam steps (default {DEFAULT_ITERS})")
    p.add_argument("--lr", type=float, default=LEARNING_RATE, help=f"learning rate (default {LEARNING_RATE})")
    p.add_argument("--backends", help="comma-separated subset of the default configurations' backends")
    p.add_argument("--threads", type=int, default=0, help="intra-op threads, both frameworks (0: all)")
    p.add_argument(
        "--config", action="append", default=[],
        help="backend:ode:solver[:sensitivity[:strategy[:compile_mode]]] (repeatable; replaces the defaults)",
    )  # fmt: skip
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.iters < 1:
            raise BenchInputError(f"--iters must be at least 1, got {args.iters}")
        configs = [TrainConfig.parse(c) for c in args.config] or list(DEFAULT_CONFIGS)
        if args.backends:
            wanted = {b.strip() for b in args.backends.split(",") if b.strip()}
            for b in wanted - set(BACKENDS):
                raise unknown_name("backend", b, BACKENDS)
            configs = [c for c in configs if c.backend in wanted]
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from bench.threads import set_threads  # pins the process before JAX is imported

    set_threads(args.threads)
    records = run_training(Path(args.out), args.iters, configs, args.lr)
    return 0 if all(r["status"] == "ok" for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
