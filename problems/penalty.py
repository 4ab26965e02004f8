"""The derivative penalty P(θ) = Σ_{x ∈ grid} ‖∇ₓ U₁(x; θ)‖² of any MLP U (the seed's by default).

`PenaltyProblem` holds the data every backend needs (network, collocation points, finite-difference
steps), the float64 reference with its accuracy bounds (so tests and benchmarks share one
definition of "correct"), and the catalogue of penalty strategies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

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
from problems.network import SEED_NETWORK, MLPSpec, flatten, network_from_options, unflatten
from problems.reference import (
    COMPLEX_STEP,
    FULL_GRADIENT_MAX_PARAMS,
    ComplexStepReference,
    batched,
    check_directions,
    complex_step_batch,
    complex_step_gradient,
    complex_step_jacobian,
    directional_reference,
    taylor_coefficients,
)
from problems.tolerances import network_path_ops, rounding_bound

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
class PenaltyProblem(ComplexStepReference, Problem):
    """Σ over `points` grid points of ‖∇ₓU₁(x)‖², ∇ₓ over the whole input vector.

    The grid sweeps the first input over [0, 10] (101 points is 0:0.1:10) with every other input
    at 1.0: rows [x, 1] for the seed's two inputs, [x, 1, …, 1] for more, [x] for one.
    `layers` ("2-64-64-2", or a list) and `activation` choose the network; the defaults are the
    seed network (2-5-5-5-2, rbf, 87 parameters).
    """

    points: int = 101
    layers: str = SEED_NETWORK.layers
    activation: str = SEED_NETWORK.activation
    name = "penalty"
    kind = "penalty"

    def __post_init__(self):
        check_int_option("points", self.points, "an integer ≥ 2", minimum=2)
        spec = network_from_options(self.layers, self.activation, shorthand=(2, 5, 4, 2))
        object.__setattr__(self, "layers", spec.layers)

    @cached_property
    def network(self) -> MLPSpec:
        return MLPSpec(tuple(int(s) for s in self.layers.split("-")), self.activation)

    def grid(self) -> np.ndarray:
        """Collocation points, shape (points, d_in): rows [x, 1.0, …, 1.0], x evenly in [0, 10]."""
        x = np.linspace(0.0, 10.0, self.points)
        grid = np.ones((self.points, self.network.sizes[0]))
        grid[:, 0] = x
        return grid

    def fd_steps(self, dtype: str) -> np.ndarray:
        """Per-point, per-input central-difference steps, shape (points, d_in)."""
        return fd_step(self.grid(), dtype)

    # -- reference -------------------------------------------------------------------------
    def input_derivatives(self, params, order: int, X: np.ndarray | None = None) -> list[list[np.ndarray]]:
        """For each input direction e_j: the Taylor coefficients [U₁, ∂ⱼU₁, …] (order + 1 of them,
        normalised) of U₁ along e_j at the grid (or at `X`), each (B, N) or (N,). The primal is
        propagated once for all directions."""
        X = self.grid() if X is None else X
        d = X.shape[1]
        coeffs = taylor_coefficients(params, self.network, X[:, None, :], np.eye(d)[None], order)
        full = [np.broadcast_to(c[..., 0], c.shape[:-2] + (d,)) for c in coeffs]
        return [[c[..., j] for c in full] for j in range(d)]

    def penalty_at(self, params, X: np.ndarray) -> np.ndarray:
        """Σ over the points X of ‖∇ₓU₁‖², for batched (possibly complex) params: shape (B,)."""
        return sum((c[1] ** 2).sum(axis=-1) for c in self.input_derivatives(params, 1, X))

    def loss(self, params) -> np.ndarray:
        """P for batched (possibly complex) parameters, shape (B,): the reference's objective."""
        return self.penalty_at(params, self.grid())

    def tolerance(self, strategy: str, dtype: str, params: dict[str, np.ndarray]) -> float:
        """Allowed norm-wise relative gradient error of `strategy` in `dtype` (see `relative_error`).

        Exact strategies make rounding errors only. float64: EXACT_FLOAT64_TOLERANCE, the suite's
        contract. float32: λ·√n·ε with n = (network path) + N, the probabilistic bound for a
        chain of n roundings (the network path, `network_path_ops`, then the sum over N points).
        A finite-difference strategy adds its own truncation and rounding error, predicted from
        the reference (see `fd_error_bound`).
        """
        check_dtype(dtype)
        if dtype == "float64":
            exact = EXACT_FLOAT64_TOLERANCE
        else:
            exact = rounding_bound(network_path_ops(self.network) + self.points, dtype)
        if self.error_model(strategy) == "finite-difference":
            return exact + fd_error_bound(self, dtype, freeze(params))
        return exact


FD_BOUND_POINTS = 1000
"""Networks above FULL_GRADIENT_MAX_PARAMS: the finite-difference bound is evaluated on a regular
sub-grid of at most this many points (every k-th grid point)."""

FD_BOUND_PROBES = 16
"""Random parameter directions that estimate ‖∇θU(x)‖₂ and ‖∇θD(x)‖₂ for the directional bound."""


@lru_cache(maxsize=32)
def fd_error_bound(problem: PenaltyProblem, dtype: str, frozen_params: tuple) -> float:
    """Bound on the relative gradient error of the central-difference penalty.

    With D = (U(x+h) − U(x−h))/2h = ∂U + (h²/6)∂³U + O(h⁴), the penalty's leading truncation
    error is E(θ) = Σ (h²/3)·∂ⱼU·∂ⱼ³U and the gradient's is ∇θE, computed here from the
    reference's third-order Taylor coefficients and the complex step. Rounding adds
    κ·ε·Σ 2(|D|·|∇θU| + |U|·|∇θD|)/h with κ = FD_ROUNDING_ULPS. The bound returned is
    2·max|∇θE| + rounding, relative to max|∇θP|: the factor 2 covers the O(h⁴) remainder.

    Above FULL_GRADIENT_MAX_PARAMS parameters (where `compare` checks directional derivatives g·v),
    the same terms are taken along the check directions: 2·max_j|∇θE·v_j| and, in 2-norm,
    κ·ε·Σ 2(|D|·‖∇θU‖ + |U|·‖∇θD‖)/h (norms estimated from FD_BOUND_PROBES random projections),
    relative to the RMS of ∇θP·v_j (as `tolerances.stencil_error_bound` does). Every term is a sum
    over the grid of a per-point quantity that varies smoothly along the grid line, so their ratio
    is taken on a regular sub-grid of ≤ FD_BOUND_POINTS points, which keeps the bound affordable
    at 10⁵ points × a 512-wide network.
    """
    params = thaw(frozen_params)
    eps = machine_epsilon(dtype)
    spec = problem.network
    X = problem.grid()
    if spec.n_params > FULL_GRADIENT_MAX_PARAMS:
        X = X[:: math.ceil(len(X) / FD_BOUND_POINTS)]
    h = fd_step(X, dtype).astype(np.float64)  # (N, d_in)

    def truncation(p):
        total = 0.0
        for j, c in enumerate(problem.input_derivatives(p, 3, X)):
            d1, d3 = c[1], 6.0 * c[3]
            total = total + ((h[:, j] ** 2 / 3.0) * d1 * d3).sum(axis=-1)
        return total

    if spec.n_params > FULL_GRADIENT_MAX_PARAMS:
        return _fd_bound_directional(problem, params, X, h, truncation, eps)

    def value_parts(p):
        return [(c[0], c[1]) for c in problem.input_derivatives(p, 1, X)]

    grad_trunc = flatten(complex_step_gradient(truncation, params, spec), spec)
    ref_grads = complex_step_gradient(problem.loss, params, spec)
    scale = max(np.max(np.abs(flatten(ref_grads, spec))), 1e-300)

    # Rounding: per point and direction, |∇θU| and |∇θD| from complex steps of U and D.
    rounding = np.zeros(spec.n_params)
    for j in range(spec.sizes[0]):

        def u_j(p, j=j):
            return value_parts(p)[j][0]  # (B, N)

        def d_j(p, j=j):
            return value_parts(p)[j][1]

        jac_u = complex_step_jacobian(u_j, params, spec)  # (P, N)
        jac_d = complex_step_jacobian(d_j, params, spec)
        u0, d0 = (np.real(a[0]) for a in value_parts(batched(params))[j])
        rounding += (2.0 * (np.abs(d0) * np.abs(jac_u) + np.abs(u0) * np.abs(jac_d)) / h[:, j]).sum(axis=-1)
    rounding *= eps * FD_ROUNDING_ULPS
    return float((2.0 * np.max(np.abs(grad_trunc)) + np.max(rounding)) / scale)


def _fd_bound_directional(problem: PenaltyProblem, params, X, h, truncation, eps) -> float:
    """`fd_error_bound` along the check directions, on the points X (see its docstring)."""
    spec = problem.network
    directions = check_directions(spec)
    _, trunc_along = directional_reference(truncation, params, spec, directions)
    _, ref_along = directional_reference(lambda p: problem.penalty_at(p, X), params, spec, directions)
    scale = max(float(np.sqrt(np.mean(ref_along**2))), 1e-300)
    probes = check_directions(spec, count=FD_BOUND_PROBES, seed=4321)
    perturbed = unflatten(flatten(params, spec) + 1j * COMPLEX_STEP * probes, spec)
    with complex_step_batch():
        along_probes = problem.input_derivatives(perturbed, 1, X)
    at_params = problem.input_derivatives(batched(params), 1, X)
    rounding = 0.0
    for j, (probed, exact) in enumerate(zip(along_probes, at_params)):
        norm_u, norm_d = (np.sqrt(np.mean((np.imag(c) / COMPLEX_STEP) ** 2, axis=0)) for c in probed[:2])
        u0, d0 = (np.real(c[0]) for c in exact[:2])
        rounding += float(np.sum(2.0 * (np.abs(d0) * norm_u + np.abs(u0) * norm_d) / h[:, j]))
    rounding *= eps * FD_ROUNDING_ULPS
    return float((2.0 * np.max(np.abs(trunc_along)) + rounding) / scale)
