"""Each built-in model kind's `apply(params, x)` in JAX, for one point x of shape (d_in,) returning
(d_out,); strategies vmap it. The forward passes are `backends.models`' (written once for both
frameworks); this module gives them JAX's dense layer and Fourier embedding for one point and
registers them by kind (`core.apply_fn`)."""

from __future__ import annotations

import jax.numpy as jnp

from backends.jax_backend.core import ACTIVATIONS, APPLY
from backends.models import Primitives, register_kinds


def _dense(params, name: str, h):
    return params[f"W{name}"] @ h + params[f"b{name}"]


def _fourier_embedding(B, x):
    z = B @ x
    return jnp.concatenate([jnp.cos(z), jnp.sin(z)])


PRIMITIVES = Primitives(_dense, _fourier_embedding, ACTIVATIONS)
register_kinds(APPLY, PRIMITIVES)
