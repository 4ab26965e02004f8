"""JAX strategies for the seed penalty P(θ) = Σᵢ ‖∇ₓU₁(xᵢ; θ)‖².

Each strategy is a pure function `(params, X) -> (value, grads)` composed of JAX transforms,
vmapped over points and jit-compiled once by `build`; no Python loop runs per point or per call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental.jet import jet
from jax.flatten_util import ravel_pytree

from backends import floor
from backends.jax_backend.core import compile_evaluation, jet_condition, mlp, registry


# -- input derivatives ∇ₓU₁(x) for one point x ---------------------------------------------
def _u1(spec):
    return lambda params, x: mlp(params, x, spec)[0]


def input_grad_reverse(spec):
    return jax.grad(_u1(spec), argnums=1)


def input_grad_forward(spec):
    return jax.jacfwd(_u1(spec), argnums=1)


def input_grad_taylor(spec):
    """First-order jets along each basis direction (jet wants array primals, not pytrees)."""

    def grad(params, x):
        def along(e):
            _, series = jet(lambda y: mlp(params, y, spec), (x,), ((e,),))
            return series[0][0]

        return jax.vmap(along)(jnp.eye(x.shape[0], dtype=x.dtype))

    return grad


def input_grad_central_difference(spec):
    """(U₁(x + hⱼeⱼ) − U₁(x − hⱼeⱼ)) / 2hⱼ with h from `problems.penalty.fd_step`."""
    u1 = _u1(spec)

    def grad(params, x, h):
        steps = jnp.diag(h)
        plus = jax.vmap(lambda s: u1(params, x + s))(steps)
        minus = jax.vmap(lambda s: u1(params, x - s))(steps)
        return (plus - minus) / (2 * h)

    return grad


def penalty_value(input_grad):
    """P(θ) = Σᵢ ‖input_grad(θ, xᵢ, *extra_i)‖², vmapped over points."""

    def value(params, X, *extra):
        G = jax.vmap(input_grad, in_axes=(None, 0) + (0,) * len(extra))(params, X, *extra)
        return jnp.sum(G**2)

    return value


# -- outer weight gradients -----------------------------------------------------------------
def reverse_outer(input_grad):
    return jax.value_and_grad(penalty_value(input_grad))


def forward_over_reverse(spec):
    """The mixed-partial trick: with G = ∇ₓΣU₁ (one reverse pass, rows are per-point gradients
    because points are independent), ∇θP = 2·JVP of X ↦ ∇θΣᵢU₁(xᵢ) in direction G."""
    u1 = _u1(spec)

    def sum_u1(params, X):
        return jnp.sum(jax.vmap(u1, in_axes=(None, 0))(params, X))

    def value_and_grad(params, X):
        G = jax.lax.stop_gradient(jax.grad(sum_u1, argnums=1)(params, X))
        _, tangent = jax.jvp(lambda Y: jax.grad(sum_u1)(params, Y), (X,), (G,))
        return jnp.sum(G**2), jax.tree.map(lambda t: 2 * t, tangent)

    return value_and_grad


def forward_over_forward(spec):
    """One JVP of P per parameter direction (vmapped over the identity), P itself by jvp."""
    value = penalty_value(input_grad_forward(spec))

    def value_and_grad(params, X):
        theta, unravel = ravel_pytree(params)

        def directional(t):
            return jax.jvp(lambda th: value(unravel(th), X), (theta,), (t,))

        primal, tangents = jax.vmap(directional)(jnp.eye(theta.size, dtype=theta.dtype))
        return primal[0], unravel(tangents)

    return value_and_grad


# -- building --------------------------------------------------------------------------------
_REVERSE_OUTER = {
    "rev-over-rev": input_grad_reverse,
    "rev-over-fwd": input_grad_forward,
    "taylor": input_grad_taylor,
}

for _name, _input_grad in _REVERSE_OUTER.items():

    def _build(problem, dtype, device, variant, _input_grad=_input_grad):
        input_grad = _input_grad(problem.network)
        return compile_evaluation(
            problem, dtype, device, variant, reverse_outer(input_grad), loss=penalty_value(input_grad)
        )

    registry.register("penalty", _name, when=jet_condition if _name == "taylor" else None)(_build)


@registry.register("penalty", "fd-central")
def _build_fd(problem, dtype, device, variant):
    input_grad = input_grad_central_difference(problem.network)
    return compile_evaluation(
        problem,
        dtype,
        device,
        variant,
        reverse_outer(input_grad),
        problem.fd_steps(dtype),
        loss=penalty_value(input_grad),
    )


@registry.register("penalty", "fwd-over-rev")
def _build_fwd_over_rev(problem, dtype, device, variant):
    return compile_evaluation(
        problem,
        dtype,
        device,
        variant,
        forward_over_reverse(problem.network),
        loss=penalty_value(input_grad_reverse(problem.network)),
    )


@registry.register("penalty", "fwd-over-fwd")
def _build_fwd_over_fwd(problem, dtype, device, variant):
    return compile_evaluation(
        problem,
        dtype,
        device,
        variant,
        forward_over_forward(problem.network),
        loss=penalty_value(input_grad_forward(problem.network)),
    )


@registry.register("penalty", "hand-derived")
def _build_hand_derived(problem, dtype, device, variant):
    spec = problem.network
    return compile_evaluation(problem, dtype, device, variant,
                    lambda params, X: floor.penalty_value_and_grad(params, X, spec, jnp),
                    loss=lambda params, X: floor.penalty_value(params, X, spec, jnp))  # fmt: skip


registry.unsupported(
    "penalty",
    "rev-over-rev-func",
    "a torch.func variant; JAX's rev-over-rev is already functional (grad over grad)",
)
