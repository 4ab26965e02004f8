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
    check_dtype,
    check_int_option,
    freeze,
    register_catalogue,
    register_problem,
    thaw,
)
from problems.network import MLPSpec, network_from_options
from problems.reference import ComplexStepReference, taylor_coefficients
from problems.stencils import central_stencil, stencil_step
from problems.tolerances import (
    EXACT_FLOAT64_TOLERANCE,
    network_path_ops,
    rounding_bound,
    stencil_error_bound,
    usable_bound,
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
        spec = network_from_options(self.layers, self.activation, width=self.width, depth=self.depth,
                                    shorthand=(2, 5, 4, 2))  # fmt: skip
        for name, value in (("layers", spec.layers), ("width", spec.hidden_width), ("depth", spec.n_layers)):
            object.__setattr__(self, name, value)

    @cached_property
    def network(self) -> MLPSpec:
        return MLPSpec(tuple(int(s) for s in self.layers.split("-")), self.activation)

    def grid(self) -> np.ndarray:
        """Collocation points, shape (points, d_in): rows [x, 1.0, …, 1.0]."""
        grid = np.ones((self.points, self.network.sizes[0]))
        grid[:, 0] = np.linspace(0.0, 10.0, self.points)
        return grid

    # -- finite differences --------------------------------------------------------------
    def stencil(self, dtype: str) -> tuple[np.ndarray, np.ndarray]:
        """(offsets j·h·e₁, shape (M, d_in); weights c_j / hᵏ, shape (M,)) of the stencil in `dtype`:
        Dₕ(x) = Σ_m weights_m U₁(x + offsets_m)."""
        nodes, weights, _ = central_stencil(self.order)
        h = stencil_step(self.order, dtype)
        offsets = np.outer(np.array(nodes, dtype=np.float64) * h, np.eye(self.network.sizes[0])[0])
        return offsets, np.array([float(c) for c in weights]) / h**self.order

    # -- reference -----------------------------------------------------------------------
    def derivatives(self, params, order: int | None = None) -> list[np.ndarray]:
        """[U₁, ∂U₁, …, ∂ᵒU₁] along x₁ at the grid (o = `order`, default k), each (B, N) or (N,)."""
        order = self.order if order is None else order
        x = self.grid()
        coeffs = taylor_coefficients(params, self.network, x, np.eye(x.shape[1])[[0] * len(x)], order)
        return [c[..., 0] * math.factorial(n) for n, c in enumerate(coeffs)]

    def loss(self, params) -> np.ndarray:
        """L for batched (possibly complex) parameters, shape (B,)."""
        return (self.derivatives(params)[-1] ** 2).sum(axis=-1)

    def tolerance(self, strategy: str, dtype: str, params: dict[str, np.ndarray]) -> float:
        """Allowed relative error of `strategy` in `dtype`.

        float64, exact strategies: EXACT_FLOAT64_TOLERANCE. float32: the penalty's probabilistic
        rounding bound λ·√n·ε with n = (k + 1)·(network path) + N, since each order adds one
        pass over the network path's roundings (3e-6 at k = 1 … 2.6e-5 at k = 8 on 101 points;
        observed ≤ 1e-6 at every order). A finite-difference strategy adds its predicted error
        (`fd_error_bound`); where that exceeds MAX_USEFUL_ERROR the case is refused with a
        BenchInputError (recorded as failed, not as ok): such a tolerance would pass any gradient.
        """
        check_dtype(dtype)
        if dtype == "float64":
            exact = EXACT_FLOAT64_TOLERANCE
        else:
            exact = rounding_bound((self.order + 1) * network_path_ops(self.network) + self.points, dtype)
        if self.error_model(strategy) == "finite-difference":
            bound = fd_error_bound(self, dtype, freeze(params))
            return exact + usable_bound(bound, strategy, self, dtype, "use float64 or a lower order")
        return exact


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
