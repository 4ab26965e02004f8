"""The derivative penalty P(θ) = Σ_{x ∈ grid} ‖∇ₓ U₁(x; θ)‖² of any MLP U (the seed's by default).

`PenaltyProblem` holds the data every backend needs (network, collocation points, finite-difference
steps), the float64 reference with its accuracy bounds (so tests and benchmarks share one
definition of "correct"), and the catalogue of penalty strategies.
"""

from __future__ import annotations

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
from problems.network import SEED_NETWORK
from problems.reference import ComplexStepReference, batched, taylor_coefficients
from problems.tolerances import exact_rounding, stencil_tolerance, truncation_bound

STRATEGIES = register_catalogue(Catalogue("penalty", [
    Strategy("rev-over-rev", "input gradient by reverse mode, weight gradient by reverse mode through it"),
    Strategy("rev-over-rev-func", "as rev-over-rev, written with torch.func (grad over grad)"),
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

_JAX, _TORCH = ("jax",), ("torch",)
for _spelling in [
    *spellings(STRATEGIES["rev-over-rev"],
               ("batched", "JAX: one reverse pass over ΣᵢU₁ of the whole batch, not vmapped per point",
                _JAX)),
    *spellings(STRATEGIES["rev-over-rev-func"],
               ("vmap", "torch.func.grad over vmap(jacrev) per point, not grad of ΣᵢU₁ on the batch",
                _TORCH)),
    *spellings(STRATEGIES["rev-over-fwd"],
               ("unrolled", "JAX: one jvp per input direction, unrolled, per point, vmapped over points",
                _JAX),
               ("batched", "JAX: one jvp of the batched network per input direction, unrolled", _JAX),
               ("jacfwd", "PyTorch: torch.func.grad over vmap(jacfwd) per point", _TORCH),
               ("forward-ad-per-direction", "PyTorch: forward_ad dual numbers, one pass of the N points per "
                "input direction (not one pass over points × directions stacked)", _TORCH),
               ("jvp", "PyTorch: torch.func.jvp of the batched network per input direction, under "
                "torch.func.grad", _TORCH)),
    *spellings(STRATEGIES["fwd-over-rev"],
               ("per-point", "JAX: the JVP trick per point (per-point weight gradients), vmapped, summed",
                _JAX),
               ("func", "PyTorch: torch.func.jvp over torch.func.grad (not forward_ad dual numbers "
                "through autograd)", _TORCH)),
    *spellings(STRATEGIES["fwd-over-fwd"],
               ("per-point", "input derivatives by vmap(jacfwd) per point, not one jvp of the batched "
                "network per direction")),
    *spellings(STRATEGIES["taylor"],
               ("per-point", "JAX: jets of the whole output per point, vmapped over the directions and "
                "the points (not one jet of the batch per direction)", _JAX),
               ("per-point-scalar", "JAX: as per-point, jets of the scalar U₁", _JAX),
               ("interpreted", "PyTorch: the jet interpreted at every call (graph not captured)", _TORCH),
               ("per-direction", "PyTorch: one captured jet per input direction on the N points, "
                "not one on the d·N stacked rows", _TORCH)),
    *spellings(STRATEGIES["fd-central"],
               ("halves", "JAX: per point, vmapped, the x + h nodes and the x − h nodes as two batches",
                _JAX),
               ("point-major", "JAX: every node in one batch of the network, each point's ± nodes adjacent",
                _JAX),
               ("node-major", "every node in one batch of the network: every x + h, then every x − h")),
]:  # fmt: skip
    STRATEGIES.add(_spelling)
"""Named spellings of the penalty strategies: the same maths written another way, measured
against the strategy's own spelling (README, "Spellings"; `bench/sets/spellings.toml`)."""

EXACT_FLOAT64_TOLERANCE = 1e-10
"""The penalty's contract for exact strategies in float64 (observed errors are ~1e-15)."""

PASSES = 3
"""Passes over the network per point: value, first input derivative, reverse pass for ∇θ."""


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
    `layers` ("2-64-64-2", or a list) and `activation` choose the network, `model` its kind (with
    the kind's options `features`, `scale`, `n_blocks`, `alpha`: `problems.models`); the defaults
    are the seed network (mlp 2-5-5-5-2, rbf, 87 parameters).
    """

    points: int = 101
    layers: str = SEED_NETWORK.layers
    activation: str = SEED_NETWORK.activation
    model: str = "mlp"
    features: int | None = None
    scale: float | None = None
    n_blocks: int | None = None
    alpha: float | None = None
    input_precision: str | None = None
    name = "penalty"
    kind = "penalty"

    def __post_init__(self):
        check_int_option("points", self.points, "an integer ≥ 2", minimum=2)
        settle_model(self, shorthand=(2, 5, 4, 2))

    @cached_property
    def network(self) -> ModelSpec:
        return problem_model(self)

    def grid(self) -> np.ndarray:
        """Collocation points, shape (points, d_in): rows [x, 1.0, …, 1.0], x evenly in [0, 10]."""
        grid = np.ones((self.points, self.network.d_in))
        grid[:, 0] = np.linspace(0.0, 10.0, self.points)
        return self.inputs(grid)

    def fd_steps(self, dtype: str) -> np.ndarray:
        """Per-point, per-input central-difference steps in `dtype` (or the input precision),
        shape (points, d_in)."""
        return fd_step(self.grid(), self.input_precision or dtype)

    def stencil_amplification(self, dtype: str) -> float:
        """The largest central-difference weight 1/(2h): how much the stencil amplifies the
        rounding of a network evaluation."""
        return float(np.max(1.0 / (2.0 * fd_step(self.grid(), dtype).astype(np.float64))))

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

    def stencil_rows(self, dtype: str, params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each central difference as a stencil row (see `stencil_rounding_model`): nodes
        (d·N, 2, d) at x ± hⱼeⱼ, weights ±1/(2hⱼ), and |∂P/∂Dⱼ| = 2|∂ⱼU₁(x)|."""
        X, h = self.grid(), self.fd_steps(dtype).astype(np.float64)
        first = self.input_derivatives(batched(params), 1)
        nodes, weights, coefficient = [], [], []
        for j in range(X.shape[1]):
            step = np.zeros_like(X)
            step[:, j] = h[:, j]
            nodes.append(np.stack([X + step, X - step], axis=1))
            weights.append(np.stack([1 / (2 * h[:, j]), -1 / (2 * h[:, j])], axis=1))
            coefficient.append(2 * np.abs(np.real(first[j][1][0])))
        return np.concatenate(nodes), np.concatenate(weights), np.concatenate(coefficient)

    def point_losses(self, params) -> np.ndarray:
        """‖∇ₓU₁(x)‖² at each point, shape (B, N) (batched, complex-safe)."""
        return sum(c[1] ** 2 for c in self.input_derivatives(params, 1))

    def loss(self, params) -> np.ndarray:
        """P for batched (possibly complex) parameters, shape (B,)."""
        return self.point_losses(params).sum(axis=-1)

    def tolerance_parts(self, strategy: str, dtype: str, params: dict[str, np.ndarray],
                        measured_rounding: float | None = None) -> Tolerance:  # fmt: skip
        """Allowed norm-wise relative error of `strategy` in `dtype` (see `compare`).

        Exact strategies make rounding errors only: `exact_rounding` (the per-point path, the sum
        over N points, its condition number), never below EXACT_FLOAT64_TOLERANCE in float64. A
        finite-difference strategy adds its truncation, predicted from the reference
        (`fd_truncation`), and its rounding, measured (`stencil_tolerance`).
        """
        check_dtype(dtype)
        condition = self.summation_condition(params)
        rounding = exact_rounding(
            self.network, PASSES, self.points, condition, dtype, EXACT_FLOAT64_TOLERANCE
        )
        if self.error_model(strategy) == "finite-difference":
            truncation = fd_truncation(self, dtype, freeze(params))
            return stencil_tolerance(rounding, truncation, measured_rounding, strategy, self, dtype, params)
        return Tolerance(rounding)


@lru_cache(maxsize=32)
def fd_truncation(problem: PenaltyProblem, dtype: str, frozen_params: tuple) -> float:
    """Predicted relative error of the central-difference penalty from its truncation.

    With D = (U(x+h) − U(x−h))/2h = ∂U + (h²/6)∂³U + O(h⁴), the penalty's leading truncation
    error is E(θ) = Σ (h²/3)·∂ⱼU·∂ⱼ³U, from the reference's third-order Taylor coefficients; the
    bound is `truncation_bound` of E.
    """
    h = problem.fd_steps(dtype).astype(np.float64)  # (N, d)

    def first_order_error(p):
        total = 0.0
        for j, c in enumerate(problem.input_derivatives(p, 3)):
            total = total + ((h[:, j] ** 2 / 3.0) * c[1] * 6.0 * c[3]).sum(axis=-1)
        return total

    params = thaw(frozen_params)
    return truncation_bound(problem.network, params, problem.full_gradient, problem.loss, first_order_error)
