"""Measure one case: build, check against the float64 reference, then time — in that order.

A case is timed only if its result is finite and within the problem's tolerance; otherwise it is
recorded as `wrong` with its error. Compilation (building, tracing, jit, the first call) happens
outside the timed region and is recorded as `compile_s`; the timed call synchronises the device.
"""

from __future__ import annotations

import os
import time
import traceback

import numpy as np

from backends import get_backend
from backends.base import UnsupportedStrategy
from bench.cases import Case
from bench.memory import peak_memory
from bench.timing import TimingPolicy, measure_until_stable
from problems import get_problem, load_params
from problems.errors import BenchInputError

PARAM_SEED = 0
WARMUP_CALLS = 2
POLICY = TimingPolicy()
"""Timing limits; `bench.run` sets them from --min-rounds, --max-time and --precision."""

PARAMS_FILE: str | None = None
"""An `.npz` parameter file (`bench.run --params`) used instead of the seeded initialisation."""


def case_params(problem) -> dict[str, np.ndarray]:
    """The parameters every case of the run is evaluated at."""
    if PARAMS_FILE:
        return load_params(PARAMS_FILE, problem.network)
    return problem.init_params(PARAM_SEED)


def base_record(case: Case) -> dict:
    return {
        "case_id": case.id,
        "problem": case.problem,
        **case.options_dict(),
        "backend": case.backend,
        "strategy": case.strategy,
        "variant": case.variant,
        "dtype": case.dtype,
        "device": case.device,
        "status": None,
        "error": "",
        "threads": len(os.sched_getaffinity(0)),
        "n_params": case.n_params,
    }


def params_in_dtype(params: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """The parameters as the strategy sees them, back in float64 for the reference."""
    return {k: v.astype(dtype).astype(np.float64) for k, v in params.items()}


def check(problem, strategy: str, dtype: str, value: float, grads: dict) -> dict:
    """Errors against the reference and the verdict: status `ok` or `wrong`.

    The problem's `compare` measures the errors (the full reference gradient, or complex-step
    directional derivatives g·v for networks too large for it) at the parameters as the strategy
    saw them (rounded to `dtype`); its `tolerance` says how large they may be.
    """
    params = params_in_dtype(case_params(problem), dtype)
    tolerance = problem.tolerance(strategy, dtype, params)
    value_err, grad_err, ref_value = problem.compare(params, value, grads)
    result = {
        "value": value,
        "reference_value": ref_value,
        "value_rel_err": value_err,
        "grad_rel_err": grad_err,
        "tolerance": tolerance,
    }
    if not np.isfinite(grad_err):
        return {**result, "status": "wrong", "error": "non-finite value or gradient"}
    if grad_err > tolerance or value_err > tolerance:
        worst = max(grad_err, value_err)
        return {
            **result,
            "status": "wrong",
            "error": f"relative error {worst:.3e} > tolerance {tolerance:.3e}",
        }
    return {**result, "status": "ok"}


def measure(case: Case, benchmark=None) -> dict:
    """The full record of one case; never raises for a failing strategy."""
    record = base_record(case)
    try:
        problem = get_problem(case.problem, **case.options_dict())
        backend = get_backend(case.backend)
        if case.device not in backend.available_devices():
            return {
                **record,
                "status": "skipped",
                "error": f"device {case.device!r} not available to {case.backend} on this machine "
                f"(available: {', '.join(backend.available_devices())})",
            }
        record["device_name"] = backend.device_name(case.device)
        start = time.perf_counter()
        compiled = backend.value_and_grad(problem, case.strategy, case.dtype, case.device, case.variant)
        built = time.perf_counter()
        native = compiled.prepare(case_params(problem))
        first = time.perf_counter()
        out = compiled.run(native)
        done = time.perf_counter()
        record["compile_s"] = (built - start) + (done - first)
        record.update(check(problem, case.strategy, case.dtype, *compiled.to_numpy(out)))
    except UnsupportedStrategy as exc:
        return {**record, "status": "unsupported", "error": str(exc)}
    except BenchInputError as exc:
        return {**record, "status": "failed", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - any failure of a strategy is a result
        return {**record, "status": "failed", "error": describe_error(exc)}

    if record["status"] != "ok" or benchmark is None:
        return record
    try:
        for _ in range(WARMUP_CALLS):
            compiled.run(native)
        record.update(time_into_benchmark(lambda: compiled.run(native), benchmark))
        record.update(peak_memory(lambda: compiled.run(native), case.backend, case.device))
        for name, part in compiled.parts.items():
            for _ in range(WARMUP_CALLS):
                part(native)
            record.update(measure_until_stable(lambda part=part: part(native), POLICY).summary(f"{name}_"))
        if compiled.metrics is not None:
            record.update(compiled.metrics(native))
    except Exception as exc:  # noqa: BLE001
        record.update(status="failed", error=f"during timing: {describe_error(exc)}")
    return record


def time_into_benchmark(fn, benchmark) -> dict:
    """Time `fn` until its median is stable; hand the rounds to pytest-benchmark's own stats so
    its JSON and `pytest-benchmark compare` see exactly the numbers we report."""
    timing = measure_until_stable(fn, POLICY)
    if benchmark is not None:
        if hasattr(benchmark, "_make_stats"):
            benchmark._mode = "benchmark(...)"  # the fixture's own single-use guard
            stats = benchmark._make_stats(timing.iterations)
            for sample in timing.samples:
                stats.update(sample * timing.iterations)  # it stores duration / iterations
        else:  # a pytest-benchmark without that internal: let it re-measure as many rounds
            benchmark.pedantic(fn, rounds=len(timing.samples), iterations=timing.iterations)
    return {
        **timing.summary(),
        "iterations": timing.iterations,
        "mean_s": float(np.mean(timing.samples)),
        "stddev_s": float(np.std(timing.samples, ddof=1)) if len(timing.samples) > 1 else 0.0,
    }


def describe_error(exc: BaseException) -> str:
    """Exception type, message and the innermost frame, on one short line."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message[:300]}{where}"
