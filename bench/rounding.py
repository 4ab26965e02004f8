"""Measured rounding of a finite-difference strategy: the input its tolerance needs.

A stencil amplifies rounding by h⁻ᵏ, and how much rounding there is depends on the kernels and on
the order in which the stencil's terms are accumulated (frameworks, compile modes and CPUs differ:
PyTorch's central difference at 10,000 points erred by 2.9e-3 in float32 with the x+h and x−h
nodes in separate halves of its batch, by 5.1e-5 with them adjacent). So it is measured, not
assumed: the same strategy, backend, variant and device, run in float32 and in float64 on
identical float32 inputs (points, steps, weights, parameters); their difference is the float32
rounding of that very computation (the float64 run's own rounding is ~10⁻⁹ of it).
`problems.tolerances.stencil_tolerance` turns it into the tolerance's stencil-rounding part.
"""

from __future__ import annotations

import math

import numpy as np

from problems.tolerances import LINEAR_REGIME, RoundingMeasurement

MAX_RESCALES = 4
"""Larger steps tried for a float64 case whose float32 rounding is outside the first-order regime."""


def float32_inputs(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters rounded to float32, held as float64 (so both runs see the same values)."""
    return {k: np.asarray(v).astype(np.float32).astype(np.float64) for k, v in params.items()}


def measure_at(backend, subject, strategy: str, device: str, variant: str, params: dict,
               scale: float = 1.0, float32_result: tuple | None = None) -> RoundingMeasurement:  # fmt: skip
    """The float32-vs-float64 difference of `strategy` on `subject` with float32 inputs and its
    finite-difference step multiplied by `scale`."""
    subject = subject.with_inputs_in("float32", stencil_scale=scale)
    inputs = float32_inputs(params)
    if float32_result is None:
        float32_result = backend.value_and_grad(subject, strategy, "float32", device, variant)(inputs)
    float64_result = backend.value_and_grad(subject, strategy, "float64", device, variant)(inputs)
    return RoundingMeasurement(subject.relative_difference(float32_result, float64_result),
                               subject.stencil_amplification("float32"))  # fmt: skip


def stencil_rounding(backend, problem, strategy: str, dtype: str, device: str, variant: str, params: dict,
                     float32_result: tuple | None = None) -> RoundingMeasurement:  # fmt: skip
    """The float32 rounding of `strategy` on the problem's stencil part (`Problem.stencil_problem`),
    as a float32 case of that strategy would make it (`float32_result`: the case's own result, so it
    is not built twice). For a float64 case the float32 measurement is extrapolated, which needs
    the first-order regime: where float32 has no significant digit left at the problem's step
    (high-order stencils of wide nets), the step is doubled until the rounding is below
    LINEAR_REGIME (the measured configuration's amplification goes with it)."""
    subject = problem.stencil_problem()
    own = float32_result if dtype == "float32" and subject is problem else None
    measurement = measure_at(backend, subject, strategy, device, variant, params, 1.0, own)
    scale = 1.0
    for _ in range(MAX_RESCALES if dtype == "float64" else 0):
        if measurement.relative <= LINEAR_REGIME:
            break
        growth = (measurement.relative / LINEAR_REGIME) ** (1.0 / max(subject.stencil_order, 1))
        scale *= 2.0 ** max(1, math.ceil(math.log2(growth)))
        measurement = measure_at(backend, subject, strategy, device, variant, params, scale)
    return measurement


def tolerance_for(backend, problem, strategy: str, dtype: str, params: dict, device: str = "cpu",
                  variant: str | None = None, result: tuple | None = None):  # fmt: skip
    """The tolerance the harness applies to `strategy` (`Problem.tolerance_parts`), with the
    rounding measured where the strategy's error model needs it; `params` as the case uses them
    (float64), `result` the case's own (value, grads) if already computed."""
    from bench.measure import params_in_dtype  # the harness's rounding of the parameters

    measurement = None
    if problem.error_model(strategy) == "finite-difference":
        variant = variant or backend.variants[0]
        measurement = stencil_rounding(backend, problem, strategy, dtype, device, variant, params, result)
    return problem.tolerance_parts(strategy, dtype, params_in_dtype(params, dtype), measurement)
