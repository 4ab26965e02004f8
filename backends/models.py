"""Each built-in model kind's forward pass, written once over a framework's primitives.

The formulas are `problems.architectures`' and the README's ("Your network"); each framework's
`models` module supplies its `Primitives` (a dense layer and the Fourier embedding in its own
layout, its activation functions) and registers every kind here (`register_kinds`), so JAX (one
point x of shape (d_in,)) and PyTorch (a batch X of shape (N, d_in)) run the same maths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial


@dataclass(frozen=True)
class Primitives:
    """What a forward pass needs from a framework."""

    dense: Callable
    """(params, name, h) -> h W_nameᵀ + b_name, in the framework's layout (a point or a batch)."""
    fourier_embedding: Callable
    """(B, x) -> [cos(x Bᵀ), sin(x Bᵀ)] along the feature axis."""
    activations: Mapping[str, Callable]
    """`problems.network.ACTIVATIONS` as the framework's functions."""


def gate(H, U, V):
    """H⊙U + (1 − H)⊙V, spelled V + H⊙(U − V): one product fewer."""
    return V + H * (U - V)


def mlp(ops: Primitives, spec):
    act, n, dense = ops.activations[spec.activation], spec.n_layers, ops.dense

    def apply(params, x):
        h = x
        for i in range(1, n + 1):
            h = dense(params, str(i), h)
            if i < n:
                h = act(h)
        return h

    return apply


def fourier(ops: Primitives, spec):
    body = mlp(ops, spec)
    return lambda params, x: body(params, ops.fourier_embedding(params["B"], x))


def modified_mlp(ops: Primitives, spec):
    act, n, dense = ops.activations[spec.activation], spec.n_layers, ops.dense

    def apply(params, x):
        U, V = act(dense(params, "u", x)), act(dense(params, "v", x))
        h = x
        for i in range(1, n):
            h = gate(act(dense(params, str(i), h)), U, V)
        return dense(params, str(n), h)

    return apply


def pirate(ops: Primitives, spec):
    act, dense = ops.activations[spec.activation], ops.dense

    def apply(params, x):
        if spec.features is not None:
            x = ops.fourier_embedding(params["B"], x)
        U, V = act(dense(params, "u", x)), act(dense(params, "v", x))
        for k in range(1, spec.n_blocks + 1):
            f = gate(act(dense(params, f"{k}a", x)), U, V)
            z = gate(act(dense(params, f"{k}b", f)), U, V)
            h = act(dense(params, f"{k}c", z))
            x = x + params[f"alpha{k}"] * (h - x)  # αₖ h + (1 − αₖ) x
        return dense(params, "out", x)

    return apply


def resnet(ops: Primitives, spec):
    act, dense = ops.activations[spec.activation], ops.dense

    def apply(params, x):
        h = act(dense(params, "in", x))
        for k in range(1, spec.n_blocks + 1):
            h = h + dense(params, f"{k}b", act(dense(params, f"{k}a", h)))
        return dense(params, "out", h)

    return apply


BUILT_IN = {"mlp": mlp, "fourier": fourier, "modified-mlp": modified_mlp, "pirate": pirate, "resnet": resnet}
"""kind -> (primitives, spec) -> apply(params, x)."""


def register_kinds(registry, ops: Primitives) -> None:
    """Register every built-in kind's `apply` builder with a framework's `ApplyRegistry`."""
    for kind, forward in BUILT_IN.items():
        registry.register(kind)(partial(forward, ops))
