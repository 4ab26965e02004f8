"""Independent float64 reference: hand-written Taylor propagation plus complex step.

Nothing here uses an AD framework, so a strategy is never checked against itself:

* Input derivatives come from propagating a truncated Taylor series x(t) = x + t v through the
  MLP by hand (linear layers act coefficient-wise; exp(w) follows the recurrence
  a_k = (1/k) sum_{j=1..k} j w_j a_{k-j}). Coefficient k equals d^k/dt^k U(x + t v) / k!.
* Weight gradients come from the complex step: dF/dθ_m = Im F(θ + i h e_m) / h with h = 1e-30.
  It has no subtractive cancellation, so it is exact to rounding, and every operation used here
  (products, sums, exp, tanh) is analytic, which the method requires.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from problems.core import freeze, thaw
from problems.network import MLPSpec, flatten, unflatten

COMPLEX_STEP = 1e-30

FULL_GRADIENT_MAX_PARAMS = 1000
"""Above this many parameters a loss-defined problem compares directional derivatives g·v (one
complex evaluation per direction) instead of the full complex-step gradient (one per parameter)."""

CHECK_DIRECTIONS = 3
"""Fixed random directions v (seeded Gaussian) for the directional comparison."""


def _series_product(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Cauchy product of two truncated series (same length)."""
    return [sum(a[i] * b[k - i] for i in range(k + 1)) for k in range(len(a))]


def _series_exp(w: list[np.ndarray]) -> list[np.ndarray]:
    out = [np.exp(w[0])]
    for k in range(1, len(w)):
        out.append(sum(j * w[j] * out[k - j] for j in range(1, k + 1)) / k)
    return out


def _series_tanh(z: list[np.ndarray]) -> list[np.ndarray]:
    # y = tanh z satisfies y' = (1 - y^2) z'; in coefficients: k y_k = sum_j j z_j s_{k-j}, s = 1 - y^2.
    y = [np.tanh(z[0])]
    s = [1.0 - y[0] ** 2]
    for k in range(1, len(z)):
        y.append(sum(j * z[j] * s[k - j] for j in range(1, k + 1)) / k)
        s.append(-sum(y[i] * y[k - i] for i in range(k + 1)))
    return y


def activation_values(name: str, z: np.ndarray) -> np.ndarray:
    """σ(z) of the named activation (the zeroth Taylor coefficient of its rule): complex-safe and
    precision-preserving (float64, longdouble, complex)."""
    return _series_activation(name, [z])[0]


def _series_activation(name: str, z: list[np.ndarray]) -> list[np.ndarray]:
    if name == "rbf":
        return _series_exp([-c for c in _series_product(z, z)])
    if name == "tanh":
        return _series_tanh(z)
    raise ValueError(f"no Taylor rule for activation {name!r}")


def taylor_coefficients(
    params: dict[str, np.ndarray], spec: MLPSpec, x: np.ndarray, v: np.ndarray, order: int
) -> list[np.ndarray]:
    """Normalised Taylor coefficients [U, U_1, ..., U_order] of t -> U(x + t v).

    `params` arrays may carry a leading batch dimension (B, ...) and be complex; `x` and `v`
    have shape (N, d_in). Returns arrays of shape (B, N, d_out) (or (N, d_out) unbatched).
    """
    h = [np.asarray(x), np.asarray(v)] + [np.zeros_like(x)] * (order - 1)
    n = spec.n_layers
    for i in range(1, n + 1):
        W, b = params[f"W{i}"], params[f"b{i}"]
        Wt = np.swapaxes(W, -1, -2)
        z = [c @ Wt for c in h]
        z[0] = z[0] + b[..., None, :]
        h = _series_activation(spec.activation, z) if i < n else z
    return h


def complex_step_jacobian(
    objective: Callable[[dict[str, np.ndarray]], np.ndarray],
    params: dict[str, np.ndarray],
    spec: MLPSpec,
    chunk: int = 16,
) -> np.ndarray:
    """Jacobian (n_params, *out) of a real-analytic `objective(params) -> (B, *out)`.

    `objective` receives parameters with a leading batch dimension B and must treat each batch
    entry independently; perturbations are evaluated `chunk` at a time to bound memory.
    Rows follow `flatten` order.
    """
    theta = flatten(params, spec)
    rows = []
    for start in range(0, theta.size, chunk):
        idx = np.arange(start, min(start + chunk, theta.size))
        batch = np.tile(theta.astype(np.complex128), (idx.size, 1))
        batch[np.arange(idx.size), idx] += 1j * COMPLEX_STEP
        rows.append(np.imag(objective(unflatten(batch, spec))) / COMPLEX_STEP)
    return np.concatenate(rows, axis=0)


def complex_step_gradient(
    objective: Callable[[dict[str, np.ndarray]], np.ndarray],
    params: dict[str, np.ndarray],
    spec: MLPSpec,
) -> dict[str, np.ndarray]:
    """Gradient of a scalar objective (one value per batch entry) as a parameter dict."""
    return unflatten(complex_step_jacobian(objective, params, spec), spec)


def batched(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add a leading batch dimension of size 1."""
    return {k: np.asarray(v)[None] for k, v in params.items()}


def relative_error(
    value: float, grads: dict[str, np.ndarray], ref_value: float, ref_grads: dict[str, np.ndarray]
) -> tuple[float, float]:
    """(|value - ref| / |ref|, max|grad - ref| / max|ref|): the norm-wise errors we report.

    The gradient error is relative to the largest reference component so that tiny components
    (which carry no information about correctness at this scale) do not dominate.
    """
    keys = sorted(ref_grads)
    g = np.concatenate([np.ravel(np.asarray(grads[k], dtype=np.float64)) for k in keys])
    r = np.concatenate([np.ravel(ref_grads[k]) for k in keys])
    value_err = abs(float(value) - ref_value) / max(abs(ref_value), np.finfo(float).tiny)
    grad_err = float(np.max(np.abs(g - r)) / max(np.max(np.abs(r)), np.finfo(float).tiny))
    if not (np.all(np.isfinite(g)) and np.isfinite(value)):
        return float("nan"), float("nan")
    return value_err, grad_err


# -- comparing a strategy's result with the reference --------------------------------------------
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


class GradientReference:
    """`compare` against the full reference gradient of `self.reference`, cached per parameters:
    for problems whose reference is not a plain batched loss (the penalty, the UDE)."""

    def compare(self, params, value, grads) -> tuple[float, float, float]:
        ref_value, ref_grads = _reference_cached(self, freeze(params))
        return (*relative_error(value, grads, ref_value, ref_grads), ref_value)


@lru_cache(maxsize=16)
def _reference_cached(problem, frozen_params):
    return problem.reference(thaw(frozen_params))


def summation_condition(point_losses, params, spec: MLPSpec, full: bool) -> float:
    """How much a loss's per-point terms cancel: Σₙ|tₙ| / |Σₙ tₙ| for the value and for each
    gradient component (full: the largest Σₙ|∂tₙ| over the largest |∂L|, matching the max-norm
    comparison; directional: the same along the check directions), the larger of the two.
    `point_losses(batched params) -> (B, N)` are the terms the loss sums (or averages). Rounding
    errors of an accumulation scale with Σ|tₙ|, the result with |Σ tₙ|: this is their ratio."""
    terms = np.real(point_losses(batched(params))[0])
    value_condition = np.sum(np.abs(terms)) / max(abs(np.sum(terms)), 1e-300)
    if full:
        jacobian = complex_step_jacobian(point_losses, params, spec)  # (P, N)
    else:
        directions = check_directions(spec)
        theta = flatten(params, spec).astype(np.complex128)
        jacobian = (
            np.imag(point_losses(unflatten(theta[None] + 1j * COMPLEX_STEP * directions, spec)))
            / COMPLEX_STEP
        )
    grad_condition = np.max(np.sum(np.abs(jacobian), axis=-1)) / max(np.max(np.abs(jacobian.sum(-1))), 1e-300)
    return float(max(value_condition, grad_condition))


class ComplexStepReference:
    """Reference and comparison for a problem with `loss(batched params) -> (B,)` and `network`:
    the float64 value, the complex-step gradient, and `compare` by the full gradient up to
    FULL_GRADIENT_MAX_PARAMS parameters, otherwise by directional derivatives along
    CHECK_DIRECTIONS fixed random directions. A problem that also defines
    `point_losses(batched params) -> (B, N)` gets `summation_condition` for its rounding bound."""

    @property
    def full_gradient(self) -> bool:
        return self.network.n_params <= FULL_GRADIENT_MAX_PARAMS

    def reference(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """Float64 value and weight gradient: Taylor propagation by hand and the complex step."""
        value = float(np.real(self.loss(batched(params))[0]))
        return value, complex_step_gradient(self.loss, params, self.network)

    def compare(self, params, value, grads) -> tuple[float, float, float]:
        return _compare_cached(self, freeze(params), float(value), freeze(grads))

    def summation_condition(self, params) -> float:
        return _condition_cached(self, freeze(params))

    def relative_difference(self, a: tuple[float, dict], b: tuple[float, dict]) -> float:
        """max(value, gradient) difference of two results (value, grads) in the norm of `compare`,
        relative to `b`: full max-norm, or along the check directions for a large network."""
        (va, ga), (vb, gb) = a, b
        flat = [flatten({k: np.asarray(g[k], np.float64) for k in self.network.param_names}, self.network)
                for g in (ga, gb)]  # fmt: skip
        if not self.full_gradient:
            directions = check_directions(self.network)
            flat = [directions @ f for f in flat]
        grad = np.max(np.abs(flat[0] - flat[1])) / max(np.max(np.abs(flat[1])), 1e-300)
        return float(max(grad, abs(va - vb) / max(abs(vb), 1e-300)))


@lru_cache(maxsize=16)
def _condition_cached(problem, frozen_params):
    return summation_condition(
        problem.point_losses, thaw(frozen_params), problem.network, problem.full_gradient
    )


@lru_cache(maxsize=8)
def _compare_cached(problem, frozen_params, value, frozen_grads):
    return compare_gradient(problem.loss, thaw(frozen_params), problem.network, value, thaw(frozen_grads),
                            problem.full_gradient)  # fmt: skip
