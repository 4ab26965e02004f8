"""Factories of user models for tests/test_user_models.py: faulty ones (each must give one
`error:` line naming its problem) and models whose derivatives are deliberately wrong (the float64
consensus must refuse them)."""

from __future__ import annotations


def torch_three_inputs():
    """A torch model for d = 3 where the problem's is 2."""
    import torch

    return torch.nn.Linear(3, 1)


def not_a_module():
    return 42


def jax_not_a_pair():
    return lambda params, x: x


def jax_matrix_output():
    """apply returns (2, 2) for one point instead of (outputs,)."""
    import jax.numpy as jnp

    return (lambda params, x: jnp.outer(x, x) * params["w"]), {"w": jnp.ones(())}


def _tanh_net():
    import jax
    import jax.numpy as jnp

    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    params = {"W1": jax.random.normal(k1, (8, 2)) / 2, "b1": jnp.full((8,), 0.1), "W2": jax.random.normal(k2, (1, 8))}
    return params


def jax_wrong_weight_gradient():
    """Correct input derivatives, but a custom_vjp that doubles W2's cotangent: every strategy
    reverses through it, so only the central differences can see the gradient is wrong."""
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def same(w):
        return w

    same.defvjp(lambda w: (w, None), lambda _, g: (2.0 * g,))

    def apply(params, x):
        return same(params["W2"]) @ jnp.tanh(params["W1"] @ x + params["b1"])

    return apply, _tanh_net()


def jax_wrong_input_derivative():
    """tanh with a custom_jvp rule off by 10 %: nested reverse uses the rule, Taylor mode (jet)
    differentiates the primal, so the two exact strategies disagree."""
    import jax
    import jax.numpy as jnp

    @jax.custom_jvp
    def act(z):
        return jnp.tanh(z)

    act.defjvp(lambda primals, tangents: (jnp.tanh(primals[0]), 1.1 * (1 - jnp.tanh(primals[0]) ** 2) * tangents[0]))

    def apply(params, x):
        return params["W2"] @ act(params["W1"] @ x + params["b1"])

    return apply, _tanh_net()


def jax_two_outputs():
    import jax.numpy as jnp

    return (lambda params, x: params["W"] @ x), {"W": jnp.ones((2, 2))}
