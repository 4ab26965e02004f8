"""Accuracy contracts shared by the problems, derived rather than guessed, portable across CPUs.

A tolerance is the sum of parts (`Tolerance`), each recorded with the case:
- `rounding`: what an exact strategy may differ by in the working dtype: a chain of roundings per
  point (probabilistic, λ·√n·ε) plus the accumulation of N per-point terms (deterministic, γ_N,
  any summation order), times the sum's condition number; float64 never below the contract.
- `truncation`: an approximate strategy's predicted truncation error, from the reference's
  higher Taylor coefficients.
- `stencil_rounding`: the rounding of a finite-difference strategy, amplified by h⁻ᵏ. It depends
  on the kernels and on the order in which the stencil's terms are accumulated, which differ
  between frameworks, compile modes and CPUs (PyTorch's central difference at 10,000 points: 2.9e-3
  with the x+h and x−h nodes in separate halves of the batch, 5.1e-5 with them adjacent), so it is
  measured (bench/rounding.py) and propagated (`stencil_tolerance`).
- `statistical`: a stochastic estimator's bias + Z·σ.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from problems.core import RoundingMeasurement, Tolerance, freeze, machine_epsilon, thaw
from problems.errors import BenchInputError
from problems.models import OPS_PER_LAYER, ModelSpec  # noqa: F401  (OPS_PER_LAYER re-exported)
from problems.network import flatten, unflatten
from problems.reference import (
    COMPLEX_STEP,
    batched,
    check_directions,
    complex_step_gradient,
    complex_step_jacobian,
    directional_reference,
    output_layer_input,
    taylor_coefficients,
)

PROBABILISTIC_LAMBDA = 10.0
"""λ in the probabilistic rounding bound λ·√n·ε (Higham & Mary, SIAM J. Sci. Comput. 2019): it
holds with probability ≥ 1 − 2n·exp(−λ²/2)·..., i.e. essentially always for λ = 10."""

EXACT_FLOAT64_TOLERANCE = 1e-9
"""Contract for exact strategies of higher-order losses in float64 (relative 1e-9). A k-th
derivative sums Faà di Bruno terms of growing count and size, so it is allowed more than the
penalty's 1e-10; observed errors are ≤ 2e-14 up to k = 8 on the seed net."""

STENCIL_ROUNDING_SAFETY = 2.0
"""Factor on a finite-difference strategy's measured float32 rounding: the measurement is the
error of the very computation (same inputs, kernels, layout) against float64, so it needs a margin
only for the reference-side rounding and the run-to-run variation of parallel reductions."""

EXTRAPOLATION_SAFETY = 4.0
"""Factor on the float64 rounding extrapolated from a float32 measurement (ε₆₄/ε₃₂ times the
ratio of the stencils' amplifications h⁻ᵏ): the scaling is exact to first order, its constant is
not (float32 and float64 kernels block their reductions differently; where the float32
measurement was first-order, the float64 rounding came out at most 0.9× the extrapolation here)."""

LINEAR_REGIME = 0.01
"""A float32 rounding measurement above this relative size is outside the first-order regime
(high-order stencils of wide nets keep no significant float32 digit) and is not extrapolated: the
propagated model (`stencil_rounding_model`) stands alone there."""

MAX_USEFUL_ERROR = 0.5
"""An approximate strategy (finite differences, stochastic estimator) whose predicted relative error
exceeds this is refused (recorded as failed with the reason), not timed: its tolerance would accept
any gradient."""


def rounding_bound(operations: float, dtype: str) -> float:
    """λ·√n·ε: the probabilistic bound on the relative error of a chain of n roundings."""
    return PROBABILISTIC_LAMBDA * math.sqrt(operations) * machine_epsilon(dtype)


def accumulation_bound(terms: int, dtype: str) -> float:
    """γ_N = N·u/(1 − N·u), u = ε/2: the worst-case relative error of a sum of N terms in any order
    (Higham, Accuracy and Stability of Numerical Algorithms, Lemma 3.1 and §4.2). Not the
    probabilistic √N: PyTorch's float32 weight gradients over N points were measured here erring
    ∝ N (1.7e-6, 3.5e-5, 3.7e-4 at 10³, 10⁴, 10⁵ points), as recursive summation of terms of one
    sign does."""
    u = machine_epsilon(dtype) / 2
    return terms * u / (1.0 - terms * u)


def path_operations(spec: ModelSpec, passes: int) -> int:
    """Rounded operations on one point's path through the network, `passes` times (Taylor
    coefficients of the input derivative and the reverse pass of the weight gradient): the
    model's own count (`ModelSpec.path_operations`: per dense layer its fan-in's dot-product terms
    plus OPS_PER_LAYER, plus what its kind adds)."""
    return passes * spec.path_operations()


def exact_rounding(spec: ModelSpec, passes: int, points: int, condition: float, dtype: str,
                   contract: float | None = None, extra_operations: int = 0) -> float:  # fmt: skip
    """The rounding bound of an exact strategy: C·(λ·√n·ε + γ_N) with n the per-point path's
    roundings (`path_operations` + `extra_operations`, e.g. the terms an operator sums), N the
    points accumulated and C the sum's condition number (`summation_condition`); in float64 at
    least `contract`, the suite's promise."""
    operations = path_operations(spec, passes) + extra_operations
    bound = condition * (rounding_bound(operations, dtype) + accumulation_bound(points, dtype))
    return max(bound, contract) if dtype == "float64" and contract is not None else bound


def usable_bound(bound: float, strategy: str, problem, dtype: str, remedy: str) -> float:
    """`bound`, or a BenchInputError when it is too large to tell an approximate gradient (finite
    differences, a stochastic estimate) from a wrong one."""
    if bound > MAX_USEFUL_ERROR:
        raise BenchInputError(
            f"{strategy} on {problem.name} {problem.options} in {dtype}: predicted relative error "
            f"{bound:.2g} > {MAX_USEFUL_ERROR:g}; a tolerance this loose would accept any gradient ({remedy})"
        )
    return bound


def truncation_bound(spec: ModelSpec, params, full: bool, loss, first_order_error) -> float:
    """Predicted relative error of an approximate loss from its truncation: `loss(p)` is the exact
    loss and `first_order_error(p)` its first-order change from the stencil's truncation (both
    batched and real-analytic). 2·|∇θE| relative to the gradient's scale (max|g| for the full
    comparison, the RMS of g·v over the check directions for the directional one), and 2·|E|/|L| for
    the value; the factor 2 covers the O(h⁴) and squared-error remainders."""
    value = abs(float(np.real(loss(batched(params))[0])))
    value_error = abs(float(np.real(first_order_error(batched(params))[0])))
    if full:
        grad_e = flatten(complex_step_gradient(first_order_error, params, spec), spec)
        scale = np.max(np.abs(flatten(complex_step_gradient(loss, params, spec), spec)))
        truncation = np.max(np.abs(grad_e))
    else:
        directions = check_directions(spec)
        _, grad_e = directional_reference(first_order_error, params, spec, directions)
        _, grad_l = directional_reference(loss, params, spec, directions)
        scale, truncation = np.sqrt(np.mean(grad_l**2)), np.max(np.abs(grad_e))
    return float(2.0 * max(truncation / max(scale, 1e-300), value_error / max(value, 1e-300)))


def output_magnitude(params, spec: ModelSpec, x: np.ndarray) -> np.ndarray:
    """|W_out||h(x)| + |b_out| (h: what the linear output layer reads),
    shape (N, d_out): the scale of the output layer's rounding error
    (the leading factor of the dot-product error bound |fl(wᵀh) − wᵀh| ≤ γₙ|w|ᵀ|h|)."""
    h, W, b = output_layer_input(params, spec, x)
    return np.abs(h) @ np.abs(W).T + np.abs(b)


def stencil_rounding_model(spec, params, dtype: str, full: bool, loss, nodes, weights, coefficient,
                           outputs=None) -> float:  # fmt: skip
    """The rounding of a loss built from stencils Dᵣ = Σ_m w_rm U(x_rm), relative to the gradient's
    scale, per ulp of a network evaluation (multiply by the measured evaluation ulps).

    `nodes` (R, M, d) are each stencil row's evaluation points, `weights` (R, M) its weights (h⁻ᵏ
    included), `coefficient` (R,) = |∂L/∂Dᵣ|. Two terms (Higham, Accuracy and Stability of Numerical
    Algorithms, §3.1 and §4.2), every term taken in absolute value (`outputs` (R,): the network
    output each row differentiates; default the first):
    - rounding of Dᵣ: each evaluation off by ε·M (`output_magnitude`), so Dᵣ by ρᵣ = ε Σ_m |w_rm| M(x_rm),
      and the loss (hence the gradient's factor ∂L/∂D) by Σ cᵣρᵣ / L;
    - rounding of the gradient's accumulation Σᵣ cᵣ Σ_m w_rm ∇θU(x_rm), usually the larger: the
      weights nearly cancel, so each component is a sum of R·M terms that cancel, with error
      ≤ ⌈log₂(R·M)⌉·ε·Σ|terms| for pairwise or blocked summation, |∂θU(x_rm)| from the complex-step
      Jacobian at every node (full) or in 2-norm from 16 random projections (directional).
    """
    eps = machine_epsilon(dtype)
    R, M, d = nodes.shape
    flat_nodes = nodes.reshape(R * M, d)
    node_outputs = np.zeros(R * M, dtype=int) if outputs is None else np.repeat(outputs, M)
    every_node = np.arange(R * M)

    def u_at_nodes(p):
        return taylor_coefficients(p, spec, flat_nodes, np.zeros_like(flat_nodes), 0)[0][
            ..., every_node, node_outputs
        ]

    weight_matrix = coefficient[:, None] * np.abs(weights)  # (R, M)
    if full:
        scale = np.max(np.abs(flatten(complex_step_gradient(loss, params, spec), spec)))
        jacobian = np.abs(complex_step_jacobian(u_at_nodes, params, spec)).reshape(-1, R, M)
        gradient_rounding = np.max(np.einsum("rm,prm->p", weight_matrix, jacobian))
    else:
        _, grad_l = directional_reference(loss, params, spec, check_directions(spec))
        scale = np.sqrt(np.mean(grad_l**2))
        probes = check_directions(spec, count=16, seed=4321)
        theta = flatten(params, spec)
        projected = np.imag(u_at_nodes(unflatten(theta + 1j * COMPLEX_STEP * probes, spec))) / COMPLEX_STEP
        gradient_rounding = np.sum(weight_matrix * np.sqrt(np.mean(projected**2, axis=0)).reshape(R, M))
    magnitude = output_magnitude(params, spec, flat_nodes)[every_node, node_outputs]
    rho = (np.abs(weights) * magnitude.reshape(R, M)).sum(-1)
    value = abs(float(np.real(loss(batched(params))[0])))
    value_rounding = np.sum(coefficient * rho) / max(value, 1e-300)
    gradient_rounding *= max(1, math.ceil(math.log2(R * M)))
    return float(eps * (gradient_rounding / max(scale, 1e-300) + value_rounding))


def stencil_tolerance(rounding: float, truncation: float, measurement: RoundingMeasurement | None,
                      strategy: str, problem, dtype: str, params=None,
                      remedy: str | None = None) -> Tolerance:  # fmt: skip
    """The tolerance of a finite-difference strategy: the exact rounding bound, its predicted
    truncation, and its stencil rounding from a `measurement` (`RoundingMeasurement`).

    float32: the measurement at the case's own stencil is that computation's rounding itself
    (×STENCIL_ROUNDING_SAFETY). float64: the larger of (a) the float32 measurement extrapolated to
    first order, rounding errors being linear in the unit roundoff and, for a stencil, in its
    amplification: ×(ε₆₄/ε₃₂)·A₆₄/A₃₂ (`problem.stencil_amplification`), ×EXTRAPOLATION_SAFETY,
    where that measurement is first-order (≤ LINEAR_REGIME); and (b) `stencil_rounding_model` of the
    problem's stencil rows (`problem.stencil_rows`) times the measured evaluation ulps (≥ 1), a
    bound by construction (every term in absolute value, the accumulation depth ⌈log₂(terms)⌉).
    (a) sees the strategy's own accumulation order; (b) holds where float32 keeps no digit.
    Refused (`usable_bound`) when the approximation error it allows would accept any gradient: on
    the truncation alone before anything is measured."""
    remedy = remedy or ("use float64" if dtype == "float32" else "use an exact strategy")
    usable_bound(truncation, strategy, problem, dtype, remedy)
    if measurement is None:
        raise ValueError(
            f"the tolerance of {strategy} (finite differences) needs its measured rounding: "
            "bench.rounding.stencil_rounding measures it"
        )
    if dtype == "float32":
        stencil = STENCIL_ROUNDING_SAFETY * measurement.relative
    else:
        stencil = 0.0
        if measurement.relative <= LINEAR_REGIME:
            scale = machine_epsilon(dtype) / machine_epsilon("float32")
            scale *= problem.stencil_amplification(dtype) / measurement.amplification
            stencil = EXTRAPOLATION_SAFETY * measurement.relative * scale
        model = problem_stencil_rounding(problem, dtype, params)
        stencil = max(stencil, max(measurement.evaluation_ulps or 1.0, 1.0) * model)
    usable_bound(truncation + stencil, strategy, problem, dtype, remedy)
    return Tolerance(rounding, truncation=truncation, stencil_rounding=stencil, measurement=measurement)


def problem_stencil_rounding(problem, dtype: str, params) -> float:
    """`stencil_rounding_model` of `problem`'s stencil rows (`problem.stencil_rows`), computed once
    per problem, dtype and parameters: it depends on the stencil, not on how a strategy spells it,
    so every spelling of a finite-difference strategy (and both frameworks) shares one evaluation
    of its complex-step Jacobian at every node (seconds at 10⁴ points)."""
    try:
        return _cached_stencil_rounding(problem, dtype, freeze(params))
    except TypeError:  # an unhashable problem (e.g. a user's module): computed each time
        return _stencil_rounding(problem, dtype, params)


def _stencil_rounding(problem, dtype: str, params) -> float:
    rows = problem.stencil_rows(dtype, params)  # nodes, weights, coefficient[, outputs]
    return stencil_rounding_model(problem.network, params, dtype, problem.full_gradient, problem.loss,
                                  *rows)  # fmt: skip


@lru_cache(maxsize=32)
def _cached_stencil_rounding(problem, dtype: str, frozen_params: tuple) -> float:
    return _stencil_rounding(problem, dtype, thaw(frozen_params))
