"""k-th input derivatives: L(θ) = Σ_{x ∈ grid} (∂ᵏU₁/∂x₁ᵏ([x, 1]; θ))², k = 1 … 8.

The loss that shows how the cost of an input derivative grows with its order k: nesting k
first-order passes repeats the network's program 2ᵏ-fold (exponential), Taylor mode propagates k+1
coefficients (polynomial). The network is the seed net by default (`width=5, depth=4`: the
foundation's exact parameter layout W1..W4, b1..b4); `width`/`depth` widen or deepen it and
`points` refines the grid. Also holds what every k-th order strategy shares: the central
finite-difference stencil with its predicted error, and the float64 reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, cached_property, lru_cache

import numpy as np

from problems.errors import BenchInputError
from problems.network import MLPSpec, flatten, init_params, unflatten
from problems.penalty import (
    NETWORK_PATH_OPS,
    PROBABILISTIC_LAMBDA,
    check_dtype,
)
from problems.reference import (
    COMPLEX_STEP,
    batched,
    complex_step_gradient,
    complex_step_jacobian,
    relative_error,
    taylor_coefficients,
)

ORDERS = tuple(range(1, 9))
"""Valid derivative orders k."""

EXACT_FLOAT64_TOLERANCE = 1e-9
"""Contract for exact strategies in float64 (issue 4: relative 1e-9). A k-th derivative sums
Faà di Bruno terms of growing count and size, so it is allowed more than the penalty's 1e-10;
observed errors are ≤ 2e-14 up to k = 8 on the seed net."""

FULL_GRADIENT_MAX_PARAMS = 1000
"""Above this many parameters the reference compares directional derivatives g·v (one complex
evaluation per direction) instead of the full complex-step gradient (one per parameter)."""

CHECK_DIRECTIONS = 3
"""Fixed random directions v (seeded Gaussian) for the directional comparison."""

MAX_USEFUL_ERROR = 0.5
"""An approximate strategy (finite differences, stochastic estimator) whose predicted relative error
exceeds this is refused (recorded as failed with the reason), not timed: its tolerance would accept
any gradient."""

FD_ROUNDING_ULPS = 1.0
"""Rounding charged to each network evaluation of a stencil, in ulps of its output layer's absolute
sum (`output_magnitude`); summed in absolute value over the stencil, divided by hᵏ."""


def check_int_option(name: str, value, valid: str, minimum: int = 1, allowed=None) -> int:
    """An integer problem option (bool and float refused); BenchInputError names the valid range."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if ok and allowed is not None:
        ok = int(value) in allowed
    elif ok:
        ok = int(value) >= minimum
    if not ok:
        raise BenchInputError(f"{name} must be {valid}, got {value!r}")
    return int(value)


# -- finite-difference stencils ----------------------------------------------------------------
@cache
def central_stencil(order: int) -> tuple[tuple[int, ...], tuple[Fraction, ...], Fraction]:
    """Offsets j, exact weights c_j and error constant μ of the second-order central stencil.

    Dₕ = Σⱼ c_j f(x + j h) / hᵏ with j = −m … m, m = ⌊(k+1)/2⌋: the k-th derivative of the
    polynomial interpolating f at the 2m+1 nodes (Lagrange basis, exact rational arithmetic:
    float weights would break the moment conditions at 1e-16 and rounding/hᵏ would amplify it).
    Symmetry makes moment k+1 vanish, so Dₕ − f⁽ᵏ⁾ = μ h² f⁽ᵏ⁺²⁾ + O(h⁴), μ = Σ c_j j^(k+2)/(k+2)!.
    """
    m = (order + 1) // 2
    nodes = tuple(range(-m, m + 1))
    weights = []
    for j in nodes:
        poly = [Fraction(1)]  # coefficients of Π_{i≠j} (t − i)/(j − i), lowest degree first
        for i in nodes:
            if i == j:
                continue
            poly = [Fraction(0)] + poly  # t · poly
            poly = [a - i * b for a, b in zip(poly, poly[1:] + [Fraction(0)])]
            poly = [a / (j - i) for a in poly]
        weights.append(poly[order] * math.factorial(order) if order < len(poly) else Fraction(0))
    mu = sum(c * Fraction(j) ** (order + 2) for c, j in zip(weights, nodes)) / math.factorial(order + 2)
    return nodes, tuple(weights), mu


def stencil_step(order: int, dtype: str) -> float:
    """h = ε^(1/(k+2)) rounded to a power of two (so j·h is exact).

    Truncation μh²|f⁽ᵏ⁺²⁾| and rounding ε Σ|c_j||f|/hᵏ balance at h ∝ ε^(1/(k+2)) when f and
    f⁽ᵏ⁺²⁾ have similar scale; derivatives of the rbf net grow with their order, so truncation
    dominates at this h and the bound below is mostly the predicted truncation.
    """
    eps = float(np.finfo(np.dtype(check_dtype(dtype))).eps)
    return float(2.0 ** round(math.log2(eps ** (1.0 / (order + 2)))))


# -- comparison against the reference ----------------------------------------------------------
def check_directions(spec: MLPSpec, count: int = CHECK_DIRECTIONS, seed: int = 1234) -> np.ndarray:
    """Fixed Gaussian directions in parameter space, shape (count, n_params)."""
    return np.random.default_rng(seed).standard_normal((count, spec.n_params))


def directional_reference(objective, params, spec: MLPSpec, directions: np.ndarray):
    """(value, g·v for each direction) of a real-analytic batched `objective` by complex step."""
    theta = flatten(params, spec).astype(np.complex128)
    batch = theta[None, :] + 1j * COMPLEX_STEP * directions
    out = objective(unflatten(batch, spec))
    return float(np.real(out[0])), np.imag(out) / COMPLEX_STEP


def compare_gradient(objective, params, spec, value, grads, full: bool):
    """(value_err, grad_err, ref_value) of (value, grads) against `objective`'s reference.

    Full: the norm-wise error of `relative_error`. Directional: max_j |g·v_j − r_j| / max_j |r_j|
    over `check_directions`, where r_j is the complex-step derivative along v_j; a wrong gradient
    passes only if its error is orthogonal to every v_j (probability zero for Gaussian v).
    """
    if full:
        ref_value = float(np.real(objective(batched(params))[0]))
        ref_grads = complex_step_gradient(objective, params, spec)
        return (*relative_error(value, grads, ref_value, ref_grads), ref_value)
    directions = check_directions(spec)
    ref_value, ref_dir = directional_reference(objective, params, spec, directions)
    g = flatten({k: np.asarray(grads[k], dtype=np.float64) for k in spec.param_names}, spec)
    if not (np.all(np.isfinite(g)) and np.isfinite(value)):
        return float("nan"), float("nan"), ref_value
    value_err = abs(float(value) - ref_value) / max(abs(ref_value), np.finfo(float).tiny)
    grad_err = float(np.max(np.abs(directions @ g - ref_dir)) / max(np.max(np.abs(ref_dir)), 1e-300))
    return value_err, grad_err, ref_value


def freeze(params: dict[str, np.ndarray]) -> tuple:
    """Hashable form of a parameter dict (for caching references)."""
    return tuple((k, np.asarray(v, np.float64).tobytes(), np.shape(v)) for k, v in sorted(params.items()))


def thaw(frozen: tuple) -> dict[str, np.ndarray]:
    return {k: np.frombuffer(b, dtype=np.float64).reshape(s) for k, b, s in frozen}


# -- the problem -------------------------------------------------------------------------------
class ComplexStepReference:
    """Reference and comparison for a problem with `loss(batched params) -> (B,)` and `network`:
    the float64 value, the complex-step gradient, and `compare` by the full gradient up to
    FULL_GRADIENT_MAX_PARAMS parameters, otherwise by directional derivatives along
    CHECK_DIRECTIONS fixed random directions. Shared by `derivative-order` and the PINN losses."""

    @property
    def full_gradient(self) -> bool:
        return self.network.n_params <= FULL_GRADIENT_MAX_PARAMS

    def reference(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """Float64 value and weight gradient: Taylor propagation by hand and the complex step."""
        value = float(np.real(self.loss(batched(params))[0]))
        return value, complex_step_gradient(self.loss, params, self.network)

    def compare(self, params, value, grads) -> tuple[float, float, float]:
        return _compare_cached(self, freeze(params), float(value), freeze(grads))


@dataclass(frozen=True)
class DerivativeOrderProblem(ComplexStepReference):
    """Σ over `points` evenly spaced x ∈ [0, 10] of (∂ᵏU₁/∂x₁ᵏ([x, 1]))², k = `order`.

    `width` is the hidden width and `depth` the number of Dense layers of the rbf MLP 2 → 2;
    the defaults are the seed network (87 parameters).
    """

    order: int = 1
    points: int = 101
    width: int = 5
    depth: int = 4
    name: str = "derivative-order"
    kind: str = "derivative-order"

    def __post_init__(self):
        valid = ", ".join(map(str, ORDERS))
        check_int_option("order", self.order, f"an integer in {valid}", allowed=ORDERS)
        check_int_option("points", self.points, "an integer ≥ 2", minimum=2)
        check_int_option("width", self.width, "an integer ≥ 1")
        check_int_option("depth", self.depth, "an integer ≥ 2 (Dense layers)", minimum=2)

    @property
    def sizes(self) -> dict[str, int]:
        return {"order": self.order, "points": self.points, "width": self.width, "depth": self.depth}

    @cached_property
    def network(self) -> MLPSpec:
        return MLPSpec((2,) + (self.width,) * (self.depth - 1) + (2,), "rbf")

    def grid(self) -> np.ndarray:
        """Collocation points, shape (points, 2): rows [x, 1.0]."""
        x = np.linspace(0.0, 10.0, self.points)
        return np.stack([x, np.ones_like(x)], axis=1)

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        return init_params(self.network, seed)

    # -- finite differences --------------------------------------------------------------
    def stencil(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """(offsets j·h·e₁, shape (M, 2); weights c_j / hᵏ, shape (M,)) of the stencil in `dtype`:
        Dₕ(x) = Σ_m weights_m U₁(x + offsets_m)."""
        nodes, weights, _ = central_stencil(self.order)
        h = stencil_step(self.order, dtype)
        offsets = np.outer(np.array(nodes, dtype=np.float64) * h, [1.0, 0.0])
        return offsets, np.array([float(c) for c in weights]) / h**self.order

    # -- reference -----------------------------------------------------------------------
    def derivatives(self, params, order: int | None = None) -> list[np.ndarray]:
        """[U₁, ∂U₁, …, ∂ᵒU₁] along x₁ at the grid (o = `order`, default k), each (B, N) or (N,)."""
        order = self.order if order is None else order
        x = self.grid()
        coeffs = taylor_coefficients(params, self.network, x, np.eye(2)[[0] * len(x)], order)
        return [c[..., 0] * math.factorial(n) for n, c in enumerate(coeffs)]

    def loss(self, params) -> np.ndarray:
        """L for batched (possibly complex) parameters, shape (B,)."""
        return (self.derivatives(params)[-1] ** 2).sum(axis=-1)

    def tolerance(self, strategy: str, dtype: str, params: dict[str, np.ndarray]) -> float:
        """Allowed relative error of `strategy` in `dtype`.

        float64, exact strategies: EXACT_FLOAT64_TOLERANCE. float32: the penalty's probabilistic
        rounding bound λ·√n·ε with n = (k + 1)·NETWORK_PATH_OPS + N, since each order adds one
        pass over the network path's roundings (3e-6 at k = 1 … 2.6e-5 at k = 8 on 101 points;
        observed ≤ 1e-6 at every order). `fd-stencil` adds its predicted error
        (`fd_error_bound`); where that exceeds MAX_USEFUL_ERROR the case is refused with a
        BenchInputError (recorded as failed, not as ok): such a tolerance would pass any gradient.
        """
        check_dtype(dtype)
        eps = float(np.finfo(np.dtype(dtype)).eps)
        if dtype == "float64":
            exact = EXACT_FLOAT64_TOLERANCE
        else:
            n = (self.order + 1) * NETWORK_PATH_OPS + self.points
            exact = PROBABILISTIC_LAMBDA * np.sqrt(n) * eps
        if strategy == "fd-stencil":
            bound = fd_error_bound(self, dtype, freeze(params))
            return exact + usable_bound(bound, strategy, self, dtype, "use float64 or a lower order")
        return exact


def usable_bound(bound: float, strategy: str, problem, dtype: str, remedy: str) -> float:
    """`bound`, or a BenchInputError when it is too large to tell an approximate gradient (finite
    differences, a stochastic estimate) from a wrong one."""
    if bound > MAX_USEFUL_ERROR:
        raise BenchInputError(
            f"{strategy} on {problem.name} {problem.sizes} in {dtype}: predicted relative error "
            f"{bound:.2g} > {MAX_USEFUL_ERROR:g}; a tolerance this loose would accept any gradient ({remedy})"
        )
    return bound


@lru_cache(maxsize=8)
def _compare_cached(problem: ComplexStepReference, frozen_params, value, frozen_grads):
    return compare_gradient(problem.loss, thaw(frozen_params), problem.network, value, thaw(frozen_grads),
                            problem.full_gradient)  # fmt: skip


def output_magnitude(params, spec: MLPSpec, x: np.ndarray) -> np.ndarray:
    """|W_L||h_(L−1)(x)| + |b_L|, shape (N, d_out): the scale of the output layer's rounding error
    (the leading factor of the dot-product error bound |fl(wᵀh) − wᵀh| ≤ γₙ|w|ᵀ|h|)."""
    activation = {"rbf": lambda z: np.exp(-(z**2)), "tanh": np.tanh}[spec.activation]
    h = x
    for i in range(1, spec.n_layers):
        h = activation(h @ params[f"W{i}"].T + params[f"b{i}"])
    last = spec.n_layers
    return np.abs(h) @ np.abs(params[f"W{last}"]).T + np.abs(params[f"b{last}"])


def stencil_error_bound(spec, params, dtype, full, loss, first_order_error, nodes, weights, coefficient):
    """Predicted relative gradient error of a loss built from a stencil Dₙ = Σ_m w_m U(x_nm).

    `loss(p)` is the exact loss and `first_order_error(p)` its first-order change from the stencil's
    truncation (both batched, real-analytic); `nodes` (N, M, d) the evaluation points, `weights` (M,)
    the stencil weights (h⁻ᵏ included) and `coefficient` (N,) = |∂L/∂Dₙ|. Three terms, relative to the
    gradient's scale (max|g| for the full comparison, the RMS of g·v over the check directions for the
    directional one):

    - truncation: 2·|∇θ first_order_error| (the 2 covers the O(h⁴) and squared-error remainders);
    - rounding of Dₙ: each evaluation off by FD_ROUNDING_ULPS·ε·M (`output_magnitude`), so Dₙ by
      ρₙ = ε Σ_m |w_m| M(x_nm) and the gradient's factor ∇L/∂D by the loss's relative error Σ cₙρₙ / L;
    - rounding of the gradient's accumulation Σₙ cₙ Σ_m w_m ∇θU(x_nm), usually the larger term: the
      weights sum to ~0 (for the output bias exactly), so each component is a sum of N·M terms that
      cancel; pairwise/blocked summation (XLA, ATen) errs by ≤ ⌈log₂(N·M)⌉·ε·Σ|terms| (Higham,
      Accuracy and Stability of Numerical Algorithms, §4.2), with |∂θU(x_nm)| from the complex-step
      Jacobian at every node (full), or bounded in 2-norm via ‖∇θU(x)‖ estimated by 16 random
      projections (directional). Without the log factor the Poisson stencil at d = 32 exceeded it.
    """
    eps = float(np.finfo(np.dtype(dtype)).eps)
    N, M, d = nodes.shape
    flat_nodes = nodes.reshape(N * M, d)

    def u_at_nodes(p):
        return taylor_coefficients(p, spec, flat_nodes, np.zeros_like(flat_nodes), 0)[0][..., 0]

    weight_matrix = coefficient[:, None] * np.abs(weights)[None, :]  # (N, M)
    if full:
        grad_e = flatten(complex_step_gradient(first_order_error, params, spec), spec)
        scale = np.max(np.abs(flatten(complex_step_gradient(loss, params, spec), spec)))
        truncation = np.max(np.abs(grad_e))
        jacobian = np.abs(complex_step_jacobian(u_at_nodes, params, spec)).reshape(-1, N, M)
        gradient_rounding = np.max(np.einsum("nm,pnm->p", weight_matrix, jacobian))
    else:
        directions = check_directions(spec)
        _, grad_e = directional_reference(first_order_error, params, spec, directions)
        _, grad_l = directional_reference(loss, params, spec, directions)
        scale, truncation = np.sqrt(np.mean(grad_l**2)), np.max(np.abs(grad_e))
        probes = check_directions(spec, count=16, seed=4321)
        theta = flatten(params, spec)
        projected = np.imag(u_at_nodes(unflatten(theta + 1j * COMPLEX_STEP * probes, spec))) / COMPLEX_STEP
        norms = np.sqrt(np.mean(projected**2, axis=0)).reshape(N, M)
        gradient_rounding = np.sum(weight_matrix * norms)
    rho = (np.abs(weights)[None, :] * output_magnitude(params, spec, flat_nodes)[:, 0].reshape(N, M)).sum(-1)
    value = abs(float(np.real(loss(batched(params))[0])))
    value_rounding = np.sum(coefficient * rho) / max(value, 1e-300)
    summation_depth = max(1, math.ceil(math.log2(N * M)))
    gradient_rounding *= summation_depth
    rounding = FD_ROUNDING_ULPS * eps * (gradient_rounding / max(scale, 1e-300) + value_rounding)
    return float(2.0 * truncation / max(scale, 1e-300) + rounding)


@lru_cache(maxsize=32)
def fd_error_bound(problem: DerivativeOrderProblem, dtype: str, frozen_params: tuple) -> float:
    """Predicted relative error of the stencil loss's gradient (`stencil_error_bound`).

    Truncation: Dₕ = f⁽ᵏ⁾ + μh²f⁽ᵏ⁺²⁾ + O(h⁴), so the loss Σ Dₕ² is off by E = Σ 2μh²f⁽ᵏ⁾f⁽ᵏ⁺²⁾ to
    first order, from the reference's order-(k+2) Taylor coefficients; ∂L/∂Dₙ = 2Dₙ.
    """
    params = thaw(frozen_params)
    _, _, mu = central_stencil(problem.order)
    h = stencil_step(problem.order, dtype)
    k = problem.order

    def first_order_error(p):
        d = problem.derivatives(p, k + 2)
        return (2.0 * float(mu) * h**2 * d[k] * d[k + 2]).sum(axis=-1)

    offsets, weights = problem.stencil(dtype)
    nodes = problem.grid()[:, None, :] + offsets[None, :, :]
    coefficient = 2.0 * np.abs(problem.derivatives(params)[-1])
    return stencil_error_bound(problem.network, params, dtype, problem.full_gradient, problem.loss,
                               first_order_error, nodes, weights, coefficient)  # fmt: skip
