"""An equinox MLP as `(apply, params)`, for `make advise MODEL=jax:examples/equinox_mlp.py:make`.

`eqx.partition` splits the module into its arrays (the trainable parameters, a pytree) and the
rest; `apply(params, x)` recombines them and evaluates ONE point x of shape (d,), returning (1,),
as the suite requires of a JAX model (it vmaps over points itself).
"""

import equinox as eqx
import jax


def make():
    """The factory the suite calls: a tanh MLP 2 -> 32 -> 32 -> 1 and its parameters."""
    model = eqx.nn.MLP(in_size=2, out_size=1, width_size=32, depth=2, activation=jax.nn.tanh,
                       key=jax.random.PRNGKey(0))  # fmt: skip
    params, static = eqx.partition(model, eqx.is_array)

    def apply(params, x):
        return eqx.combine(params, static)(x)

    return apply, params
