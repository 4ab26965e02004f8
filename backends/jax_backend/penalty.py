"""JAX strategies for the seed penalty P(θ) = Σᵢ ‖∇ₓU₁(xᵢ; θ)‖².

Each strategy is a pure function `(params, X) -> (value, grads)` composed of JAX transforms and
jit-compiled once by `build`; no Python loop runs per point or per call. An input derivative is a
batched function `(params, X, *data) -> G` (G: (N, d), the per-point gradients as rows), written
either per point and vmapped over the points (`per_point`), or on the whole batch at once (the
network vmapped inside the derivative: points are independent, so the derivative of ΣᵢU₁(xᵢ) holds
each point's). Which of these spellings a strategy uses was measured (README, "Spellings"); the
others stay registered as named spellings (`rev-over-fwd:jacfwd`, ...).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental.jet import jet
from jax.flatten_util import ravel_pytree

from backends import floor
from backends.jax_backend.core import (
    apply_fn,
    batch_network,
    compile_evaluation,
    jet_condition,
    per_point,
    point_network,
    registry,
    reverse_outer,
)


def _basis(x):
    return jnp.eye(x.shape[-1], dtype=x.dtype)


# -- reverse mode --------------------------------------------------------------------------------
def input_grad_reverse(spec):
    """∇ₓU₁ by one reverse pass per point (`jax.grad`), vmapped over the points."""
    return per_point(jax.grad(point_network(spec), argnums=1))


def input_grad_reverse_batched(spec):
    """∇_X ΣᵢU₁(xᵢ) by one reverse pass over the whole batch."""
    u = batch_network(spec)
    return jax.grad(lambda params, X: jnp.sum(u(params, X)), argnums=1)


# -- forward mode --------------------------------------------------------------------------------
def input_grad_forward(spec):
    """∇ₓU₁ by `jax.jacfwd` per point (d JVPs vmapped over the basis), vmapped over the points."""
    return per_point(jax.jacfwd(point_network(spec), argnums=1))


def input_grad_forward_unrolled(spec):
    """∇ₓU₁ by one `jax.jvp` per basis direction, unrolled, per point, vmapped over the points."""
    u1 = point_network(spec)

    def grad(params, x):
        along = lambda e: jax.jvp(lambda y: u1(params, y), (x,), (e,))[1]
        return jnp.stack([along(e) for e in _basis(x)])

    return per_point(grad)


def input_grad_forward_batched(spec):
    """One `jax.jvp` of the batched network per basis direction (tangent eⱼ at every point), unrolled."""
    u = batch_network(spec)

    def grad(params, X):
        along = lambda e: jax.jvp(lambda Y: u(params, Y), (X,), (jnp.broadcast_to(e, X.shape),))[1]
        return jnp.stack([along(e) for e in _basis(X)], axis=1)

    return grad


# -- Taylor mode ---------------------------------------------------------------------------------
def input_grad_taylor(spec):
    """One first-order jet of the batched network per basis direction (eⱼ at every point), the d
    directions unrolled: each jet is a plain matrix product per layer over all N points."""
    u = batch_network(spec)

    def grad(params, X):
        along = lambda e: jet(lambda Y: u(params, Y), (X,), ((jnp.broadcast_to(e, X.shape),),))[1][0]
        return jnp.stack([along(e) for e in _basis(X)], axis=1)

    return grad


def input_grad_taylor_per_point(spec):
    """First-order jets of the whole network output along each basis direction, vmapped over the
    directions and the points (jet wants array primals, not pytrees)."""

    apply = apply_fn(spec)

    def grad(params, x):
        def along(e):
            _, series = jet(lambda y: apply(params, y), (x,), ((e,),))
            return series[0][0]

        return jax.vmap(along)(_basis(x))

    return per_point(grad)


def input_grad_taylor_per_point_scalar(spec):
    """First-order jets of the scalar U₁ (not the whole output) along each basis direction,
    vmapped over the directions and the points."""
    u1 = point_network(spec)

    def grad(params, x):
        along = lambda e: jet(lambda y: u1(params, y), (x,), ((e,),))[1][0]
        return jax.vmap(along)(_basis(x))

    return per_point(grad)


# -- central differences -------------------------------------------------------------------------
def input_grad_central_difference(spec):
    """(U₁(x + hⱼeⱼ) − U₁(x − hⱼeⱼ)) / 2hⱼ with h from `problems.penalty.fd_step`, per point,
    vmapped over the points: a point's 2d nodes in one batch, each ± pair adjacent, so the weight
    gradient adds each pair's nearly opposite terms before they join the sum over points (less
    rounding than summing all x + h terms, then all x − h ones)."""
    u1 = point_network(spec)

    def grad(params, x, h):
        steps = jnp.diag(h)
        nodes = jnp.stack([x + steps, x - steps], axis=1).reshape(-1, x.shape[0])  # (2d, d)
        U = jax.vmap(lambda y: u1(params, y))(nodes).reshape(-1, 2)
        return (U[:, 0] - U[:, 1]) / (2 * h)

    return per_point(grad)


def input_grad_central_halves(spec):
    """The same differences per point, vmapped over the points, with the x + hⱼeⱼ and the
    x − hⱼeⱼ nodes evaluated as two batches."""
    u1 = point_network(spec)

    def grad(params, x, h):
        steps = jnp.diag(h)
        plus = jax.vmap(lambda s: u1(params, x + s))(steps)
        minus = jax.vmap(lambda s: u1(params, x - s))(steps)
        return (plus - minus) / (2 * h)

    return per_point(grad)


def input_grad_central_point_major(spec):
    """The same differences with every node of every point in one batch of the network, point-major
    (a point's ± nodes adjacent)."""
    u = batch_network(spec)

    def grad(params, X, H):
        N, d = X.shape
        steps = H[:, :, None] * _basis(X)[None]  # (N, d, d): row j of point i is hᵢⱼ eⱼ
        nodes = jnp.stack([X[:, None, :] + steps, X[:, None, :] - steps], axis=2)  # (N, d, 2, d)
        U = u(params, nodes.reshape(-1, d)).reshape(N, d, 2)
        return (U[..., 0] - U[..., 1]) / (2 * H)

    return grad


def input_grad_central_node_major(spec):
    """The same differences with every node in one batch, node-major: all x + hⱼeⱼ, then all
    x − hⱼeⱼ (as `torch.cat([X + s, X - s])`)."""
    u = batch_network(spec)

    def grad(params, X, H):
        N, d = X.shape
        steps = (H.T[:, :, None] * _basis(X)[:, None, :]).reshape(-1, d)  # block j: hⱼeⱼ at all points
        Xd = jnp.tile(X, (d, 1))
        U = u(params, jnp.concatenate([Xd + steps, Xd - steps]))
        return ((U[: N * d] - U[N * d :]) / (2 * H.T.reshape(-1))).reshape(d, N).T

    return grad


def penalty_value(input_grad):
    """P(θ) = Σᵢ ‖G_i‖² for a batched input derivative G = input_grad(params, X, *data)."""

    def value(params, X, *data):
        return jnp.sum(input_grad(params, X, *data) ** 2)

    return value


# -- outer weight gradients -----------------------------------------------------------------
def forward_over_reverse(spec):
    """The mixed-partial trick: with G = ∇ₓΣU₁ (one reverse pass, rows are per-point gradients
    because points are independent), ∇θP = 2·JVP of X ↦ ∇θΣᵢU₁(xᵢ) in direction G."""
    u = batch_network(spec)

    def sum_u1(params, X):
        return jnp.sum(u(params, X))

    def value_and_grad(params, X):
        G = jax.lax.stop_gradient(jax.grad(sum_u1, argnums=1)(params, X))
        _, tangent = jax.jvp(lambda Y: jax.grad(sum_u1)(params, Y), (X,), (G,))
        return jnp.sum(G**2), jax.tree.map(lambda t: 2 * t, tangent)

    return value_and_grad


def forward_over_reverse_per_point(spec):
    """The same trick per point, vmapped over the points and summed: 2·JVP of x ↦ ∇θU₁(x) in
    direction gᵢ = ∇ₓU₁(xᵢ) (per-point weight gradients, then their sum)."""
    u1 = point_network(spec)

    def point(params, x):
        g = jax.lax.stop_gradient(jax.grad(u1, argnums=1)(params, x))
        _, tangent = jax.jvp(lambda y: jax.grad(u1)(params, y), (x,), (g,))
        return jnp.sum(g**2), tangent

    def value_and_grad(params, X):
        values, tangents = jax.vmap(point, in_axes=(None, 0))(params, X)
        return jnp.sum(values), jax.tree.map(lambda t: 2 * jnp.sum(t, axis=0), tangents)

    return value_and_grad


def forward_over_forward(input_grad):
    """One JVP of P per parameter direction (vmapped over the identity), P itself by jvp, with the
    input derivative `input_grad` (forward mode)."""

    def make(spec):
        value = penalty_value(input_grad(spec))

        def value_and_grad(params, X):
            theta, unravel = ravel_pytree(params)

            def directional(t):
                return jax.jvp(lambda th: value(unravel(th), X), (theta,), (t,))

            primal, tangents = jax.vmap(directional)(jnp.eye(theta.size, dtype=theta.dtype))
            return primal[0], unravel(tangents)

        return value_and_grad

    return make


# -- building --------------------------------------------------------------------------------
_REVERSE_OUTER = {
    "rev-over-rev": input_grad_reverse,
    "rev-over-rev:batched": input_grad_reverse_batched,
    "rev-over-fwd": input_grad_forward,
    "rev-over-fwd:unrolled": input_grad_forward_unrolled,
    "rev-over-fwd:batched": input_grad_forward_batched,
    "taylor": input_grad_taylor,
    "taylor:per-point": input_grad_taylor_per_point,
    "taylor:per-point-scalar": input_grad_taylor_per_point_scalar,
}
"""Strategies and spellings whose weight gradient is reverse mode over an input derivative."""

_CENTRAL_DIFFERENCES = {
    "fd-central": input_grad_central_difference,
    "fd-central:halves": input_grad_central_halves,
    "fd-central:point-major": input_grad_central_point_major,
    "fd-central:node-major": input_grad_central_node_major,
}
"""The same over central differences, whose steps h (`problem.fd_steps`) are data."""


def _build_reverse_outer(problem, dtype, device, compile_mode, *, operator, outer):
    """P and its weight gradient by `outer` (reverse mode) over the input derivative `operator`."""
    value = penalty_value(operator(problem.network))
    return compile_evaluation(problem, dtype, device, compile_mode, outer(value), loss=value)


def _build_central_differences(problem, dtype, device, compile_mode, *, operator, outer):
    """The same with the problem's steps h as the input derivative's data."""
    value = penalty_value(operator(problem.network))
    steps = problem.fd_steps(dtype)
    return compile_evaluation(problem, dtype, device, compile_mode, outer(value), steps, loss=value)


for _name, _input_grad in _REVERSE_OUTER.items():
    registry.register("penalty", _name, when=jet_condition if _name == "taylor" else None,
                      operator=_input_grad, outer=reverse_outer)(_build_reverse_outer)  # fmt: skip

for _name, _input_grad in _CENTRAL_DIFFERENCES.items():
    registry.register("penalty", _name, operator=_input_grad, outer=reverse_outer)(_build_central_differences)


def _build_forward_outer(problem, dtype, device, compile_mode, value_and_grad, loss_input_grad):
    """A forward-mode weight gradient; the loss alone is timed with the input derivative of the
    same inner mode."""
    return compile_evaluation(problem, dtype, device, compile_mode, value_and_grad(problem.network),
                              loss=penalty_value(loss_input_grad(problem.network)))  # fmt: skip


@registry.register("penalty", "fwd-over-rev")
def _build_fwd_over_rev(problem, dtype, device, compile_mode):
    return _build_forward_outer(
        problem, dtype, device, compile_mode, forward_over_reverse, input_grad_reverse
    )


@registry.register("penalty", "fwd-over-rev:per-point")
def _build_fwd_over_rev_per_point(problem, dtype, device, compile_mode):
    return _build_forward_outer(problem, dtype, device, compile_mode, forward_over_reverse_per_point,
                                input_grad_reverse)  # fmt: skip


@registry.register("penalty", "fwd-over-fwd")
def _build_fwd_over_fwd(problem, dtype, device, compile_mode):
    """Input derivatives by one jvp of the batched network per direction (measured faster than
    vmap(jacfwd) per point: 0.76× its time at 101 points, 0.92× at 10,000, float32)."""
    value_and_grad = forward_over_forward(input_grad_forward_batched)
    return _build_forward_outer(
        problem, dtype, device, compile_mode, value_and_grad, input_grad_forward_batched
    )


@registry.register("penalty", "fwd-over-fwd:per-point")
def _build_fwd_over_fwd_per_point(problem, dtype, device, compile_mode):
    value_and_grad = forward_over_forward(input_grad_forward)
    return _build_forward_outer(problem, dtype, device, compile_mode, value_and_grad, input_grad_forward)


@registry.register("penalty", "hand-derived", when=floor.condition)
def _build_hand_derived(problem, dtype, device, compile_mode):
    spec = problem.network
    return compile_evaluation(problem, dtype, device, compile_mode,
                    lambda params, X: floor.penalty_value_and_grad(params, X, spec, jnp),
                    loss=lambda params, X: floor.penalty_value(params, X, spec, jnp))  # fmt: skip


registry.unsupported(
    "penalty",
    "rev-over-rev-func",
    "a torch.func variant; JAX's rev-over-rev is already functional (grad over grad)",
)
