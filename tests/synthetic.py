"""Synthetic run records for the report's tests: every problem family, every status, the fields of
the interleaved timing harness (block medians, ratios to the baseline, load flags) and of network
size sweeps (`layers`, `activation`, `n_params`), with times chosen so that the expected decisions,
findings and crossovers are known exactly."""

from __future__ import annotations

import json
from pathlib import Path

from bench.cases import instance_id

COMPILE_MODE = {"jax": "jit", "torch": "eager"}


def record(
    problem: str,
    options: dict,
    backend: str,
    strategy: str,
    median_s: float | None = None,
    status: str = "ok",
    compile_mode: str | None = None,
    dtype: str = "float64",
    device: str = "cpu",
    error: str = "",
    **extra,
) -> dict:
    """One results.jsonl record; ok records get IQR, rounds, quartiles and a compile time."""
    compile_mode = compile_mode or COMPILE_MODE[backend]
    instance = instance_id(problem, options)
    rec = {
        "case_id": f"{instance}-{backend}-{strategy}-{compile_mode}-{dtype}-{device}",
        "problem": problem,
        **options,
        "backend": backend,
        "strategy": strategy,
        "compile_mode": compile_mode,
        "dtype": dtype,
        "device": device,
        "status": status,
        "error": error or ("" if status == "ok" else f"synthetic {status}"),
    }
    if status == "ok":
        rec.update(
            median_s=median_s,
            iqr_s=0.02 * median_s,
            q1_s=0.99 * median_s,
            q3_s=1.01 * median_s,
            min_s=0.97 * median_s,
            rounds=25,
            compile_s=0.5,
            grad_rel_err=1e-12,
            tolerance=1e-10,
            value_rel_err=1e-13,
            peak_memory_bytes=2**20 * (1 + median_s * 1e3),
            stable=True,
        )
    rec.update(extra)
    return rec


def write_run(path: Path, records: list[dict], env: dict | None = None, decision: dict | None = None) -> Path:
    """A run directory of `records`; `decision`: its decision.json (`{"spellings_compete": True}`, as
    `make advise` writes)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if decision is not None:
        (path / "decision.json").write_text(json.dumps(decision), encoding="utf-8")
    (path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    environment = {
        "env_id": "synthetic01",
        "cpu": "Synthetic CPU",
        "threads": 1,
        "commit": "0000000",
        "libraries": {"jax": "0", "torch": "0"},
        **(env or {}),
    }
    (path / "environment.json").write_text(json.dumps(environment), encoding="utf-8")
    return path


PENALTY_TIMES = {  # seconds at 101 points; 10,000 points take 10× (fwd-over-fwd 100×)
    "rev-over-rev": 1.0e-4,
    "rev-over-rev-func": 1.6e-4,
    "rev-over-fwd": 1.3e-4,
    "fwd-over-rev": 0.8e-4,
    "fwd-over-fwd": 1.5e-3,
    "taylor": 1.2e-4,
    "fd-central": 1.1e-4,
    "hand-derived": 0.5e-4,
}


def penalty_records() -> list[dict]:
    """The seed penalty at 101 and 10,000 points, both frameworks, float32/float64, PyTorch compile
    in float32: fwd-over-rev is fastest, the floor faster still; JAX rev-over-rev-func unsupported,
    PyTorch rev-over-rev fails to compile, fd-central compiled at 10,000 points is wrong."""
    out = []
    for points, scale in ((101, 1.0), (10000, 10.0)):
        for backend in ("jax", "torch"):
            for dtype in ("float32", "float64"):
                for strategy, t in PENALTY_TIMES.items():
                    factor = scale * (10.0 if strategy == "fwd-over-fwd" and points == 10000 else 1.0)
                    options = {"points": points}
                    if backend == "jax" and strategy == "rev-over-rev-func":
                        out.append(
                            record(
                                "penalty",
                                options,
                                backend,
                                strategy,
                                status="unsupported",
                                dtype=dtype,
                                error="a torch.func variant",
                            )
                        )
                        continue
                    torch_factor = 2.0 if backend == "torch" else 1.0
                    out.append(
                        record("penalty", options, backend, strategy, t * factor * torch_factor, dtype=dtype)
                    )
                    if backend == "torch" and dtype == "float32":
                        if strategy == "rev-over-rev":
                            out.append(
                                record(
                                    "penalty",
                                    options,
                                    backend,
                                    strategy,
                                    status="failed",
                                    dtype=dtype,
                                    compile_mode="compile",
                                    error="RuntimeError: torch.compile with aot_autograd does not "
                                    "currently support double backward at runtime_wrappers.py:3560",
                                )
                            )
                        elif strategy == "fd-central" and points == 10000:
                            out.append(
                                record(
                                    "penalty",
                                    options,
                                    backend,
                                    strategy,
                                    status="wrong",
                                    dtype=dtype,
                                    compile_mode="compile",
                                    grad_rel_err=8.5e-4,
                                    tolerance=6.7e-4,
                                    error="relative error 8.5e-04 > tolerance 6.7e-04",
                                )
                            )
                        else:
                            out.append(
                                record(
                                    "penalty",
                                    options,
                                    backend,
                                    strategy,
                                    t * factor / 4,
                                    dtype=dtype,
                                    compile_mode="compile",
                                    compile_s=3.0,
                                )
                            )
    return out


def ude_records() -> list[dict]:
    """Two UDE configurations per framework; the penalty takes 25 % of the JAX step."""
    out = []
    for backend, ode, base in (("jax", "diffrax", 4e-4), ("torch", "torchdiffeq", 8e-2)):
        for sensitivity, f in (("discretise", 1.0), ("adjoint", 1.7)):
            options = {"ode": ode, "sensitivity": sensitivity, "solver": "dopri5", "tol": 6}
            for strategy, g in (("rev-over-rev", 1.0), ("fwd-over-rev", 1.05)):
                t = base * f * g
                penalty = 0.25 * t if backend == "jax" else 0.01 * t
                out.append(
                    record(
                        "lv-ude",
                        options,
                        backend,
                        strategy,
                        t,
                        penalty_median_s=penalty,
                        ode_median_s=t - penalty,
                        solve_median_s=0.3 * t,
                        rhs_evals=50,
                        steps=8,
                    )
                )
    return out


def order_records() -> list[dict]:
    """k = 1…4: JAX nested-rev doubles per order, taylor grows like k²; PyTorch nested-fwd triples;
    nested-rev at k = 5 is over budget."""
    out = []
    for k in range(1, 5):
        options = {"depth": 4, "order": k, "points": 101, "width": 5}
        out.append(
            record("derivative-order", options, "jax", "nested-rev", 1e-4 * 2.0**k, program_ops=300 * 2**k)
        )
        out.append(record("derivative-order", options, "jax", "taylor", 1e-4 * k**2, program_ops=300 * k**2))
        out.append(
            record(
                "derivative-order", options, "torch", "nested-fwd", 1e-3 * 3.0**k, autograd_nodes=60 * 3**k
            )
        )
        out.append(record("derivative-order", options, "torch", "taylor", 2e-3 * k, autograd_nodes=60 * k))
    out.append(
        record(
            "derivative-order",
            {"depth": 4, "order": 5, "points": 101, "width": 5},
            "jax",
            "nested-rev",
            status="over budget",
            error="exceeded the 60 s budget",
        )
    )
    return out


def pinn_records() -> list[dict]:
    """Poisson d = 2, 8, 32: PyTorch taylor is fastest at d = 2, collapsed-taylor from d = 8."""
    out = []
    for d in (2, 8, 32):
        options = {"depth": 4, "dim": d, "points": 128, "samples": 32, "width": 64}
        out.append(record("poisson", options, "jax", "nested-rev", 1e-4 * d**2))
        out.append(record("poisson", options, "jax", "forward-laplacian", 1e-4 * d))
        out.append(
            record("poisson", options, "jax", "collapsed-taylor", status="unsupported", error="JAX has none")
        )
        out.append(record("poisson", options, "torch", "nested-rev", 5e-4 * d**2))
        out.append(record("poisson", options, "torch", "taylor", 2e-4 * d))
        out.append(record("poisson", options, "torch", "collapsed-taylor", 1e-3 + 1e-5 * d))
    return out


def full_records() -> list[dict]:
    """Every family: what a default run produces, in small."""
    return penalty_records() + ude_records() + order_records() + pinn_records()


def n_params(layers: list[int]) -> int:
    return sum(a * b + b for a, b in zip(layers, layers[1:]))


SIZE_LAYERS = ([2, 5, 5, 5, 2], [2, 32, 32, 32, 2], [2, 128, 128, 128, 2], [2, 512, 512, 512, 2])
SIZE_POINTS = (100, 1000, 10000)
SIZE_MODEL = {  # time = a + b · n_params · points
    "rev-over-rev": (1e-4, 2e-9),
    "fwd-over-rev": (3e-4, 1e-9),
    "taylor": (2e-4, 3e-9),
    "hand-derived": (5e-5, 1e-9),
}
"""rev-over-rev and fwd-over-rev cross where n_params · points = 2e5 (the floor never counts)."""


def size_records() -> list[dict]:
    """A widths × points sweep of the penalty (issue 15's contract: `layers`, `activation`,
    `n_params`), float32, both frameworks; PyTorch taylor runs out of memory at the largest cell."""
    out = []
    for layers in SIZE_LAYERS:
        p = n_params(layers)
        for points in SIZE_POINTS:
            options = {"activation": "tanh", "layers": "-".join(map(str, layers)), "points": points}
            for backend in ("jax", "torch"):
                for strategy, (a, b) in SIZE_MODEL.items():
                    if backend == "torch" and strategy == "taylor" and p > 500_000 and points == 10000:
                        out.append(
                            record(
                                "penalty",
                                options,
                                backend,
                                strategy,
                                status="out of memory",
                                dtype="float32",
                                n_params=p,
                                error="CUDA out of memory",
                            )
                        )
                        continue
                    out.append(
                        record(
                            "penalty",
                            options,
                            backend,
                            strategy,
                            a + b * p * points,
                            dtype="float32",
                            n_params=p,
                        )
                    )
    return out


def blocks(median: float, ratios: list[float]) -> list[float]:
    """Per-block medians: `median` times each of `ratios` (one per interleaved block)."""
    return [median * r for r in ratios]


DEVICE_TIMES = {  # seed penalty, 10,000 points, float32: (cpu, cuda) seconds
    ("jax", "rev-over-rev"): (1.8e-3, 2.0e-4),
    ("jax", "fwd-over-rev"): (2.0e-3, 2.4e-4),
    ("jax", "taylor"): (3.1e-3, 3.5e-4),
    ("torch", "rev-over-rev"): (3.7e-3, 9.0e-4),
    ("torch", "taylor"): (6.4e-3, 6.0e-4),
    ("torch", "fd-central"): (6.0e-3, 7.0e-4),
    ("torch", "hand-derived"): (4.0e-3, 3.0e-4),
}
PAPER_NET = {"activation": "tanh", "layers": "50-768-768-512-512-1", "points": 128}


def device_records(device: str) -> list[dict]:
    """One device's run (`device` "cpu" or "cuda") of the seed penalty at 10,000 points in float32,
    and on cuda the collapsed-Taylor paper's Poisson network. Test data only: the times are chosen
    so that JAX keeps its order between devices while PyTorch's winner changes (rev-over-rev on
    cpu, taylor on cuda; the hand-derived floor, fastest on cuda, is never ranked), and on cuda
    collapsed Taylor takes 1/2.5 and folx 1/1.6 of nested-rev's time."""
    column = 0 if device == "cpu" else 1
    extra = {"device_name": "Synthetic GPU"} if device == "cuda" else {}
    out = [record("penalty", {"points": 10000}, backend, strategy, times[column], dtype="float32",
                  device=device, **extra)
           for (backend, strategy), times in DEVICE_TIMES.items()]  # fmt: skip
    if device == "cuda":
        paper = [("torch", "nested-rev", 5e-3), ("torch", "collapsed-taylor", 2e-3),
                 ("jax", "nested-rev", 4e-3), ("jax", "forward-laplacian", 2.5e-3)]  # fmt: skip
        out += [record("poisson", PAPER_NET, backend, strategy, t, dtype="float32", device=device, **extra)
                for backend, strategy, t in paper]  # fmt: skip
    return out
