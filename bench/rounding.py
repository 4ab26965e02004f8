"""Measured rounding of a finite-difference strategy: the input its tolerance needs.

A stencil amplifies rounding by h⁻ᵏ, and how much rounding there is depends on the kernels and on
the order in which the stencil's terms are accumulated (frameworks, compile modes and CPUs differ:
PyTorch's central difference at 10,000 points erred by 2.9e-3 in float32 with the x+h and x−h
nodes in separate halves of its batch, by 5.1e-5 with them adjacent). So it is measured, not
assumed, two ways (`problems.tolerances.stencil_tolerance` uses them):
- the strategy itself, same backend and device, in float32 (same compile mode) and in float64 on
  identical float32 inputs (points, steps, weights, parameters): their difference is the float32
  rounding of that very computation. The float64 evaluation's own rounding is 2⁻²⁹ of that, so how
  it is compiled does not matter: it is built in the backend's default compile mode (under
  torch.compile that spares a finite-difference case a second compilation, about 9 s on 2 cores);
- for a float64 case also one network evaluation's rounding at the stencil's nodes, the backend's
  float64 kernels against numpy's 80-bit extended precision (`evaluation_ulps`).
"""

from __future__ import annotations

import numpy as np

from problems.core import RoundingMeasurement, machine_epsilon
from problems.reference import taylor_coefficients
from problems.tolerances import output_magnitude

EVALUATION_SAMPLE = 4096
"""Nodes at most at which one evaluation's rounding is measured (every k-th node; numpy's extended
precision has no BLAS, so wide nets at many points would take minutes)."""


def in_dtype(params: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """The parameters rounded to `dtype`, held as float64 (so every run sees the same values)."""
    return {k: np.asarray(v).astype(dtype).astype(np.float64) for k, v in params.items()}


def evaluation_ulps(backend, problem, dtype: str, device: str, params: dict) -> float:
    """The largest rounding of one network evaluation at the problem's stencil nodes, `dtype` with
    the backend's kernels against 80-bit extended precision, in ulps of the output's magnitude
    (`output_magnitude`, the scale of a dot product's rounding)."""
    params = in_dtype(params, dtype)
    nodes = problem.stencil_rows(dtype, params)[0]
    nodes = nodes.reshape(-1, nodes.shape[-1]).astype(dtype).astype(np.float64)
    nodes = nodes[:: max(1, len(nodes) // EVALUATION_SAMPLE)]
    values = backend.network_values(problem.network, params, nodes, dtype, device)
    extended = {k: v.astype(np.longdouble) for k, v in params.items()}
    x = nodes.astype(np.longdouble)
    exact = taylor_coefficients(extended, problem.network, x, np.zeros_like(x), 0)[0]
    error = np.abs(values.astype(np.longdouble) - exact).astype(np.float64)
    scale = machine_epsilon(dtype) * output_magnitude(params, problem.network, nodes)
    return float(np.max(error / np.maximum(scale, np.finfo(np.float64).tiny)))


def stencil_rounding(
    backend,
    problem,
    strategy: str,
    dtype: str,
    device: str,
    compile_mode: str,
    params: dict,
    float32_result: tuple | None = None,
) -> RoundingMeasurement:
    """The rounding measurements of `strategy` on the problem's stencil part
    (`Problem.stencil_problem`) for a case in `dtype`; `float32_result` is the case's own result
    when the case is that float32 run, so it is not built twice."""
    subject = problem.stencil_problem()
    inputs = in_dtype(params, "float32")
    rounded = subject.with_inputs_in("float32")
    own = float32_result if dtype == "float32" and subject is problem else None
    low = (
        own
        if own is not None
        else backend.value_and_grad(rounded, strategy, "float32", device, compile_mode)(inputs)
    )
    high = backend.value_and_grad(rounded, strategy, "float64", device, None)(inputs)  # default mode
    ulps = evaluation_ulps(backend, subject, dtype, device, params) if dtype == "float64" else None
    amplification = subject.stencil_amplification("float32")
    return RoundingMeasurement(rounded.relative_difference(low, high), amplification, ulps)


def tolerance_for(backend, problem, strategy: str, dtype: str, params: dict, device: str = "cpu",
                  compile_mode: str | None = None, result: tuple | None = None):  # fmt: skip
    """The tolerance the harness applies to `strategy` (`Problem.tolerance_parts`), with the
    rounding measured where the strategy's error model needs it; `params` as the case uses them
    (float64), `result` the case's own (value, grads) if already computed."""
    measurement = None
    if problem.error_model(strategy) == "finite-difference":
        compile_mode = compile_mode or backend.compile_modes[0]
        measurement = stencil_rounding(
            backend, problem, strategy, dtype, device, compile_mode, params, result
        )
    return problem.tolerance_parts(strategy, dtype, in_dtype(params, dtype), measurement)
