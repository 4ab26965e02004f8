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
    params = {
        "W1": jax.random.normal(k1, (8, 2)) / 2,
        "b1": jnp.full((8,), 0.1),
        "W2": jax.random.normal(k2, (1, 8)),
    }
    return params


def jax_wrong_weight_gradient():
    """A custom_vjp that doubles W2's cotangent (an identity with a wrong reverse rule)."""
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def same(w):
        return w

    same.defvjp(lambda w: (w, None), lambda _, g: (2.0 * g,))

    def apply(params, x):
        return same(params["W2"]) @ jnp.tanh(params["W1"] @ x + params["b1"])

    return apply, _tanh_net()


def torch_inconsistent_function():
    """A tanh whose autograd.Function backward is off by 10 % while its forward-mode jvp is right
    (an inconsistent custom op): nested reverse and forward/Taylor mode disagree."""
    import torch

    class Tanh(torch.autograd.Function):
        @staticmethod
        def forward(z):
            return torch.tanh(z)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)
            ctx.save_for_forward(output)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return 1.1 * (1 - y**2) * g

        @staticmethod
        def jvp(ctx, t):
            (y,) = ctx.saved_tensors
            return (1 - y**2) * t

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.outer = torch.nn.Linear(2, 8), torch.nn.Linear(8, 1)

        def forward(self, x):
            return self.outer(Tanh.apply(self.inner(x)))

    return Net()


def jax_two_outputs():
    import jax.numpy as jnp

    return (lambda params, x: params["W"] @ x), {"W": jnp.ones((2, 2))}
