"""The MLP of `problems.network` as a pure JAX function of (params, x) for one input point."""

from __future__ import annotations

import jax.numpy as jnp

ACTIVATIONS = {
    "rbf": lambda z: jnp.exp(-(z**2)),
    "tanh": jnp.tanh,
}


def mlp(params: dict, x: jnp.ndarray, spec) -> jnp.ndarray:
    """U(x; params) for one point x of shape (d_in,); weights (out, in), y = W x + b."""
    act = ACTIVATIONS[spec.activation]
    h = x
    for i in range(1, spec.n_layers + 1):
        h = params[f"W{i}"] @ h + params[f"b{i}"]
        if i < spec.n_layers:
            h = act(h)
    return h
