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
    apply_fn,
    batch_network,
    compile_evaluation,
    jet_condition,
    point_network,
    registry,
    reverse_outer,
    stencil,
    stencil_per_point,
)

KIND = "derivative-order"


def along_x1(spec):
    """g(params, x, t) = U₁(x + t e₁): the scalar function every strategy differentiates in t."""

    apply = apply_fn(spec)

    def g(params, x, t):
        return apply(params, x + t * first_unit_vector(x))[0]

    return g


def first_unit_vector(x):
    """e₁, sized as x's last axis. x + t e₁ is written as this product, not `x.at[0].add(t)`, because
    jax.experimental.jet of jax 0.12.1 fails on that scatter-add (its rule does not take the
    primitive's new `out_sharding` parameter: TypeError); the values are the same."""
    return jax.nn.one_hot(0, x.shape[-1], dtype=x.dtype)


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
    """Σᵢ Dᵢ² for a per-point `derivative(params, x, *data)`, vmapped over the points."""

    def value(params, X, *extra):
        D = jax.vmap(derivative, in_axes=(None, 0) + (None,) * len(extra))(params, X, *extra)
        return jnp.sum(D**2)

    return value


# -- batched spellings: every point in one batch inside the derivative ---------------------------
def along_x1_batched(spec):
    """g(params, X, t) = [U₁(xᵢ + tᵢ e₁)]ᵢ with one shift per point, t of shape (N,). Its Jacobian
    in t is diagonal (the points are independent), so a JVP with tangent 1 at every point, or the
    gradient of the sum, gives every point's derivative at once."""

    apply = apply_fn(spec)

    def g(params, X, t):
        return jax.vmap(lambda x: apply(params, x)[0])(X + t[:, None] * first_unit_vector(X))

    return g


def _batched_jvp(f):
    return lambda params, X, t: jax.jvp(lambda s: f(params, X, s), (t,), (jnp.ones_like(t),))[1]


def _batched_grad(f):
    return jax.grad(lambda params, X, t: jnp.sum(f(params, X, t)), argnums=2)


def nested_reverse_batched(g, order: int):
    """k-fold `jax.grad` of the summed derivatives in the shifts t."""
    for _ in range(order):
        g = _batched_grad(g)
    return g


def nested_forward_batched(g, order: int):
    """k-fold `jax.jvp` in t with tangent 1 at every point."""
    for _ in range(order):
        g = _batched_jvp(g)
    return g


def forward_over_reverse_batched(g, order: int):
    """Order 2: one `jax.jvp` over one `jax.grad` of the sum, on the batch."""
    assert order == 2, "fwd-over-rev is built at order 2 only"
    return _batched_jvp(_batched_grad(g))


def taylor_batched(g, order: int):
    """One k-th order jet of t ↦ g(t) on the whole batch, input series (1, 0, …, 0) per point."""

    def derivative(params, X, t):
        series = [jnp.ones_like(t)] + [jnp.zeros_like(t)] * (order - 1)
        _, out = jet(lambda s: g(params, X, s), (t,), (series,))
        return out[order - 1]

    return derivative


def batched_loss(derivatives):
    """Σᵢ Dᵢ² for `derivatives(params, X, t) -> (N,)` at t = 0."""
    return lambda params, X: jnp.sum(derivatives(params, X, jnp.zeros(X.shape[0], X.dtype)) ** 2)


_ANALYTIC = {
    "nested-rev": nested_reverse,
    "nested-fwd": nested_forward,
    "fwd-over-rev": forward_over_reverse,
    "taylor": taylor,
}

_BATCHED = {
    "nested-rev:batched": nested_reverse_batched,
    "nested-fwd:batched": nested_forward_batched,
    "fwd-over-rev:batched": forward_over_reverse_batched,
    "taylor:batched": taylor_batched,
}


def _build(problem, dtype, device, compile_mode, *, operator):
    """Σᵢ Dᵢ² with the per-point derivative `operator(g, order)` of g(t) = U₁(x + t e₁)."""
    value = loss(at_zero(operator(along_x1(problem.network), problem.order)))
    return compile_evaluation(problem, dtype, device, compile_mode, reverse_outer(value), loss=value)


def _build_batched(problem, dtype, device, compile_mode, *, operator):
    """The same with the batched derivative `operator(g, order)` of g(t) = [U₁(xᵢ + tᵢ e₁)]ᵢ."""
    value = batched_loss(operator(along_x1_batched(problem.network), problem.order))
    return compile_evaluation(problem, dtype, device, compile_mode, reverse_outer(value), loss=value)


for _name, _transform in _ANALYTIC.items():
    registry.register(KIND, _name, when=jet_condition if _name == "taylor" else None, operator=_transform)(
        _build
    )

for _name, _transform in _BATCHED.items():
    registry.register(KIND, _name, operator=_transform)(_build_batched)


@registry.register(KIND, "fd-stencil")
def _build_fd_stencil(problem, dtype, device, compile_mode):
    value = loss(stencil_per_point(point_network(problem.network)))
    return compile_evaluation(
        problem, dtype, device, compile_mode, reverse_outer(value), *problem.stencil(dtype), loss=value
    )


@registry.register(KIND, "fd-stencil:batched")
def _build_fd_stencil_batched(problem, dtype, device, compile_mode):
    derivatives = stencil(batch_network(problem.network))
    value = lambda params, X, *stencil_data: jnp.sum(derivatives(params, X, *stencil_data) ** 2)
    return compile_evaluation(
        problem, dtype, device, compile_mode, reverse_outer(value), *problem.stencil(dtype), loss=value
    )
