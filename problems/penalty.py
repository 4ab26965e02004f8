"""The seed derivative penalty P(θ) = Σ_{x ∈ grid} ‖∇ₓ U₁([x, 1]; θ)‖².

`PenaltyProblem` holds the data every backend needs (network, collocation points, finite-difference
steps), the float64 reference with its accuracy bounds (so tests and benchmarks share one
definition of "correct"), and the catalogue of penalty strategies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from problems.core import (
    Catalogue,
    Problem,
    Strategy,
    check_dtype,
    check_int_option,
    freeze,
    machine_epsilon,
    register_catalogue,
    register_problem,
    thaw,
)
from problems.network import SEED_NETWORK, MLPSpec
from problems.reference import (
    GradientReference,
    batched,
    complex_step_gradient,
    complex_step_jacobian,
    taylor_coefficients,
)
from problems.tolerances import NETWORK_PATH_OPS, rounding_bound

STRATEGIES = register_catalogue(Catalogue("penalty", [
    Strategy("rev-over-rev", "input gradient by reverse mode, weight gradient by reverse mode through it"),
    Strategy("rev-over-rev-func", "as rev-over-rev, written with torch.func (grad over vmap(jacrev))"),
    Strategy("rev-over-fwd", "input gradient by forward mode (jvp), weight gradient by reverse mode over it"),
    Strategy("fwd-over-rev", "∇θ(w·∇ₓU) as a JVP in input direction w of one reverse pass ∇θU (HVP trick)"),
    Strategy("fwd-over-fwd",
             "weight gradient by forward mode, one JVP per parameter, over forward input JVPs"),
    Strategy("taylor", "input derivative by Taylor mode (jets), weight gradient by reverse mode"),
    Strategy("fd-central", "input derivative by central differences, weight gradient by reverse mode",
             error="finite-difference"),
    Strategy("hand-derived", "the floor: Jacobian propagation and its adjoint derived by hand, fused, no AD",
             floor=True),
], baseline="rev-over-rev"))  # fmt: skip
"""Every strategy of the `penalty` kind: what it computes and its error model."""

EXACT_FLOAT64_TOLERANCE = 1e-10
"""The penalty's contract for exact strategies in float64 (observed errors are ~1e-15)."""

FD_ROUNDING_ULPS = 1.0
"""Rounding charged to each network evaluation inside a central difference, in ulps of |U| and
|∇θU|; summed over points in absolute value (a worst-case sum), then divided by h."""


def fd_step(x: np.ndarray, dtype: str) -> np.ndarray:
    """Central-difference steps h = ε^(1/3) · max(1, |x|), rounded so x ± h is exact.

    The error of a central difference is h²|f'''|/6 (truncation) + ε|f|/h (rounding); it is
    smallest at h* = (3ε|f|/|f'''|)^(1/3), i.e. h ∝ ε^(1/3) when f and f''' have similar scale,
    which they do for this unit-scale network. Scaling by max(1, |x|) keeps x + h ≠ x for large x.
    """
    np_dtype = np.dtype(check_dtype(dtype))
    x = np.asarray(x, dtype=np_dtype)
    h = np.cbrt(np.finfo(np_dtype).eps) * np.maximum(1.0, np.abs(x))
    h = h.astype(np_dtype)
    return ((x + h) - x).astype(np_dtype)


@register_problem
@dataclass(frozen=True)
class PenaltyProblem(GradientReference, Problem):
    """Σ over `points` evenly spaced x in [0, 10] of ‖∇ₓU₁([x, 1])‖²; 101 points is 0:0.1:10."""

    points: int = 101
    network: MLPSpec = field(default=SEED_NETWORK)
    name = "penalty"
    kind = "penalty"

    def __post_init__(self):
        check_int_option("points", self.points, "an integer ≥ 2", minimum=2)

    def grid(self) -> np.ndarray:
        """Collocation points, shape (points, 2): rows [x, 1.0]."""
        x = np.linspace(0.0, 10.0, self.points)
        return np.stack([x, np.ones_like(x)], axis=1)

    def fd_steps(self, dtype: str) -> np.ndarray:
        """Per-point, per-input central-difference steps, shape (points, 2)."""
        return fd_step(self.grid(), dtype)

    # -- reference -------------------------------------------------------------------------
    def _input_derivatives(self, params, order: int) -> list[list[np.ndarray]]:
        """For each input direction e_j: Taylor coefficients of U₁ (shape (B, N))."""
        x = self.grid()
        out = []
        for j in range(self.network.sizes[0]):
            v = np.zeros_like(x)
            v[:, j] = 1.0
            coeffs = taylor_coefficients(params, self.network, x, v, order)
            out.append([c[..., 0] for c in coeffs])
        return out

    def _penalty_batched(self, params) -> np.ndarray:
        return sum((c[1] ** 2).sum(axis=-1) for c in self._input_derivatives(params, 1))

    def reference(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """Float64 value and weight gradient from the independent reference."""
        value = float(np.real(self._penalty_batched(batched(params))[0]))
        return value, complex_step_gradient(self._penalty_batched, params, self.network)

    def tolerance(self, strategy: str, dtype: str, params: dict[str, np.ndarray]) -> float:
        """Allowed norm-wise relative gradient error of `strategy` in `dtype` (see `relative_error`).

        Exact strategies make rounding errors only. float64: EXACT_FLOAT64_TOLERANCE, the suite's
        contract. float32: λ·√n·ε with n = NETWORK_PATH_OPS + N, the probabilistic bound for a
        chain of n roundings (the network path, then the sum over N points). A finite-difference
        strategy adds its own truncation and rounding error, predicted from the reference (see
        `fd_error_bound`).
        """
        check_dtype(dtype)
        if dtype == "float64":
            exact = EXACT_FLOAT64_TOLERANCE
        else:
            exact = rounding_bound(NETWORK_PATH_OPS + self.points, dtype)
        if self.error_model(strategy) == "finite-difference":
            return exact + fd_error_bound(self, dtype, freeze(params))
        return exact


@lru_cache(maxsize=32)
def fd_error_bound(problem: PenaltyProblem, dtype: str, frozen_params: tuple) -> float:
    """Bound on the relative gradient error of the central-difference penalty.

    With D = (U(x+h) − U(x−h))/2h = ∂U + (h²/6)∂³U + O(h⁴), the penalty's leading truncation
    error is E(θ) = Σ (h²/3)·∂ⱼU·∂ⱼ³U and the gradient's is ∇θE, computed here from the
    reference's third-order Taylor coefficients and the complex step. Rounding adds
    κ·ε·Σ 2(|D|·|∇θU| + |U|·|∇θD|)/h with κ = FD_ROUNDING_ULPS. The bound returned is
    2·max|∇θE| + rounding, relative to max|∇θP|: the factor 2 covers the O(h⁴) remainder.
    """
    params = thaw(frozen_params)
    eps = machine_epsilon(dtype)
    h = problem.fd_steps(dtype).astype(np.float64)  # (N, 2)

    def truncation(p):
        total = 0.0
        for j, c in enumerate(problem._input_derivatives(p, 3)):
            d1, d3 = c[1], 6.0 * c[3]
            total = total + ((h[:, j] ** 2 / 3.0) * d1 * d3).sum(axis=-1)
        return total

    def value_parts(p):
        return [(c[0], c[1]) for c in problem._input_derivatives(p, 1)]

    grad_trunc = np.concatenate(
        [np.ravel(g) for g in complex_step_gradient(truncation, params, problem.network).values()]
    )
    _, ref_grads = problem.reference(params)
    scale = max(np.max(np.abs(np.concatenate([np.ravel(g) for g in ref_grads.values()]))), 1e-300)

    # Rounding: per point and direction, |∇θU| and |∇θD| from complex steps of U and D.
    n_params = problem.network.n_params
    rounding = np.zeros(n_params)
    for j in range(problem.network.sizes[0]):

        def u_j(p, j=j):
            return value_parts(p)[j][0]  # (B, N)

        def d_j(p, j=j):
            return value_parts(p)[j][1]

        jac_u = complex_step_jacobian(u_j, params, problem.network)  # (P, N)
        jac_d = complex_step_jacobian(d_j, params, problem.network)
        u0, d0 = (np.real(a[0]) for a in value_parts(batched(params))[j])
        rounding += (2.0 * (np.abs(d0) * np.abs(jac_u) + np.abs(u0) * np.abs(jac_d)) / h[:, j]).sum(axis=-1)
    rounding *= eps * FD_ROUNDING_ULPS
    return float((2.0 * np.max(np.abs(grad_trunc)) + np.max(rounding)) / scale)
