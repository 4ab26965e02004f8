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

import numpy as np


def float32_inputs(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters rounded to float32, held as float64 (so both runs see the same values)."""
    return {k: np.asarray(v).astype(np.float32).astype(np.float64) for k, v in params.items()}


def stencil_rounding(backend, problem, strategy: str, device: str, variant: str, params: dict,
                     float32_result: tuple | None = None) -> float:  # fmt: skip
    """Relative difference (in the norm of the problem's `compare`) between `strategy` run in
    float32 and in float64 on the same float32 inputs, on the problem's stencil part
    (`Problem.stencil_problem`). `float32_result`: the case's own float32 (value, grads), when the
    case is that float32 run, so it is not built twice."""
    subject = problem.stencil_problem().with_inputs_in("float32")
    inputs = float32_inputs(params)
    if float32_result is None:
        float32_result = backend.value_and_grad(subject, strategy, "float32", device, variant)(inputs)
    float64_result = backend.value_and_grad(subject, strategy, "float64", device, variant)(inputs)
    return subject.relative_difference(float32_result, float64_result)


def tolerance_for(backend, problem, strategy: str, dtype: str, params: dict, device: str = "cpu",
                  variant: str | None = None, result: tuple | None = None):  # fmt: skip
    """The tolerance the harness applies to `strategy` (`Problem.tolerance_parts`), with the
    rounding measured where the strategy's error model needs it; `params` as the case uses them
    (float64), `result` the case's own (value, grads) if already computed."""
    from bench.measure import params_in_dtype  # the harness's rounding of the parameters

    rounding = None
    if problem.error_model(strategy) == "finite-difference":
        variant = variant or backend.variants[0]
        own = result if dtype == "float32" and problem.stencil_problem() is problem else None
        rounding = stencil_rounding(backend, problem, strategy, device, variant, params, own)
    return problem.tolerance_parts(strategy, dtype, params_in_dtype(params, dtype), rounding)
