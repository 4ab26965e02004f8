"""PINN residual losses with second- and fourth-order operators of an MLP u: ℝᵈ → ℝ.

* `poisson`:    L(θ) = mean_n (Δu(x_n) + f(x_n))²,  f = π² Σᵢ sin(π xᵢ)
* `biharmonic`: L(θ) = mean_n (Δ²u(x_n) − f(x_n))², f = π⁴ Σᵢ sin(π xᵢ)

Both sources come from the known solution u*(x) = Σᵢ sin(π xᵢ) (Δu* = −f, Δ²u* = f), so each loss
is a well-posed PINN residual that vanishes at u*. u is an MLP ℝᵈ → ℝ: tanh, `width` 64, `depth` 4
Dense layers by default, or any `layers` ("50-768-768-512-512-1") and `activation`; `points`
collocation points are uniform in [0, 1]ᵈ from a fixed seed. The float64 reference uses
no AD framework: directional derivatives Dᵐ_v u from hand-written Taylor propagation, combined
into Δ (basis directions) and Δ² (polarisation along eᵢ ± eⱼ), and the complex step in θ.

Strategy-specific data lives here too, written once for both backends: the finite-difference
stencil with its predicted error, and the sampled directions of the stochastic estimator.
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
    Tolerance,
    check_dtype,
    check_int_option,
    freeze,
    machine_epsilon,
    register_catalogue,
    register_problem,
    spellings,
    thaw,
)
from problems.models import ModelSpec, problem_model, settle_model
from problems.network import flatten, unflatten
from problems.reference import (
    COMPLEX_STEP,
    ComplexStepReference,
    batched,
    check_directions,
    complex_step_batch,
    taylor_coefficients,
)
from problems.tolerances import (
    EXACT_FLOAT64_TOLERANCE,
    exact_rounding,
    stencil_tolerance,
    truncation_bound,
    usable_bound,
)

MAX_DIM = {"poisson": 256, "biharmonic": 16}
"""Valid input dimensions are 1 … MAX_DIM (the sweeps use d = 2, 8, 32, 128 and 2, 4, 8); the
biharmonic strategies cost O(d²) directions and the reference O(d²) too, so it stops at 16."""

STATISTICAL_Z = 5.0
"""Standard deviations allowed to the stochastic estimator (two-sided normal tail 6e-7)."""

ORDER = {"laplacian": 2, "biharmonic": 4}
"""Each PINN operator kind's derivative order (Δ: 2, Δ²: 4)."""


def hutchinson_scale(order: int) -> float:
    """c in E[D^m_v u] = c·(operator): 1 for Rademacher v and Δ (m = 2), 3 for Gaussian v and Δ²
    (m = 4, Gaussian fourth moments); the Hutchinson estimate divides by it."""
    return 1.0 if order == 2 else 3.0


DIRECTION_SEED = 20_240_607
POINT_SEED = 7

_OPERATOR_STRATEGIES = [
    Strategy("nested-rev", "Hessian rows by reverse over reverse (d HVPs), trace; Δ² applies it to Δu again"),
    Strategy("nested-fwd",
             "∂²/∂xᵢ² by forward over forward along each basis vector, summed (Δ²: nested twice)"),
    Strategy("fwd-over-rev", "Hessian by forward over reverse (jax.hessian / torch.func.hessian), trace"),
    Strategy("taylor",
             "standard Taylor mode: jets along basis directions (Δ²: and eᵢ±eⱼ, polarised), summed"),
    Strategy("collapsed-taylor", "collapsed Taylor mode: jet-for-pytorch laplacian / bilaplacian"),
    Strategy("forward-laplacian",
             "forward Laplacian (folx): Δ propagated with the forward pass (Δ²: Δ of Δ)"),
    Strategy("fd-stencil", "central differences: discrete Laplacian (Δ²: its square), error predicted",
             error="finite-difference"),
    Strategy("hutchinson", "stochastic: mean of directional derivatives along sampled v (Rademacher for Δ, "
             "Gaussian/3 for Δ²), Taylor mode; `samples` per point", error="stochastic"),
]  # fmt: skip
"""Strategies for the PINN operators; the weight gradient of the residual loss is always reverse mode."""

_JAX, _TORCH = ("jax",), ("torch",)
_BY_NAME = {s.name: s for s in _OPERATOR_STRATEGIES}
_BATCHED = "on the whole batch of points (directions vmapped), not vmapped per point"
_INTERPRETED = (
    "interpreted",
    "PyTorch: jet-for-pytorch's interpreter at every call (graph not captured)",
    _TORCH,
)
_OPERATOR_SPELLINGS = [
    *spellings(_BY_NAME["nested-rev"], ("batched", f"JAX: reverse over reverse {_BATCHED}", _JAX),
               ("autograd", "PyTorch: plain autograd with create_graph on the batch, one double-backward "
                "pass per direction (not torch.func vmap(jacrev(jacrev)))", _TORCH)),
    *spellings(_BY_NAME["nested-fwd"], ("batched", f"jvp of jvp {_BATCHED}")),
    *spellings(_BY_NAME["fwd-over-rev"], ("batched", f"jvp over grad {_BATCHED}, no Hessian assembled")),
    *spellings(_BY_NAME["taylor"], ("batched", f"JAX: jets {_BATCHED}", _JAX), _INTERPRETED),
    *spellings(_BY_NAME["collapsed-taylor"], _INTERPRETED),
    *spellings(_BY_NAME["fd-stencil"],
               ("per-point", "JAX: each point's stencil nodes by the per-point network, vmapped over the "
                "points (not every point × node in one batch)", _JAX)),
    *spellings(_BY_NAME["hutchinson"], ("batched", f"JAX: jets {_BATCHED}", _JAX), _INTERPRETED),
]  # fmt: skip
"""Named spellings of the operator strategies (README, "Spellings")."""

LAPLACIAN_STRATEGIES = register_catalogue(
    Catalogue("laplacian", _OPERATOR_STRATEGIES + _OPERATOR_SPELLINGS, "nested-rev")
)
BIHARMONIC_STRATEGIES = register_catalogue(
    Catalogue("biharmonic", _OPERATOR_STRATEGIES + _OPERATOR_SPELLINGS, "nested-rev")
)


def directional_derivatives(params, spec: ModelSpec, X: np.ndarray, V: np.ndarray, order: int) -> np.ndarray:
    """Dᵐ_v u(x) = m!·(m-th Taylor coefficient) for each point and direction, shape (B, N, R).

    X: (N, d) points, V: (N, R, d) directions (R per point); batched params give a leading B. The
    primal is propagated once per point and shared by its R directions.
    """
    coeffs = taylor_coefficients(params, spec, X[:, None, :], V, order)
    return coeffs[order][..., 0] * math.factorial(order)


def pair_directions(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eᵢ for all i, eᵢ + eⱼ for i < j, eᵢ − eⱼ for i < j) as arrays of directions."""
    E = np.eye(d)
    i, j = np.triu_indices(d, k=1)
    return E, E[i] + E[j], E[i] - E[j]


def combine_pure_and_pairs(order: int, pure, plus, minus, d: int, mixed_order: int):
    """Σᵢ ∂ᵢ^order u + weight·Σ_{i<j} (mixed terms) from directional derivatives by polarisation.

    With S = [D^m(eᵢ+eⱼ) + D^m(eᵢ−eⱼ)]/2 = Σ_{k even} C(m,k) ∂ᵢ^(m−k)∂ⱼ^k u, the mixed part for m = 4
    is 6 ∂ᵢ²∂ⱼ² u and for m = 6 it is 15(∂ᵢ⁴∂ⱼ² + ∂ᵢ²∂ⱼ⁴) u: returns (Σ pure, Σ_{i<j} mixed/C).
    """
    i, j = np.triu_indices(d, k=1)
    half_sum = (plus + minus) / 2.0
    mixed = half_sum - pure[..., i] - pure[..., j]
    return pure.sum(axis=-1), (mixed / math.comb(order, mixed_order)).sum(axis=-1)


@dataclass(frozen=True)
class _PinnProblem(ComplexStepReference, Problem):
    """Common part: network, collocation points, reference machinery; subclasses set the operator.

    The network is `layers` (input width d, any hidden widths, output 1) with `activation`, or the
    shorthand `dim` → `width` × (`depth` − 1) → 1 (defaults 2, 64, 4, tanh). `layers` sets every
    width, so `dim`, `width` or `depth` given with it must agree with it (else an error).
    """

    dim: int | None = None
    width: int | None = None
    depth: int | None = None
    points: int = 128
    samples: int = 32
    layers: str | None = None
    activation: str = "tanh"
    model: str = "mlp"
    features: int | None = None
    scale: float | None = None
    n_blocks: int | None = None
    alpha: float | None = None
    input_precision: str | None = None

    OPERATOR_ORDER = 2  # derivative order of the operator (2: Δ, 4: Δ²)
    point_reduction = "mean"
    network_options = ("dim", "width", "depth")
    """Options that `layers` determines (a parameter file's layers replace them in a sweep)."""

    def __post_init__(self):
        dims = range(1, MAX_DIM[self.name] + 1)
        if self.dim is not None:
            check_int_option("dim", self.dim, f"an integer in 1 … {dims[-1]}", allowed=dims)
        if self.width is not None:
            check_int_option("width", self.width, "an integer ≥ 1")
        if self.depth is not None:
            check_int_option("depth", self.depth, "an integer ≥ 2 (Dense layers)", minimum=2)
        check_int_option("points", self.points, "an integer ≥ 1")
        check_int_option("samples", self.samples, "an integer ≥ 2 (Hutchinson samples per point)", minimum=2)
        spec = settle_model(self, width=self.width, depth=self.depth, inputs=self.dim, outputs=1,
                            shorthand=(2, 64, 4, 1))  # fmt: skip
        check_int_option("dim (the input width of layers)", spec.d_in, f"an integer in 1 … {dims[-1]}",
                         allowed=dims)  # fmt: skip
        normalised = {"dim": spec.d_in, "width": spec.hidden_width, "depth": spec.n_layers}
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    @cached_property
    def network(self) -> ModelSpec:
        return problem_model(self)

    def _points(self) -> np.ndarray:
        return np.random.default_rng(POINT_SEED).uniform(0.0, 1.0, size=(self.points, self.dim))

    def grid(self) -> np.ndarray:
        """Collocation points, shape (points, dim), uniform in [0, 1]ᵈ from a fixed seed."""
        return self.inputs(self._points())

    def exact_solution(self, X: np.ndarray) -> np.ndarray:
        """u*(x) = Σᵢ sin(π xᵢ), whose operator the source cancels."""
        return np.sin(np.pi * X).sum(axis=-1)

    # -- stochastic estimator ----------------------------------------------------------------
    def hutchinson_directions(self, seed: int = DIRECTION_SEED) -> np.ndarray:
        """`samples` directions per point, shape (points, samples, dim): Rademacher for Δ
        (E[vvᵀ] = I), standard normal for Δ² (E[D⁴_v u] = 3Δ²u). Fixed by `seed`."""
        rng = np.random.default_rng(seed)
        shape = (self.points, self.samples, self.dim)
        if self.OPERATOR_ORDER == 2:
            return rng.choice([-1.0, 1.0], size=shape)
        return self.inputs(rng.standard_normal(shape))

    def operator_samples(self, params, directions: np.ndarray) -> np.ndarray:
        """Per-sample unbiased estimates Dᵐ_v u / (1 or 3), shape (B, N, S)."""
        D = directional_derivatives(params, self.network, self.grid(), directions, self.OPERATOR_ORDER)
        return D / hutchinson_scale(self.OPERATOR_ORDER)

    def estimator_loss(self, params, directions: np.ndarray | None = None) -> np.ndarray:
        """The loss with the operator replaced by the sample mean over `directions`, shape (B,)."""
        directions = self.hutchinson_directions() if directions is None else directions
        estimate = self.operator_samples(params, directions).mean(axis=-1)
        return ((estimate + self.source()) ** 2).mean(axis=-1)

    # -- finite differences -------------------------------------------------------------------
    def fd_step(self, dtype: str) -> float:
        """h balancing truncation ~h² against rounding ~ε·Σ|w|·h^(−m) for unit-scale derivatives:
        h = (ε·c)^(1/(m+2)), c = 4d (Δ) or (4d)² (Δ²), the stencil's weight sum times h^m,
        rounded to a power of two so the offsets are exact."""
        eps = machine_epsilon(self.input_precision or dtype)
        m = self.OPERATOR_ORDER
        c = (4 * self.dim) ** (m // 2)
        return float(2.0 ** round(math.log2((eps * c) ** (1.0 / (m + 2)))))

    def stencil(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """(offsets (M, d), weights (M,)): the discrete Laplacian Σᵢ (u(x+heᵢ) − 2u + u(x−heᵢ))/h²
        (2d+1 nodes), for Δ² applied twice ((2d+1)² nodes, repeats kept: simple, and cheap at
        d ≤ 16)."""
        h = self.fd_step(dtype)
        E = np.eye(self.dim) * h
        offsets = np.concatenate([np.zeros((1, self.dim)), E, -E])
        weights = np.concatenate([[-2.0 * self.dim], np.ones(2 * self.dim)]) / h**2
        if self.OPERATOR_ORDER == 4:
            offsets = (offsets[:, None, :] + offsets[None, :, :]).reshape(-1, self.dim)
            weights = np.outer(weights, weights).reshape(-1)
        return offsets, self.inputs(weights)

    def stencil_rows(self, dtype: str, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stencil at every point as rows (see `stencil_rounding_model`): nodes (N, M, d),
        weights (N, M), and |∂L/∂Aₙ| = 2|Aₙ + fₙ|/N."""
        offsets, weights = self.stencil(dtype)
        nodes = self.grid()[:, None, :] + offsets[None, :, :]
        coefficient = 2.0 * np.abs(np.real(self.operator(batched(params))[0]) + self.source()) / self.points
        return nodes, np.broadcast_to(weights, nodes.shape[:2]), coefficient

    def stencil_amplification(self, dtype: str) -> float:
        """max|w|: how much the stencil amplifies the rounding of a network evaluation."""
        return float(np.max(np.abs(self.stencil(dtype)[1])))

    # -- reference ------------------------------------------------------------------------------
    def point_losses(self, params) -> np.ndarray:
        """(operator + source)² at each point, shape (B, N) (batched, complex-safe)."""
        return (self.operator(params) + self.source()) ** 2

    def loss(self, params) -> np.ndarray:
        """L for batched (possibly complex) parameters, shape (B,)."""
        return self.point_losses(params).mean(axis=-1)

    def tolerance_parts(self, strategy: str, dtype: str, params: dict[str, np.ndarray],
                        measured_rounding: float | None = None) -> Tolerance:  # fmt: skip
        """Allowed relative error of `strategy` in `dtype`.

        Exact strategies: `exact_rounding` with m + 2 passes over the network per point (m + 1
        Taylor coefficients, the reverse pass) plus the d (Δ) or d² (Δ²) terms the operator sums
        (the S samples for the estimator), never below EXACT_FLOAT64_TOLERANCE in float64. A
        finite-difference strategy adds its predicted truncation (`fd_truncation`) and measured
        rounding (`stencil_tolerance`), a stochastic one its statistical error
        (`hutchinson_error_bound`); either is refused above MAX_USEFUL_ERROR, where it would
        accept any gradient.
        """
        check_dtype(dtype)
        error_model = self.error_model(strategy)
        terms = self.samples if error_model == "stochastic" else self.dim ** (self.OPERATOR_ORDER // 2)
        condition = self.summation_condition(params)
        rounding = exact_rounding(self.network, self.OPERATOR_ORDER + 2, self.points, condition, dtype,
                                  EXACT_FLOAT64_TOLERANCE, extra_operations=terms)  # fmt: skip
        if error_model == "finite-difference":
            truncation = fd_truncation(self, dtype, freeze(params))
            return stencil_tolerance(rounding, truncation, measured_rounding, strategy, self, dtype, params)
        if error_model == "stochastic":
            bound = hutchinson_error_bound(self, freeze(params))
            return Tolerance(
                rounding, statistical=usable_bound(bound, strategy, self, dtype, "raise samples or points")
            )
        return Tolerance(rounding)

    def estimator_statistics(self, params: dict[str, np.ndarray]) -> dict[str, float]:
        """The stochastic estimator at the fixed directions, measured on the reference: samples per
        point, the relative standard deviation of its per-point operator estimate (sample variance
        over the S directions, / S, relative to the RMS of the exact operator), and its loss's
        relative error against the exact loss."""
        return _estimator_statistics(self, freeze(params))


@lru_cache(maxsize=8)
def _estimator_statistics(problem, frozen_params) -> dict[str, float]:
    params = batched(thaw(frozen_params))
    q = problem.operator_samples(params, problem.hutchinson_directions())[0]  # (N, S)
    exact_op = problem.operator(params)[0]
    variance = q.var(axis=-1, ddof=1) / problem.samples
    exact_loss = float(problem.loss(params)[0])
    estimate_loss = float(problem.estimator_loss(params)[0])
    return {
        "estimator_samples": problem.samples,
        "estimator_rel_std": float(np.sqrt(variance.mean()) / np.sqrt(np.mean(exact_op**2))),
        "estimator_loss_rel_err": abs(estimate_loss - exact_loss) / abs(exact_loss),
    }


@register_problem
@dataclass(frozen=True)
class PoissonProblem(_PinnProblem):
    """mean_n (Δu(x_n) + π² Σᵢ sin(π x_{n,i}))² for an MLP u: ℝᵈ → ℝ (tanh by default)."""

    name = "poisson"
    kind = "laplacian"
    OPERATOR_ORDER = ORDER[kind]

    def source(self) -> np.ndarray:
        """The term added to the operator in the residual: +π² Σᵢ sin(π xᵢ) (= −Δu*)."""
        return self.inputs(np.pi**2 * self.exact_solution(self._points()))

    def operator(self, params) -> np.ndarray:
        """Δu at the collocation points: Σᵢ D²_{eᵢ}u, shape (B, N)."""
        E = np.broadcast_to(np.eye(self.dim), (self.points, self.dim, self.dim))
        return directional_derivatives(params, self.network, self.grid(), E, 2).sum(axis=-1)

    def truncation(self, params, h: float) -> np.ndarray:
        """Leading error of the discrete Laplacian: (h²/12) Σᵢ ∂ᵢ⁴u, shape (B, N)."""
        E = np.broadcast_to(np.eye(self.dim), (self.points, self.dim, self.dim))
        return h**2 / 12.0 * directional_derivatives(params, self.network, self.grid(), E, 4).sum(axis=-1)


@register_problem
@dataclass(frozen=True)
class BiharmonicProblem(_PinnProblem):
    """mean_n (Δ²u(x_n) − π⁴ Σᵢ sin(π x_{n,i}))² for an MLP u: ℝᵈ → ℝ (tanh by default)."""

    samples: int = 64  # the fourth-order estimator's variance is ~10× the Laplacian's
    name = "biharmonic"
    kind = "biharmonic"
    OPERATOR_ORDER = ORDER[kind]

    def source(self) -> np.ndarray:
        """The term added to the operator in the residual: −π⁴ Σᵢ sin(π xᵢ) (= −Δ²u*)."""
        return self.inputs(-(np.pi**4) * self.exact_solution(self._points()))

    def _pure_and_pairs(self, params, order: int, mixed_order: int):
        pure, plus, minus = pair_directions(self.dim)
        X = self.grid()

        def along(V):
            V = np.broadcast_to(V, (len(X), *V.shape))
            return directional_derivatives(params, self.network, X, V, order)

        if self.dim == 1:
            return along(pure).sum(axis=-1), 0.0
        return combine_pure_and_pairs(order, along(pure), along(plus), along(minus), self.dim, mixed_order)

    def operator(self, params) -> np.ndarray:
        """Δ²u = Σᵢ ∂ᵢ⁴u + 2 Σ_{i<j} ∂ᵢ²∂ⱼ²u by polarisation along eᵢ ± eⱼ, shape (B, N)."""
        pure, mixed = self._pure_and_pairs(params, 4, 2)
        return pure + 2.0 * mixed

    def truncation(self, params, h: float) -> np.ndarray:
        """Leading error of the squared discrete Laplacian: Δₕ = Δ + (h²/12)Σᵢ∂ᵢ⁴ + O(h⁴), so
        Δₕ² − Δ² = (h²/6) Σᵢⱼ ∂ᵢ⁴∂ⱼ²u = (h²/6)[Σᵢ ∂ᵢ⁶u + Σ_{i<j} (∂ᵢ⁴∂ⱼ² + ∂ᵢ²∂ⱼ⁴)u]."""
        pure, mixed = self._pure_and_pairs(params, 6, 2)
        return h**2 / 6.0 * (pure + mixed)


@lru_cache(maxsize=16)
def fd_truncation(problem: _PinnProblem, dtype: str, frozen_params: tuple) -> float:
    """Predicted relative error of the stencil loss from its truncation (`truncation_bound`): the
    operator is off by T(x) (`truncation`), so the loss mean (A + f)² by E = mean 2(A + f)T to first
    order."""
    h = problem.fd_step(dtype)
    source = problem.source()

    def first_order_error(p):
        return (2.0 * (problem.operator(p) + source) * problem.truncation(p, h)).mean(axis=-1)

    params = thaw(frozen_params)
    return truncation_bound(problem.network, params, problem.full_gradient, problem.loss, first_order_error)


@lru_cache(maxsize=16)
def hutchinson_error_bound(problem: _PinnProblem, frozen_params: tuple) -> float:
    """Statistical bound on the estimator loss's relative error: |bias| + STATISTICAL_Z·σ.

    With per-sample estimates q_{n,s} (S per point, independent across points), δₙ = q̄ₙ − Aₙ has
    variance σₙ²/S and L̂ − L = mean(2rₙδₙ + δₙ²) (rₙ = exact residual). Along a parameter direction
    w, ∂_wL̂ − ∂_wL = mean 2(rₙ∂_wδₙ + δₙ∂_wAₙ + δₙ∂_wδₙ). The bias terms (mean σₙ²/S and mean
    2Cov(q, ∂_wq)/S) and the standard deviations of the linear terms are estimated from the S samples
    themselves (one complex evaluation per check direction gives q and ∂_wq); the bound is the
    larger of the value's (relative to L) and the directional gradient's (relative to the
    largest directional derivative, as `compare` measures). Valid when N·S is large enough for
    the central limit theorem (N ≥ 32 points in the sweeps).
    """
    params = thaw(frozen_params)
    spec = problem.network
    S, N = problem.samples, problem.points
    directions = problem.hutchinson_directions()
    source = problem.source()
    w = check_directions(spec)
    theta = flatten(params, spec)
    batch = unflatten(theta[None, :] + 1j * COMPLEX_STEP * w, spec)
    with complex_step_batch():
        q_c = problem.operator_samples(batch, directions)  # (W, N, S) complex
        a_c = problem.operator(batch)  # (W, N)
    q, dq = np.real(q_c[0]), np.imag(q_c) / COMPLEX_STEP
    a, da = np.real(a_c[0]), np.imag(a_c) / COMPLEX_STEP
    r = a + source
    var_q = q.var(axis=-1, ddof=1)  # (N,)
    loss = float(np.mean(r**2))
    value_bias = np.mean(var_q) / S
    value_sd = 2.0 / N * math.sqrt(np.sum(r**2 * var_q) / S)
    value_rel = (abs(value_bias) + STATISTICAL_Z * value_sd) / loss

    # Linear term per sample: rₙ ∂_w q + ∂_w Aₙ q, its variance over s; bias 2 Cov(q, ∂_w q)/S.
    linear = r[None, :, None] * dq + da[:, :, None] * q[None]
    grad_sd = 2.0 / N * np.sqrt(np.sum(linear.var(axis=-1, ddof=1), axis=-1) / S)  # (W,)
    cov = np.mean((q - q.mean(-1, keepdims=True))[None] * (dq - dq.mean(-1, keepdims=True)), axis=-1)
    grad_bias = np.abs(2.0 * np.mean(cov, axis=-1) * S / (S - 1) / S)
    ref_dir = np.mean(2.0 * r[None] * da, axis=-1)  # exact ∂_w L
    grad_rel = np.max(grad_bias + STATISTICAL_Z * grad_sd) / max(np.max(np.abs(ref_dir)), 1e-300)
    return float(max(value_rel, grad_rel))
