"""JAX strategies for the k-th input derivative loss L(θ) = Σᵢ (∂ᵏU₁/∂x₁ᵏ(xᵢ; θ))².

Each strategy is a function `derivative(params, x) -> ∂ᵏU₁(x)` for one point x ∈ ℝ², the
derivative of t ↦ U₁(x + t e₁) at t = 0; the loss vmaps it over the grid and the weight gradient
is always reverse mode (`jax.value_and_grad`), jit-compiled once by the core's `compile_evaluation`,
which also times the loss alone and records the compiled program's size and XLA's memory plan.
`fwd-over-rev` exists at order 2 only (the catalogue says so; other orders are never built).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental.jet import jet

from backends.jax_backend.core import (
    compile_evaluation,
    jet_condition,
    mlp,
    registry,
    scalar_network,
    stencil,
)

KIND = "derivative-order"


def along_x1(spec):
    """g(params, x, t) = U₁(x + t e₁): the scalar function every strategy differentiates in t."""

    def g(params, x, t):
        return mlp(params, x.at[0].add(t), spec)[0]

    return g


def nested_reverse(g, order: int):
    """k-fold `jax.grad` in t."""
    for _ in range(order):
        g = jax.grad(g, argnums=2)
    return g


def _jvp_in_t(f):
    """t ↦ ∂f/∂t by one forward pass with unit tangent."""
    return lambda params, x, t: jax.jvp(lambda s: f(params, x, s), (t,), (jnp.ones_like(t),))[1]


def nested_forward(g, order: int):
    """k-fold `jax.jvp` in t with unit tangent."""
    for _ in range(order):
        g = _jvp_in_t(g)
    return g


def forward_over_reverse(g, order: int):
    """Second order only (the catalogue's `applies`): one `jax.jvp` over one `jax.grad`."""
    assert order == 2, "fwd-over-rev is built at order 2 only"
    return nested_forward(nested_reverse(g, 1), 1)


def taylor(g, order: int):
    """One k-th order jet of t ↦ g(t) with input series (1, 0, …, 0); `jet` returns derivatives."""

    def derivative(params, x, t):
        series = [jnp.ones_like(t)] + [jnp.zeros_like(t)] * (order - 1)
        _, out = jet(lambda s: g(params, x, s), (t,), (series,))
        return out[order - 1]

    return derivative


def at_zero(derivative):
    return lambda params, x: derivative(params, x, jnp.zeros((), x.dtype))


def loss(derivative):
    def value(params, X, *extra):
        D = jax.vmap(derivative, in_axes=(None, 0) + (None,) * len(extra))(params, X, *extra)
        return jnp.sum(D**2)

    return value


_ANALYTIC = {
    "nested-rev": nested_reverse,
    "nested-fwd": nested_forward,
    "fwd-over-rev": forward_over_reverse,
    "taylor": taylor,
}

for _name, _transform in _ANALYTIC.items():

    def _build(problem, dtype, device, variant, _transform=_transform):
        value = loss(at_zero(_transform(along_x1(problem.network), problem.order)))
        return compile_evaluation(problem, dtype, device, variant, jax.value_and_grad(value), loss=value)

    registry.register(KIND, _name, when=jet_condition if _name == "taylor" else None)(_build)


@registry.register(KIND, "fd-stencil")
def _build_fd_stencil(problem, dtype, device, variant):
    value = loss(stencil(scalar_network(problem)))
    return compile_evaluation(
        problem, dtype, device, variant, jax.value_and_grad(value), *problem.stencil(dtype), loss=value
    )
