"""Independent float64 reference: hand-written Taylor propagation plus complex step.

Nothing here uses an AD framework, so a strategy is never checked against itself:

* Input derivatives come from propagating a truncated Taylor series x(t) = x + t v through the
  network by hand, one rule per model kind (`SERIES_MODELS`): linear layers act coefficient-wise,
  gates (U⊙H) are Cauchy products, residual adds act coefficient-wise, the Fourier embedding
  takes the sin/cos series, and each activation has its coefficient rule
  (`SERIES_RULES`), derived from the ODE its derivative satisfies: y = f(z) with y' = f'(z)·z'
  gives k·y_k = Σ_{j=1..k} j·z_j·(f'∘z)_{k−j} (exp, tanh, sin/cos, sigmoid, Φ), products by the
  Cauchy product (rbf = exp(−z²), silu = z·sigmoid z, gelu = z·Φ(z)). Coefficient k equals
  d^k/dt^k U(x + t v) / k!.
* Weight gradients come from the complex step: dF/dθ_m = Im F(θ + i h e_m) / h with h = 1e-30.
  It has no subtractive cancellation, so it is exact to rounding, and every operation used here
  is complex-analytic, which the method requires (softplus as m + log(e⁻ᵐ + eᶻ⁻ᵐ), the sigmoid
  branched on the real part, Φ by scipy's complex erfc).
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
import scipy.special

from problems.core import freeze, thaw
from problems.models import ModelSpec
from problems.network import flatten, unflatten

COMPLEX_STEP = 1e-30

FULL_GRADIENT_MAX_PARAMS = 1000
"""Above this many parameters a loss-defined problem compares directional derivatives g·v (one
complex evaluation per direction) instead of the full complex-step gradient (one per parameter)."""

CHECK_DIRECTIONS = 3
"""Fixed random directions v (seeded Gaussian) for the directional comparison."""


def _series_product(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Cauchy product of two truncated series (same length)."""
    return [sum(a[i] * b[k - i] for i in range(k + 1)) for k in range(len(a))]


def _chain(y0, z: list[np.ndarray], derivative) -> list[np.ndarray]:
    """Series of y = f(z) from y' = f'(z)·z': k·y_k = Σ_{j=1..k} j·z_j·d_{k−j}, where
    `derivative(y_coefficients)` returns the series of f'(z) known so far (it may use y up to the
    current order, as for tanh or the sigmoid, whose derivatives are polynomials in themselves)."""
    y = [y0]
    for k in range(1, len(z)):
        d = derivative(y)
        y.append(sum(j * z[j] * d[k - j] for j in range(1, k + 1)) / k)
    return y


def _series_exp(w: list[np.ndarray]) -> list[np.ndarray]:
    out = [np.exp(w[0])]
    for k in range(1, len(w)):
        out.append(sum(j * w[j] * out[k - j] for j in range(1, k + 1)) / k)
    return out


def _series_tanh(z: list[np.ndarray]) -> list[np.ndarray]:
    # y = tanh z satisfies y' = (1 − y²) z'.
    return _chain(np.tanh(z[0]), z, lambda y: [1.0 - y[0] ** 2] + [-c for c in _series_product(y, y)[1:]])


def _series_sigmoid(z: list[np.ndarray]) -> list[np.ndarray]:
    # s = sigmoid z satisfies s' = (s − s²) z'.
    return _chain(sigmoid(z[0]), z, lambda s: [a - b for a, b in zip(s, _series_product(s, s))])


def _series_sin_cos(z: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    # (sin z)' = cos z · z', (cos z)' = −sin z · z': both series built together.
    s, c = [np.sin(z[0])], [np.cos(z[0])]
    for k in range(1, len(z)):
        s.append(sum(j * z[j] * c[k - j] for j in range(1, k + 1)) / k)
        c.append(-sum(j * z[j] * s[k - j] for j in range(1, k + 1)) / k)
    return s, c


def _series_sin(z: list[np.ndarray]) -> list[np.ndarray]:
    return _series_sin_cos(z)[0]


def _series_softplus(z: list[np.ndarray]) -> list[np.ndarray]:
    # softplus' = sigmoid.
    s = _series_sigmoid(z[:-1]) if len(z) > 1 else []
    return _chain(softplus(z[0]), z, lambda y: s)


def _series_silu(z: list[np.ndarray]) -> list[np.ndarray]:
    return _series_product(z, _series_sigmoid(z))


def _series_gelu(z: list[np.ndarray]) -> list[np.ndarray]:
    # gelu = z·Φ(z), Φ' = φ(z) = exp(−z²/2)/√(2π).
    phi = [c / math.sqrt(2.0 * math.pi) for c in _series_exp([-c / 2.0 for c in _series_product(z, z)])]
    return _series_product(z, _chain(normal_cdf(z[0]), z, lambda y: phi))


def sigmoid(z):
    """1/(1 + e⁻ᶻ) without overflow, for real or complex z (branch on the real part)."""
    z = np.asarray(z)
    positive = np.real(z) >= 0
    e = np.exp(np.where(positive, -z, z))  # |e| ≤ 1
    return np.where(positive, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z):
    """log(1 + eᶻ) = m + log(e⁻ᵐ + eᶻ⁻ᵐ) with m = max(Re z, 0): no overflow, complex-analytic."""
    z = np.asarray(z)
    m = np.maximum(np.real(z), 0.0)
    return m + np.log(np.exp(-m) + np.exp(z - m))


def normal_cdf(z):
    """Φ(z) = erfc(−z/√2)/2 (scipy's erfc accepts complex z; no cancellation for z ≪ 0)."""
    return scipy.special.erfc(-np.asarray(z) / math.sqrt(2.0)) / 2.0


ACTIVATION_FUNCTIONS: dict[str, Callable] = {
    "rbf": lambda z: np.exp(-(z * z)),
    "tanh": np.tanh,
    "sin": np.sin,
    "softplus": softplus,
    "silu": lambda z: z * sigmoid(z),
    "gelu": lambda z: z * normal_cdf(z),
}
"""The activations of `problems.network.ACTIVATIONS` in numpy, complex-analytic (the complex step
differentiates through them in θ)."""

SERIES_RULES: dict[str, Callable[[list[np.ndarray]], list[np.ndarray]]] = {
    "rbf": lambda z: _series_exp([-c for c in _series_product(z, z)]),
    "tanh": _series_tanh,
    "sin": _series_sin,
    "softplus": _series_softplus,
    "silu": _series_silu,
    "gelu": _series_gelu,
}
"""Taylor-coefficient rules: normalised coefficients of z(t) -> those of σ(z(t)), same length."""


def _series_activation(name: str, z: list[np.ndarray]) -> list[np.ndarray]:
    if name not in SERIES_RULES:
        raise ValueError(f"no Taylor rule for activation {name!r}")
    return SERIES_RULES[name](z)


TAYLOR_CHUNK_ELEMENTS = 4_000_000
"""Points are propagated in chunks of at most about this many elements per coefficient array
(batch × points × directions × widest layer), so that memory stays bounded (~64 MB per complex
array) for any grid and network."""


def taylor_coefficients(
    params: dict[str, np.ndarray], spec: ModelSpec, x: np.ndarray, v: np.ndarray, order: int
) -> list[np.ndarray]:
    """Normalised Taylor coefficients [U, U_1, ..., U_order] of t -> U(x + t v).

    `params` arrays may carry a leading batch dimension (B, ...) and be complex. `x` and `v` have
    shape (N, d_in), giving arrays (B, N, d_out) (or (N, d_out) unbatched); or, for R directions
    per point, x (N, 1, d_in) and v (N or 1, R, d_in), giving (B, N, R, d_out) for the
    coefficients that depend on v: the primal is then propagated once per point, not per
    direction. Points are processed in chunks (TAYLOR_CHUNK_ELEMENTS).
    """
    x, v = np.asarray(x), np.asarray(v)
    first, shape = next(iter(spec.param_shapes().items()))
    batch = np.shape(params[first])[: np.ndim(params[first]) - len(shape)]
    rows = int(np.prod(batch, dtype=int)) * (x.size // x.shape[-1]) * (v.shape[-2] if v.ndim == 3 else 1)
    chunk = max(1, x.shape[0] * TAYLOR_CHUNK_ELEMENTS // max(1, rows * spec.widest))
    if chunk >= x.shape[0]:
        return _taylor_chunk(params, spec, x, v, order, len(batch))
    parts = []
    for start in range(0, x.shape[0], chunk):
        s = slice(start, start + chunk)
        parts.append(_taylor_chunk(params, spec, x[s], v if v.shape[0] == 1 else v[s], order, len(batch)))
    return [np.concatenate([p[k] for p in parts], axis=len(batch)) for k in range(len(parts[0]))]


_IN_COMPLEX_STEP = contextvars.ContextVar("in_complex_step", default=False)


@contextmanager
def complex_step_batch():
    """Within: batched complex parameters are complex steps θ + i·h·v of one θ, so every batch
    entry's real part is the unperturbed evaluation (up to O(h²) = 1e-60, far below rounding) and
    `_affine` computes it once (see `_affine_step`)."""
    token = _IN_COMPLEX_STEP.set(True)
    try:
        yield
    finally:
        _IN_COMPLEX_STEP.reset(token)


def _affine(c: np.ndarray, W: np.ndarray, batch_ndim: int) -> np.ndarray:
    """c @ Wᵀ for coefficients c (*batch or 1s, *points, in) and W (*batch, out, in)."""
    points = c.shape[batch_ndim:-1]
    flat = c.reshape(*c.shape[:batch_ndim], -1, c.shape[-1])
    if batch_ndim == 1 and W.shape[0] > 1 and np.iscomplexobj(W) and _IN_COMPLEX_STEP.get():
        flat = _affine_step(flat, W)
    else:
        flat = flat @ np.swapaxes(W, -1, -2)
    return flat.reshape(*flat.shape[:batch_ndim], *points, flat.shape[-1])


def _affine_step(c: np.ndarray, W: np.ndarray) -> np.ndarray:
    """c @ Wᵀ for a complex-step batch (c (B or 1, rows, in), W (B, out, in)): the real part
    Re c₀ · Re W₀ᵀ once, the imaginary part Im c · Re W₀ᵀ + Re c₀ · Im Wᵀ; 1 + 2B real matrix
    products instead of B complex ones (each ~4–5 real ones): the restructuring that keeps the
    reference at 10⁵ points × 512-wide layers affordable. The products read contiguous operands
    and the result is written into one complex array (no `1j * imag` temporaries): 17 → 5–7 ms a
    call for a batch of 16 at 10⁴ points × 5-wide layers, one BLAS thread."""
    W_real = np.ascontiguousarray(W[0].real.T)
    c_real = np.ascontiguousarray(c[0].real)
    imag = c_real @ np.ascontiguousarray(np.swapaxes(W.imag, -1, -2))  # (B, rows, out)
    if np.iscomplexobj(c):
        imag += (np.ascontiguousarray(c.imag).reshape(-1, c.shape[-1]) @ W_real).reshape(
            c.shape[0], c.shape[1], -1
        )
    out = np.empty(imag.shape, dtype=np.result_type(imag, 1j))
    out.real = c_real @ W_real  # broadcast over the batch
    out.imag = imag
    return out


def _taylor_chunk(params, spec, x, v, order, batch_ndim):
    lead = (1,) * batch_ndim
    h = [x.reshape(lead + x.shape)] + ([v.reshape(lead + v.shape)] if order > 0 else [])
    h += [np.zeros(lead + v.shape, dtype=v.dtype)] * (order - 1)
    features, (weight, bias) = series_features(params, spec, h, batch_ndim)
    return _series_dense(features, params[weight], params[bias], batch_ndim)


# -- each model kind's Taylor rule: the series of the features its linear output layer reads ------
SERIES_MODELS: dict[str, Callable] = {}
"""kind -> rule(params, spec, h, batch_ndim) -> (series of the output layer's input, (its weight's
name, its bias's name)); `h` is the input's series [x, v, 0, …], each (*batch or 1s, *points, d)."""


def register_series(kind: str):
    """Decorator: the Taylor rule of model kind `kind` (one per kind)."""

    def register(rule):
        SERIES_MODELS[kind] = rule
        return rule

    return register


def series_features(params, spec, h, batch_ndim: int):
    """The rule of `spec.kind` (`SERIES_MODELS`); ValueError for a kind without one."""
    if spec.kind not in SERIES_MODELS:
        raise ValueError(f"the reference has no Taylor rule for model kind {spec.kind!r}")
    return SERIES_MODELS[spec.kind](params, spec, h, batch_ndim)


def _series_dense(
    h: list[np.ndarray], W: np.ndarray, b: np.ndarray | None, batch_ndim: int
) -> list[np.ndarray]:
    """h Wᵀ + b coefficient-wise (the bias enters the zeroth coefficient only)."""
    z = [_affine(c, W, batch_ndim) for c in h]
    if b is not None:
        z[0] = z[0] + b.reshape(b.shape[:batch_ndim] + (1,) * (z[0].ndim - batch_ndim - 1) + b.shape[-1:])
    return z


def _series_layer(params, name: str, h, activation: str, batch_ndim: int) -> list[np.ndarray]:
    """σ(h W{name}ᵀ + b{name})."""
    return _series_activation(
        activation, _series_dense(h, params[f"W{name}"], params[f"b{name}"], batch_ndim)
    )


def _series_fourier(B, h, batch_ndim: int) -> list[np.ndarray]:
    """[cos(h Bᵀ), sin(h Bᵀ)], cos block first."""
    sin, cos = _series_sin_cos(_series_dense(h, B, None, batch_ndim))
    return [np.concatenate([c, s], axis=-1) for c, s in zip(cos, sin)]


def _series_gate(H, U, V) -> list[np.ndarray]:
    """H⊙U + (1 − H)⊙V = V + H⊙(U − V), by the Cauchy product."""
    return [v + p for v, p in zip(V, _series_product(H, [u - v for u, v in zip(U, V)]))]


@register_series("mlp")
def _mlp_series(params, spec, h, batch_ndim):
    n = spec.n_layers
    for i in range(1, n):
        h = _series_layer(params, str(i), h, spec.activation, batch_ndim)
    return h, (f"W{n}", f"b{n}")


@register_series("fourier")
def _fourier_series(params, spec, h, batch_ndim):
    return _mlp_series(params, spec, _series_fourier(params["B"], h, batch_ndim), batch_ndim)


@register_series("modified-mlp")
def _modified_mlp_series(params, spec, h, batch_ndim):
    U = _series_layer(params, "u", h, spec.activation, batch_ndim)
    V = _series_layer(params, "v", h, spec.activation, batch_ndim)
    n = spec.n_layers
    for i in range(1, n):
        h = _series_gate(_series_layer(params, str(i), h, spec.activation, batch_ndim), U, V)
    return h, (f"W{n}", f"b{n}")


@register_series("pirate")
def _pirate_series(params, spec, x, batch_ndim):
    if spec.features is not None:
        x = _series_fourier(params["B"], x, batch_ndim)
    act = spec.activation
    U, V = _series_layer(params, "u", x, act, batch_ndim), _series_layer(params, "v", x, act, batch_ndim)
    for k in range(1, spec.n_blocks + 1):
        f = _series_gate(_series_layer(params, f"{k}a", x, act, batch_ndim), U, V)
        z = _series_gate(_series_layer(params, f"{k}b", f, act, batch_ndim), U, V)
        h = _series_layer(params, f"{k}c", z, act, batch_ndim)
        alpha = params[f"alpha{k}"]  # (*batch, 1)
        x = [a + _broadcast(alpha, c, batch_ndim) * (c - a) for a, c in zip(x, h)]
    return x, ("Wout", "bout")


@register_series("resnet")
def _resnet_series(params, spec, x, batch_ndim):
    act = spec.activation
    h = _series_layer(params, "in", x, act, batch_ndim)
    for k in range(1, spec.n_blocks + 1):
        inner = _series_layer(params, f"{k}a", h, act, batch_ndim)
        h = [a + c for a, c in zip(h, _series_dense(inner, params[f"W{k}b"], params[f"b{k}b"], batch_ndim))]
    return h, ("Wout", "bout")


def _broadcast(scalar: np.ndarray, like: np.ndarray, batch_ndim: int) -> np.ndarray:
    """A per-model scalar parameter (*batch, 1) shaped to broadcast against `like` (*batch, …)."""
    return scalar.reshape(scalar.shape[:batch_ndim] + (1,) * (like.ndim - batch_ndim))


def lane_values(params: dict[str, np.ndarray], spec, u: np.ndarray) -> np.ndarray:
    """U(u_b; θ_b) for B parameter sets (leading batch dimension) and one state each, u (B, d_in):
    the ODE lanes of the UDE's reference (complex-safe)."""
    features, (weight, bias) = series_features(params, spec, [u[:, None, :]], 1)
    return _series_dense(features, params[weight], params[bias], 1)[0][:, 0, :]


def output_layer_input(params: dict[str, np.ndarray], spec, x: np.ndarray):
    """(h, W, b): what the linear output layer reads at points x (N, d_in), and its weights."""
    features, (weight, bias) = series_features(params, spec, [np.asarray(x)], 0)
    return features[0], params[weight], params[bias]


def complex_step_jacobian(
    objective: Callable[[dict[str, np.ndarray]], np.ndarray],
    params: dict[str, np.ndarray],
    spec: ModelSpec,
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
        with complex_step_batch():
            rows.append(np.imag(objective(unflatten(batch, spec))) / COMPLEX_STEP)
    return np.concatenate(rows, axis=0)


def complex_step_gradient(
    objective: Callable[[dict[str, np.ndarray]], np.ndarray],
    params: dict[str, np.ndarray],
    spec: ModelSpec,
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
def check_directions(spec: ModelSpec, count: int = CHECK_DIRECTIONS, seed: int = 1234) -> np.ndarray:
    """Fixed Gaussian directions in parameter space, shape (count, n_params)."""
    return np.random.default_rng(seed).standard_normal((count, spec.n_params))


def directional_reference(objective, params, spec: ModelSpec, directions: np.ndarray):
    """(value, g·v for each direction) of a real-analytic batched `objective` by complex step.
    Remembered per (objective, parameters, directions): the comparison and the truncation bound of
    a large network ask for the same loss along the same directions."""
    key = _memo_key(objective, params, directions)
    if key is not None and key in _DIRECTIONAL_MEMO:
        return _DIRECTIONAL_MEMO[key]
    theta = flatten(params, spec).astype(np.complex128)
    batch = theta[None, :] + 1j * COMPLEX_STEP * directions
    with complex_step_batch():
        out = objective(unflatten(batch, spec))
    result = float(np.real(out[0])), np.imag(out) / COMPLEX_STEP
    _remember(key, result)
    return result


_DIRECTIONAL_MEMO: dict = {}
"""(objective, frozen parameters, directions) -> `directional_reference`'s result, the newest 16."""


def _memo_key(objective, params, directions: np.ndarray):
    key = (objective, freeze(params), directions.tobytes(), directions.shape)
    try:
        hash(key)
    except TypeError:  # an unhashable objective is evaluated every time
        return None
    return key


def _remember(key, result) -> None:
    if key is not None:
        _DIRECTIONAL_MEMO[key] = result
        while len(_DIRECTIONAL_MEMO) > 16:
            _DIRECTIONAL_MEMO.pop(next(iter(_DIRECTIONAL_MEMO)))


@dataclass(frozen=True)
class ReferenceCheck:
    """What a strategy's result is compared with: the reference value and either the full
    gradient or the directional derivatives g·v along `directions` (computed once per parameters)."""

    value: float
    grads: dict[str, np.ndarray] | None = None
    directions: np.ndarray | None = None
    along: np.ndarray | None = None

    def compare(self, spec: ModelSpec, value: float, grads: dict) -> tuple[float, float, float]:
        """(value_err, grad_err, ref_value). Full: the norm-wise error of `relative_error`.
        Directional: max_j |g·v_j − r_j| / max_j |r_j| over the directions v_j; a wrong gradient
        passes only if its error is orthogonal to every v_j (probability zero for Gaussian v)."""
        if self.grads is not None:
            return (*relative_error(value, grads, self.value, self.grads), self.value)
        g = flatten({k: np.asarray(grads[k], dtype=np.float64) for k in spec.param_names}, spec)
        if not (np.all(np.isfinite(g)) and np.isfinite(value)):
            return float("nan"), float("nan"), self.value
        value_err = abs(float(value) - self.value) / max(abs(self.value), np.finfo(float).tiny)
        worst = np.max(np.abs(self.directions @ g - self.along))
        return value_err, float(worst / max(np.max(np.abs(self.along)), 1e-300)), self.value


def reference_check(objective, params, spec: ModelSpec, full: bool) -> ReferenceCheck:
    """The reference of a real-analytic batched `objective`: full complex-step gradient, or
    directional derivatives along `check_directions` (one complex evaluation each)."""
    if full:
        value = float(np.real(objective(batched(params))[0]))
        return ReferenceCheck(value, grads=complex_step_gradient(objective, params, spec))
    directions = check_directions(spec)
    value, along = directional_reference(objective, params, spec, directions)
    return ReferenceCheck(value, directions=directions, along=along)


def compare_gradient(objective, params, spec, value, grads, full: bool):
    """(value_err, grad_err, ref_value) of (value, grads) against `objective`'s reference
    (`ReferenceCheck.compare`)."""
    return reference_check(objective, params, spec, full).compare(spec, value, grads)


class GradientReference:
    """`compare` against the full reference gradient of `self.reference`, cached per parameters:
    for problems whose reference is not a plain batched loss (the penalty, the UDE)."""

    def compare(self, params, value, grads) -> tuple[float, float, float]:
        ref_value, ref_grads = _reference_cached(self, freeze(params))
        return (*relative_error(value, grads, ref_value, ref_grads), ref_value)


@lru_cache(maxsize=16)
def _reference_cached(problem, frozen_params):
    return problem.reference(thaw(frozen_params))


def summation_condition(point_losses, params, spec: ModelSpec, full: bool) -> float:
    """How much a loss's per-point terms cancel: Σₙ|tₙ| / |Σₙ tₙ| for the value and for each
    gradient component (full: the largest Σₙ|∂tₙ| over the largest |∂L|, matching the max-norm
    comparison; directional: the same along the check directions), the larger of the two.
    `point_losses(batched params) -> (B, N)` are the terms the loss sums (or averages). Rounding
    errors of an accumulation scale with Σ|tₙ|, the result with |Σ tₙ|: this is their ratio."""
    if full:
        terms = np.real(point_losses(batched(params))[0])
        jacobian = complex_step_jacobian(point_losses, params, spec)  # (P, N)
    else:
        terms, jacobian = terms_along_directions(point_losses, params, spec)
    return condition_number(terms, jacobian)


def condition_number(terms: np.ndarray, jacobian: np.ndarray) -> float:
    """`summation_condition` from the terms (N,) and their derivatives (P or D, N)."""
    value_condition = np.sum(np.abs(terms)) / max(abs(np.sum(terms)), 1e-300)
    grad_condition = np.max(np.sum(np.abs(jacobian), axis=-1)) / max(np.max(np.abs(jacobian.sum(-1))), 1e-300)
    return float(max(value_condition, grad_condition))


def terms_along_directions(point_losses, params, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """The per-point terms (N,) and their derivatives along `check_directions` (D, N): one
    complex-step evaluation that serves both the comparison and the summation condition."""
    directions = check_directions(spec)
    theta = flatten(params, spec).astype(np.complex128)
    with complex_step_batch():
        out = point_losses(unflatten(theta[None] + 1j * COMPLEX_STEP * directions, spec))
    return np.real(out[0]), np.imag(out) / COMPLEX_STEP


class ComplexStepReference:
    """Reference and comparison for a problem with `loss(batched params) -> (B,)` and `network`:
    the float64 value, the complex-step gradient, and `compare` by the full gradient up to
    FULL_GRADIENT_MAX_PARAMS parameters, otherwise by directional derivatives along
    CHECK_DIRECTIONS fixed random directions. A problem that also defines
    `point_losses(batched params) -> (B, N)` gets `summation_condition` for its rounding bound;
    for a large network its comparison and condition then share one evaluation of the terms
    along the check directions (`loss` reduces them by `point_reduction`)."""

    point_reduction: ClassVar[str] = "sum"
    """How `loss` reduces `point_losses` over the points: "sum" or "mean"."""

    @property
    def full_gradient(self) -> bool:
        return self.network.n_params <= FULL_GRADIENT_MAX_PARAMS

    def reference(self, params: dict[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """Float64 value and weight gradient: Taylor propagation by hand and the complex step."""
        value = float(np.real(self.loss(batched(params))[0]))
        return value, complex_step_gradient(self.loss, params, self.network)

    def compare(self, params, value, grads) -> tuple[float, float, float]:
        return _check_cached(self, freeze(params)).compare(self.network, value, grads)

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
    if problem.full_gradient:
        return summation_condition(problem.point_losses, thaw(frozen_params), problem.network, True)
    return condition_number(*_terms_along_cached(problem, frozen_params))


@lru_cache(maxsize=4)
def _terms_along_cached(problem, frozen_params):
    return terms_along_directions(problem.point_losses, thaw(frozen_params), problem.network)


@lru_cache(maxsize=8)
def _check_cached(problem, frozen_params) -> ReferenceCheck:
    params = thaw(frozen_params)
    if problem.full_gradient or not hasattr(problem, "point_losses"):
        return reference_check(problem.loss, params, problem.network, problem.full_gradient)
    terms, along = _terms_along_cached(problem, frozen_params)
    reduce = np.mean if problem.point_reduction == "mean" else np.sum
    directions = check_directions(problem.network)
    check = ReferenceCheck(float(reduce(terms)), directions=directions, along=reduce(along, axis=-1))
    _remember(_memo_key(problem.loss, params, directions), (check.value, check.along))  # the loss's too
    return check
