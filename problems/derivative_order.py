"""k-th input derivatives: L(θ) = Σ_{x ∈ grid} (∂ᵏU₁/∂x₁ᵏ([x, 1]; θ))², k = 1 … 8.

The loss that shows how the cost of an input derivative grows with its order k: nesting k
first-order passes repeats the network's program 2ᵏ-fold (exponential), Taylor mode propagates k+1
coefficients (polynomial). The network is the seed net by default (`width=5, depth=4`: the
foundation's exact parameter layout W1..W4, b1..b4); `width`/`depth` widen or deepen it, `layers`
and `activation` give any MLP, and `points` refines the grid. Also holds the central
finite-difference stencil of order k with its predicted error, shared by both backends.
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
    register_catalogue,
    register_problem,
    spellings,
    thaw,
)
from problems.models import ModelSpec, problem_model, settle_model
from problems.reference import ComplexStepReference, batched, taylor_coefficients
from problems.stencils import central_stencil, stencil_step
from problems.tolerances import (
    EXACT_FLOAT64_TOLERANCE,
    exact_rounding,
    stencil_tolerance,
    truncation_bound,
)

ORDERS = tuple(range(1, 9))
"""Valid derivative orders k."""


def _second_order_only(problem) -> str | None:
    if problem.order == 2:
        return None
    return (
        f"fwd-over-rev is the mixed second-order mode (order 2); order {problem.order} is measured by "
        "nested-fwd, nested-rev and taylor"
    )


STRATEGIES = register_catalogue(Catalogue("derivative-order", [
    Strategy("nested-rev",
             "∂ᵏU/∂x₁ᵏ by k nested reverse passes (grad of grad …), weight gradient by reverse mode"),
    Strategy("nested-fwd",
             "∂ᵏU/∂x₁ᵏ by k nested forward passes (jvp of jvp …), weight gradient by reverse mode"),
    Strategy("fwd-over-rev",
             "order 2 only: forward mode over one reverse pass, weight gradient by reverse mode",
             applies=_second_order_only),
    Strategy("taylor",
             "one k-th order Taylor-mode jet (jax.experimental.jet / jet-for-pytorch), then reverse mode"),
    Strategy("fd-stencil",
             "central finite-difference stencil for ∂ᵏ (2⌊(k+1)/2⌋+1 points), then reverse mode",
             error="finite-difference"),
], baseline="nested-rev"))  # fmt: skip
"""Strategies for `derivative-order` (the k-th input derivative)."""

_JAX, _TORCH = ("jax",), ("torch",)
_BATCHED = "JAX: on the whole batch with one shift tᵢ per point (diagonal in t), not vmapped per point"
for _spelling in [
    *spellings(STRATEGIES["nested-rev"], ("batched", _BATCHED, _JAX),
               ("func", "PyTorch: torch.func.grad nested per point, vmapped (not autograd with "
                "create_graph on the batch)", _TORCH)),
    *spellings(STRATEGIES["nested-fwd"],
               ("batched", "on the whole batch with one shift tᵢ per point, tangent 1 at every point, "
                "not vmapped per point")),
    *spellings(STRATEGIES["fwd-over-rev"],
               ("batched", "jvp over grad of the summed network on the whole batch, not vmapped per point")),
    *spellings(STRATEGIES["taylor"], ("batched", _BATCHED, _JAX),
               ("interpreted", "PyTorch: the jet interpreted at every call (graph not captured)", _TORCH)),
    *spellings(STRATEGIES["fd-stencil"],
               ("batched", "JAX: every point × node in one batch (point-major), not vmapped per point",
                _JAX)),
]:  # fmt: skip
    STRATEGIES.add(_spelling)


@register_problem
@dataclass(frozen=True)
class DerivativeOrderProblem(ComplexStepReference, Problem):
    """Σ over `points` evenly spaced x ∈ [0, 10] of (∂ᵏU₁/∂x₁ᵏ([x, 1, …, 1]))², k = `order`.

    The network: `layers` ("2-64-32-2", or a list; any input and output width) with `activation`
    (default rbf), or the shorthand `width` (hidden width, default 5) and `depth` (Dense layers,
    default 4) for a uniform 2 → 2 net. `layers` sets every width, so `width`/`depth` given with it
    must agree with it (else an error). The defaults are the seed network (87 parameters).
    """

    order: int = 1
    points: int = 101
    width: int | None = None
    depth: int | None = None
    layers: str | None = None
    activation: str = "rbf"
    model: str = "mlp"
    features: int | None = None
    scale: float | None = None
    n_blocks: int | None = None
    alpha: float | None = None
    input_precision: str | None = None
    name = "derivative-order"
    kind = "derivative-order"
    network_options = ("width", "depth")
    """Options that `layers` determines (a parameter file's layers replace them in a sweep)."""

    def __post_init__(self):
        valid = ", ".join(map(str, ORDERS))
        check_int_option("order", self.order, f"an integer in {valid}", allowed=ORDERS)
        check_int_option("points", self.points, "an integer ≥ 2", minimum=2)
        if self.width is not None:
            check_int_option("width", self.width, "an integer ≥ 1")
        if self.depth is not None:
            check_int_option("depth", self.depth, "an integer ≥ 2 (Dense layers)", minimum=2)
        spec = settle_model(self, width=self.width, depth=self.depth, shorthand=(2, 5, 4, 2))
        for name, value in (("width", spec.hidden_width), ("depth", spec.n_layers)):
            object.__setattr__(self, name, value)

    @cached_property
    def network(self) -> ModelSpec:
        return problem_model(self)

    def grid(self) -> np.ndarray:
        """Collocation points, shape (points, d_in): rows [x, 1.0, …, 1.0]."""
        grid = np.ones((self.points, self.network.d_in))
        grid[:, 0] = np.linspace(0.0, 10.0, self.points)
        return self.inputs(grid)

    # -- finite differences --------------------------------------------------------------
    def stencil(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """(offsets j·h·e₁, shape (M, d_in); weights c_j / hᵏ, shape (M,)) of the stencil in `dtype`
        (or the input precision): Dₕ(x) = Σ_m weights_m U₁(x + offsets_m)."""
        dtype = self.input_precision or dtype
        nodes, weights, _ = central_stencil(self.order)
        h = stencil_step(self.order, dtype)
        offsets = np.outer(np.array(nodes, dtype=np.float64) * h, np.eye(self.network.d_in)[0])
        return offsets, self.inputs(np.array([float(c) for c in weights]) / h**self.order)

    def stencil_rows(self, dtype: str, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stencil at every point as rows (see `stencil_rounding_model`): nodes (N, M, 2),
        weights (N, M), and |∂L/∂Dₙ| = 2|∂ᵏU₁(xₙ)|."""
        offsets, weights = self.stencil(dtype)
        nodes = self.grid()[:, None, :] + offsets[None, :, :]
        coefficient = 2.0 * np.abs(np.real(self.derivatives(batched(params))[-1][0]))
        return nodes, np.broadcast_to(weights, nodes.shape[:2]), coefficient

    def stencil_amplification(self, dtype: str) -> float:
        """max|c_j|/hᵏ: how much the stencil amplifies the rounding of a network evaluation."""
        return float(np.max(np.abs(self.stencil(dtype)[1])))

    # -- reference -----------------------------------------------------------------------
    def derivatives(self, params, order: int | None = None) -> list[np.ndarray]:
        """[U₁, ∂U₁, …, ∂ᵒU₁] along x₁ at the grid (o = `order`, default k), each (B, N) or (N,)."""
        order = self.order if order is None else order
        x = self.grid()
        coeffs = taylor_coefficients(params, self.network, x, np.eye(x.shape[1])[[0] * len(x)], order)
        return [c[..., 0] * math.factorial(n) for n, c in enumerate(coeffs)]

    def point_losses(self, params) -> np.ndarray:
        """(∂ᵏU₁)² at each point, shape (B, N) (batched, complex-safe)."""
        return self.derivatives(params)[-1] ** 2

    def loss(self, params) -> np.ndarray:
        """L for batched (possibly complex) parameters, shape (B,)."""
        return self.point_losses(params).sum(axis=-1)

    def tolerance_parts(self, strategy: str, dtype: str, params: dict[str, np.ndarray],
                        measured_rounding: float | None = None) -> Tolerance:  # fmt: skip
        """Allowed relative error of `strategy` in `dtype`.

        Exact strategies: `exact_rounding` with k + 2 passes over the network per point (k + 1
        Taylor coefficients, then the reverse pass), never below EXACT_FLOAT64_TOLERANCE in
        float64. A finite-difference strategy adds its truncation predicted from the reference
        (`fd_truncation`) and its measured rounding (`stencil_tolerance`); where these exceed
        MAX_USEFUL_ERROR the case is refused with a BenchInputError (recorded as failed, not as
        ok): such a tolerance would pass any gradient.
        """
        check_dtype(dtype)
        condition = self.summation_condition(params)
        rounding = exact_rounding(self.network, self.order + 2, self.points, condition, dtype,
                                  EXACT_FLOAT64_TOLERANCE)  # fmt: skip
        if self.error_model(strategy) == "finite-difference":
            truncation = fd_truncation(self, dtype, freeze(params))
            return stencil_tolerance(rounding, truncation, measured_rounding, strategy, self, dtype, params,
                                     "use float64 or a lower order" if dtype == "float32"
                                     else "use a lower order or an exact strategy")  # fmt: skip
        return Tolerance(rounding)


@lru_cache(maxsize=32)
def fd_truncation(problem: DerivativeOrderProblem, dtype: str, frozen_params: tuple) -> float:
    """Predicted relative error of the stencil loss from its truncation (`truncation_bound`):
    Dₕ = f⁽ᵏ⁾ + μh²f⁽ᵏ⁺²⁾ + O(h⁴), so the loss Σ Dₕ² is off by E = Σ 2μh²f⁽ᵏ⁾f⁽ᵏ⁺²⁾ to first order,
    from the reference's order-(k+2) Taylor coefficients."""
    _, _, mu = central_stencil(problem.order)
    h = stencil_step(problem.order, problem.input_precision or dtype)
    k = problem.order

    def first_order_error(p):
        d = problem.derivatives(p, k + 2)
        return (2.0 * float(mu) * h**2 * d[k] * d[k + 2]).sum(axis=-1)

    params = thaw(frozen_params)
    return truncation_bound(problem.network, params, problem.full_gradient, problem.loss, first_order_error)
