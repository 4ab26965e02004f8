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
    compile_evaluation,
    jet_condition,
    nested_folx_condition,
    registry,
    scalar_network,
    stencil,
)


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
    scale = 1.0 if order == 2 else 3.0
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
ORDER = {"laplacian": 2, "biharmonic": 4}


_CONDITIONS = {
    ("laplacian", "taylor"): jet_condition,
    ("biharmonic", "taylor"): jet_condition,
    ("biharmonic", "forward-laplacian"): nested_folx_condition,
}
"""Where a library cannot serve some networks (`core.JET_FAILS_ON`, `core.NESTED_FOLX_FAILS_ON`)."""


# -- the residual loss and its builders --------------------------------------------------------
def residual_loss(op, data_axes: tuple = ()):
    """mean_n (op(params, xₙ, *data) + sₙ)²; `data_axes` are op's extra arguments' vmap axes."""

    def value(params, X, source, *data):
        A = jax.vmap(op, in_axes=(None, 0) + data_axes)(params, X, *data)
        return jnp.mean((A + source) ** 2)

    return value


def _build(problem, dtype, device, variant, value, *data, extra_metrics=None):
    return compile_evaluation(problem, dtype, device, variant, jax.value_and_grad(value), problem.source(),
                              *data, loss=value, extra_metrics=extra_metrics)  # fmt: skip


for _kind, _operators in OPERATORS.items():
    for _name, _operator in _operators.items():

        def _build_exact(problem, dtype, device, variant, _operator=_operator):
            return _build(problem, dtype, device, variant, residual_loss(_operator(scalar_network(problem))))

        registry.register(_kind, _name, when=_CONDITIONS.get((_kind, _name)))(_build_exact)

    def _build_fd(problem, dtype, device, variant):
        value = residual_loss(stencil(scalar_network(problem)), (None, None))
        return _build(problem, dtype, device, variant, value, *problem.stencil(dtype))

    def _build_hutchinson(problem, dtype, device, variant, _kind=_kind):
        value = residual_loss(hutchinson(scalar_network(problem), ORDER[_kind]), (0,))

        def estimator_statistics(native):
            return problem.estimator_statistics(
                {k: np.asarray(v, dtype=np.float64) for k, v in native.items()}
            )

        return _build(problem, dtype, device, variant, value, problem.hutchinson_directions(),
                      extra_metrics=estimator_statistics)  # fmt: skip

    registry.register(_kind, "fd-stencil")(_build_fd)
    registry.register(_kind, "hutchinson", when=jet_condition)(_build_hutchinson)
    registry.unsupported(
        _kind,
        "collapsed-taylor",
        "jax.experimental.jet has no collapsed mode and no JAX library offers collapsed Taylor mode "
        "for Δ/Δ²; folx's forward Laplacian is the collapsed second-order propagation and is measured "
        "as forward-laplacian",
    )
