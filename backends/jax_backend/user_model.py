"""A user's JAX model `(apply, params pytree)` as the suite's `apply(params, x)` over the dict of
named leaves (`problems/user_models.py` names them by their tree paths)."""

from __future__ import annotations

import jax

from backends.jax_backend.core import register_apply


@register_apply("jax")
def user_apply(spec):
    """apply(params, x) for one point x (d,) -> (outputs,): the named leaves are put back into the
    user's pytree (its structure is fixed when the model is loaded) and the user's apply called."""
    loaded = spec.loaded()
    names, treedef, apply = loaded.names, loaded.treedef, loaded.apply

    def fn(params, x):
        return apply(jax.tree_util.tree_unflatten(treedef, [params[k] for k in names]), x)

    return fn
