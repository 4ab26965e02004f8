"""Accuracy contracts shared by the problems: rounding bounds for exact strategies and the
predicted error of finite-difference stencils, both derived rather than guessed."""

from __future__ import annotations

import math

import numpy as np

from problems.core import machine_epsilon
from problems.errors import BenchInputError
from problems.network import MLPSpec, flatten, unflatten
from problems.reference import (
    ACTIVATION_FUNCTIONS,
    COMPLEX_STEP,
    batched,
    check_directions,
    complex_step_batch,
    complex_step_gradient,
    complex_step_jacobian,
    directional_reference,
    taylor_coefficients,
)

PROBABILISTIC_LAMBDA = 10.0
"""λ in the probabilistic rounding bound λ·√n·ε (Higham & Mary, SIAM J. Sci. Comput. 2019): it
holds with probability ≥ 1 − 2n·exp(−λ²/2)·..., i.e. essentially always for λ = 10."""

NETWORK_PATH_OPS = 40
"""Rounded operations on one path through the seed net and its input derivative (4 layers of
≤5-term dot products, a bias add, z², exp and the chain-rule products)."""

PATH_OPS_PER_LAYER = 4
"""Rounded operations per layer besides its dot product (bias add, activation, chain rule)."""


def network_path_ops(spec: MLPSpec) -> int:
    """Rounded operations on one path through `spec` and its input derivative: Σ over layers of
    (fan-in + PATH_OPS_PER_LAYER), and at least the seed net's NETWORK_PATH_OPS, so the seed's
    bounds are unchanged and wide layers (long dot products) get theirs."""
    return max(NETWORK_PATH_OPS, sum(fan_in + PATH_OPS_PER_LAYER for fan_in in spec.sizes[:-1]))


EXACT_FLOAT64_TOLERANCE = 1e-9
"""Contract for exact strategies of higher-order losses in float64 (relative 1e-9). A k-th
derivative sums Faà di Bruno terms of growing count and size, so it is allowed more than the
penalty's 1e-10; observed errors are ≤ 2e-14 up to k = 8 on the seed net."""

MAX_USEFUL_ERROR = 0.5
"""An approximate strategy (finite differences, stochastic estimator) whose predicted relative error
exceeds this is refused (recorded as failed with the reason), not timed: its tolerance would accept
any gradient."""

FD_ROUNDING_ULPS = 1.0
"""Rounding charged to each network evaluation of a stencil, in ulps of its output layer's absolute
sum (`output_magnitude`); summed in absolute value over the stencil, divided by hᵏ."""


def rounding_bound(operations: float, dtype: str) -> float:
    """λ·√n·ε: the probabilistic bound on the relative error of a chain of n roundings."""
    return PROBABILISTIC_LAMBDA * math.sqrt(operations) * machine_epsilon(dtype)


def usable_bound(bound: float, strategy: str, problem, dtype: str, remedy: str) -> float:
    """`bound`, or a BenchInputError when it is too large to tell an approximate gradient (finite
    differences, a stochastic estimate) from a wrong one."""
    if bound > MAX_USEFUL_ERROR:
        raise BenchInputError(
            f"{strategy} on {problem.name} {problem.options} in {dtype}: predicted relative error "
            f"{bound:.2g} > {MAX_USEFUL_ERROR:g}; a tolerance this loose would accept any gradient ({remedy})"
        )
    return bound


def output_magnitude(params, spec: MLPSpec, x: np.ndarray) -> np.ndarray:
    """|W_L||h_(L−1)(x)| + |b_L|, shape (N, d_out): the scale of the output layer's rounding error
    (the leading factor of the dot-product error bound |fl(wᵀh) − wᵀh| ≤ γₙ|w|ᵀ|h|)."""
    activation = ACTIVATION_FUNCTIONS[spec.activation]
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
      projections (directional), at each stencil's centre for all its nodes (they lie within h of
      it; this keeps the estimate affordable for 10⁶-parameter nets with 101-node stencils).
      Without the log factor the Poisson stencil at d = 32 exceeded it.
    """
    eps = machine_epsilon(dtype)
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
        points = nodes.mean(axis=1)  # the stencils' centres: every node lies within h of its point
        with complex_step_batch():
            perturbed = unflatten(theta + 1j * COMPLEX_STEP * probes, spec)
            projected = np.imag(taylor_coefficients(perturbed, spec, points, points, 0)[0][..., 0])
        norms = np.sqrt(np.mean((projected / COMPLEX_STEP) ** 2, axis=0))[:, None]  # (N, 1): per point
        gradient_rounding = np.sum(weight_matrix * norms)
    rho = (np.abs(weights)[None, :] * output_magnitude(params, spec, flat_nodes)[:, 0].reshape(N, M)).sum(-1)
    value = abs(float(np.real(loss(batched(params))[0])))
    value_rounding = np.sum(coefficient * rho) / max(value, 1e-300)
    summation_depth = max(1, math.ceil(math.log2(N * M)))
    gradient_rounding *= summation_depth
    rounding = FD_ROUNDING_ULPS * eps * (gradient_rounding / max(scale, 1e-300) + value_rounding)
    return float(2.0 * truncation / max(scale, 1e-300) + rounding)
