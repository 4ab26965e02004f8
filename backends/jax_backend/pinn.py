"""JAX strategies for the PINN operators: Δu (Poisson) and Δ²u (biharmonic).

`LAPLACIAN[name](u)` and `BIHARMONIC[name](u)` turn any scalar function `u(params, x)` of one point
x ∈ ℝᵈ into `op(params, x, *data)`, so the same operators are checked on closed-form functions in
the tests and on the MLP in the benchmark. The residual loss mean_n (op(xₙ) + sₙ)² vmaps the
operator over the collocation points; its weight gradient is always reverse mode, jit-compiled once
by the core's `compile_evaluation` (which also times the loss alone and records program size and
XLA's memory plan).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.jet import jet

from backends.jax_backend.core import (
    batch_network,
    compile_evaluation,
    jet_condition,
    nested_folx_condition,
    params_to_numpy,
    point_network,
    registry,
    reverse_outer,
    stencil,
    stencil_per_point,
)
from problems.pinn import ORDER, hutchinson_scale


# -- Δ ---------------------------------------------------------------------------------------
def laplacian_nested_reverse(u):
    """Trace of the Hessian by reverse over reverse (`jacrev` of `grad`: d reverse-over-reverse
    Hessian-vector products)."""
    return lambda params, x: jnp.trace(jax.jacrev(jax.grad(u, argnums=1), argnums=1)(params, x))


def laplacian_forward_over_reverse(u):
    """Trace of `jax.hessian` (forward over reverse: d forward-over-reverse HVPs)."""
    return lambda params, x: jnp.trace(jax.hessian(u, argnums=1)(params, x))


def _basis(x):
    return jnp.eye(x.shape[0], dtype=x.dtype)


def laplacian_nested_forward(u):
    """Σᵢ ∂²u/∂xᵢ² by forward over forward (jvp of jvp) along each basis vector, vmapped."""

    def lap(params, x):
        def second(e):
            first = lambda y: jax.jvp(lambda z: u(params, z), (y,), (e,))[1]
            return jax.jvp(first, (x,), (e,))[1]

        return jnp.sum(jax.vmap(second)(_basis(x)))

    return lap


def directional(u, order: int):
    """D^order_v u(x) by one standard Taylor-mode jet (`jax.experimental.jet` returns derivatives)."""

    def derivative(params, x, v):
        series = [v] + [jnp.zeros_like(v)] * (order - 1)
        _, out = jet(lambda y: u(params, y), (x,), (series,))
        return out[order - 1]

    return derivative


def laplacian_taylor(u):
    """Σᵢ D²_{eᵢ}u: second-order jets along the d basis directions, vmapped and summed."""
    second = directional(u, 2)
    return lambda params, x: jnp.sum(jax.vmap(lambda e: second(params, x, e))(_basis(x)))


def laplacian_forward_laplacian(u):
    """folx's forward Laplacian: value, Jacobian and Laplacian propagated together in one pass."""
    from folx import forward_laplacian

    return lambda params, x: forward_laplacian(lambda y: u(params, y))(x).laplacian


def hutchinson(u, order: int):
    """mean_s D^m_{v_s}u / c over the given directions V (S, d): Rademacher v, c = 1 (Δ); Gaussian
    v, c = 3 (Δ²). Jets along each sampled direction (randomised Taylor mode)."""
    derivative = directional(u, order)
    scale = hutchinson_scale(order)
    return lambda params, x, V: jnp.mean(jax.vmap(lambda v: derivative(params, x, v))(V)) / scale


LAPLACIAN = {
    "nested-rev": laplacian_nested_reverse,
    "nested-fwd": laplacian_nested_forward,
    "fwd-over-rev": laplacian_forward_over_reverse,
    "taylor": laplacian_taylor,
    "forward-laplacian": laplacian_forward_laplacian,
}
"""Exact Laplacians: name -> (u -> Δu)."""


# -- Δ² ----------------------------------------------------------------------------------------
def biharmonic_taylor(u):
    """Standard Taylor mode: fourth-order jets along eᵢ and eᵢ ± eⱼ (i < j), combined by
    polarisation: Δ²u = Σᵢ D⁴_{eᵢ}u + 2 Σ_{i<j} [(D⁴_{eᵢ+eⱼ} + D⁴_{eᵢ−eⱼ})/2 − D⁴_{eᵢ} − D⁴_{eⱼ}]/6."""
    fourth = directional(u, 4)

    def bilap(params, x):
        d = x.shape[0]
        along = jax.vmap(lambda v: fourth(params, x, v))
        E = _basis(x)
        pure = along(E)
        if d == 1:
            return pure[0]
        i, j = np.triu_indices(d, k=1)
        plus, minus = along(E[i] + E[j]), along(E[i] - E[j])
        mixed = ((plus + minus) / 2 - pure[i] - pure[j]) / 6
        return jnp.sum(pure) + 2 * jnp.sum(mixed)

    return bilap


BIHARMONIC = {
    "nested-rev": lambda u: laplacian_nested_reverse(laplacian_nested_reverse(u)),
    "nested-fwd": lambda u: laplacian_nested_forward(laplacian_nested_forward(u)),
    "fwd-over-rev": lambda u: laplacian_forward_over_reverse(laplacian_forward_over_reverse(u)),
    "taylor": biharmonic_taylor,
    "forward-laplacian": lambda u: laplacian_forward_laplacian(laplacian_forward_laplacian(u)),
}
"""Exact biharmonic operators: the nested ones apply their Laplacian to the Laplacian."""

OPERATORS = {"laplacian": LAPLACIAN, "biharmonic": BIHARMONIC}


_CONDITIONS = {
    ("laplacian", "taylor"): jet_condition,
    ("biharmonic", "taylor"): jet_condition,
    ("biharmonic", "forward-laplacian"): nested_folx_condition,
}
"""Where a library cannot serve some networks (`core.JET_FAILS_ON`, `core.NESTED_FOLX_FAILS_ON`)."""


# -- batched spellings: the points in one batch inside the derivative ----------------------------
# A batched operator maps `u(params, X) -> (N,)`, whose rows depend on their own point only, to
# `op(params, X, *data) -> (N,)`; rows stay independent, so batched operators compose (Δ of Δ).
# The directions are vmapped over (points batched inside, directions outside the derivative).
def _tangents(X):
    """eᵢ at every point for each i, shape (d, N, d)."""
    return jnp.broadcast_to(_basis(X[0])[:, None, :], (X.shape[1],) + X.shape)


def _input_grad(U):
    """∇_X ΣₙU(Xₙ): row n is point n's gradient."""
    return jax.grad(lambda params, X: jnp.sum(U(params, X)), argnums=1)


def laplacian_nested_reverse_batched(U):
    """Σᵢ ∂ᵢ(∇U)ᵢ by reverse over reverse on the batch: the pullback of ∇U along eᵢ at every
    point (one per i, vmapped over i) has ∂ᵢ∇U at each row; its i-th entries summed."""
    G = _input_grad(U)

    def lap(params, X):
        _, pullback = jax.vjp(lambda Y: G(params, Y), X)
        rows = jax.vmap(lambda E: pullback(E)[0])(_tangents(X))  # (d, N, d)
        return jnp.einsum("ini->n", rows)

    return lap


def laplacian_forward_over_reverse_batched(U):
    """Σᵢ (∂ᵢ∇U)ᵢ by jvp over grad on the batch, vmapped over the d directions."""
    G = _input_grad(U)

    def lap(params, X):
        rows = jax.vmap(lambda E: jax.jvp(lambda Y: G(params, Y), (X,), (E,))[1])(_tangents(X))
        return jnp.einsum("ini->n", rows)

    return lap


def laplacian_nested_forward_batched(U):
    """Σᵢ ∂ᵢ²U by jvp of jvp on the batch along eᵢ at every point, vmapped over i."""

    def lap(params, X):
        def second(E):
            first = lambda Y: jax.jvp(lambda Z: U(params, Z), (Y,), (E,))[1]
            return jax.jvp(first, (X,), (E,))[1]

        return jnp.sum(jax.vmap(second)(_tangents(X)), axis=0)

    return lap


def directional_batched(U, order: int):
    """D^order_V U on the batch (direction Vₙ at point n) by one standard Taylor-mode jet."""

    def derivative(params, X, V):
        series = [V] + [jnp.zeros_like(V)] * (order - 1)
        return jet(lambda Y: U(params, Y), (X,), (series,))[1][order - 1]

    return derivative


def laplacian_taylor_batched(U):
    """Σᵢ D²_{eᵢ}U: one second-order jet of the batch per direction, vmapped over the directions."""
    second = directional_batched(U, 2)
    return lambda params, X: jnp.sum(jax.vmap(lambda E: second(params, X, E))(_tangents(X)), axis=0)


def biharmonic_taylor_batched(U):
    """`biharmonic_taylor`'s polarised fourth-order jets, on the batch, vmapped over directions."""
    fourth = directional_batched(U, 4)

    def bilap(params, X):
        d = X.shape[1]
        E = _basis(X[0])
        along = jax.vmap(lambda v: fourth(params, X, jnp.broadcast_to(v, X.shape)))
        pure = along(E)  # (d, N)
        if d == 1:
            return pure[0]
        i, j = np.triu_indices(d, k=1)
        plus, minus = along(E[i] + E[j]), along(E[i] - E[j])
        mixed = ((plus + minus) / 2 - pure[i] - pure[j]) / 6
        return jnp.sum(pure, axis=0) + 2 * jnp.sum(mixed, axis=0)

    return bilap


def hutchinson_batched(U, order: int):
    """`hutchinson` with one jet of the batch per sample s (directions V[:, s]), vmapped over s."""
    derivative = directional_batched(U, order)
    scale = hutchinson_scale(order)
    return lambda params, X, V: jnp.mean(jax.vmap(lambda Vs: derivative(params, X, Vs), in_axes=1)(V),
                                         axis=0) / scale  # fmt: skip


LAPLACIAN_BATCHED = {
    "nested-rev:batched": laplacian_nested_reverse_batched,
    "nested-fwd:batched": laplacian_nested_forward_batched,
    "fwd-over-rev:batched": laplacian_forward_over_reverse_batched,
    "taylor:batched": laplacian_taylor_batched,
}
"""Exact batched Laplacians: spelling -> (U -> ΔU), U and ΔU on the whole batch."""

BIHARMONIC_BATCHED = {
    "nested-rev:batched": lambda U: laplacian_nested_reverse_batched(laplacian_nested_reverse_batched(U)),
    "nested-fwd:batched": lambda U: laplacian_nested_forward_batched(laplacian_nested_forward_batched(U)),
    "fwd-over-rev:batched": lambda U: laplacian_forward_over_reverse_batched(
        laplacian_forward_over_reverse_batched(U)
    ),
    "taylor:batched": biharmonic_taylor_batched,
}

BATCHED_OPERATORS = {"laplacian": LAPLACIAN_BATCHED, "biharmonic": BIHARMONIC_BATCHED}


# -- the residual loss and its builders --------------------------------------------------------
def residual_loss(op, data_axes: tuple = ()):
    """mean_n (op(params, xₙ, *data) + sₙ)²; `data_axes` are op's extra arguments' vmap axes."""

    def value(params, X, source, *data):
        A = jax.vmap(op, in_axes=(None, 0) + data_axes)(params, X, *data)
        return jnp.mean((A + source) ** 2)

    return value


def _build(problem, dtype, device, compile_mode, value, *data, extra_metrics=None):
    return compile_evaluation(problem, dtype, device, compile_mode, reverse_outer(value), problem.source(),
                              *data, loss=value, extra_metrics=extra_metrics)  # fmt: skip


def _build_exact(problem, dtype, device, compile_mode, *, operator):
    """The residual loss with a per-point exact `operator` (u -> op), vmapped over the points."""
    return _build(
        problem, dtype, device, compile_mode, residual_loss(operator(point_network(problem.network)))
    )


def _build_batched(problem, dtype, device, compile_mode, *, operator):
    """The residual loss with a batched exact `operator` (U -> op on the whole batch)."""
    op = operator(batch_network(problem.network))
    value = lambda params, X, source: jnp.mean((op(params, X) + source) ** 2)
    return _build(problem, dtype, device, compile_mode, value)


def _build_fd(problem, dtype, device, compile_mode):
    value = residual_loss(stencil_per_point(point_network(problem.network)), (None, None))
    return _build(problem, dtype, device, compile_mode, value, *problem.stencil(dtype))


def _build_fd_batched(problem, dtype, device, compile_mode):
    op = stencil(batch_network(problem.network))
    value = lambda params, X, source, *stencil: jnp.mean((op(params, X, *stencil) + source) ** 2)
    return _build(problem, dtype, device, compile_mode, value, *problem.stencil(dtype))


def _estimator_statistics(problem):
    """`extra_metrics` of a stochastic estimator: its statistics at the prepared parameters."""
    return lambda native: problem.estimator_statistics(params_to_numpy(native))


def _build_hutchinson(problem, dtype, device, compile_mode):
    value = residual_loss(hutchinson(point_network(problem.network), ORDER[problem.kind]), (0,))
    return _build(problem, dtype, device, compile_mode, value, problem.hutchinson_directions(),
                  extra_metrics=_estimator_statistics(problem))  # fmt: skip


def _build_hutchinson_batched(problem, dtype, device, compile_mode):
    op = hutchinson_batched(batch_network(problem.network), ORDER[problem.kind])
    value = lambda params, X, source, V: jnp.mean((op(params, X, V) + source) ** 2)
    return _build(problem, dtype, device, compile_mode, value, problem.hutchinson_directions(),
                  extra_metrics=_estimator_statistics(problem))  # fmt: skip


for _kind, _operators in OPERATORS.items():
    for _name, _operator in _operators.items():
        registry.register(_kind, _name, when=_CONDITIONS.get((_kind, _name)), operator=_operator)(
            _build_exact
        )
    for _name, _operator in BATCHED_OPERATORS[_kind].items():
        registry.register(_kind, _name, operator=_operator)(_build_batched)
    # every point × node in one batch: 0.76–0.86× the per-point spelling's time for the Laplacian
    # (d = 2, 8, 32) and 0.72× for the biharmonic (d = 2), float64, width 64, 128 points
    registry.register(_kind, "fd-stencil")(_build_fd_batched)
    registry.register(_kind, "fd-stencil:per-point")(_build_fd)
    registry.register(_kind, "hutchinson", when=jet_condition)(_build_hutchinson)
    registry.register(_kind, "hutchinson:batched")(_build_hutchinson_batched)
    registry.unsupported(
        _kind,
        "collapsed-taylor",
        "jax.experimental.jet has no collapsed mode and no JAX library offers collapsed Taylor mode "
        "for Δ/Δ²; folx's forward Laplacian is the collapsed second-order propagation and is measured "
        "as forward-laplacian",
    )
