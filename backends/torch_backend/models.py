"""Each built-in model kind's `apply(params, X)` in PyTorch, for a batch X of shape (N, d_in)
returning (N, d_out) (one point (d_in,) works too). One function per kind, registered by kind
(`core.apply_fn`); the formulas are `problems.architectures`' and the README's ("Your network")."""

from __future__ import annotations

import torch

from backends.torch_backend.core import ACTIVATIONS, register_apply


def _dense(params, name: str, h):
    return h @ params[f"W{name}"].T + params[f"b{name}"]


def _fourier_embedding(B, x):
    z = x @ B.T
    return torch.cat([torch.cos(z), torch.sin(z)], dim=-1)


def _gate(H, U, V):
    """H⊙U + (1 − H)⊙V, spelled V + H⊙(U − V): one product fewer."""
    return V + H * (U - V)


@register_apply("mlp")
def mlp(spec):
    act, n = ACTIVATIONS[spec.activation], spec.n_layers

    def apply(params, x):
        h = x
        for i in range(1, n + 1):
            h = _dense(params, str(i), h)
            if i < n:
                h = act(h)
        return h

    return apply


@register_apply("fourier")
def fourier(spec):
    body = mlp(spec)
    return lambda params, x: body(params, _fourier_embedding(params["B"], x))


@register_apply("modified-mlp")
def modified_mlp(spec):
    act, n = ACTIVATIONS[spec.activation], spec.n_layers

    def apply(params, x):
        U, V = act(_dense(params, "u", x)), act(_dense(params, "v", x))
        h = x
        for i in range(1, n):
            h = _gate(act(_dense(params, str(i), h)), U, V)
        return _dense(params, str(n), h)

    return apply


@register_apply("pirate")
def pirate(spec):
    act = ACTIVATIONS[spec.activation]

    def apply(params, x):
        if spec.features is not None:
            x = _fourier_embedding(params["B"], x)
        U, V = act(_dense(params, "u", x)), act(_dense(params, "v", x))
        for k in range(1, spec.n_blocks + 1):
            f = _gate(act(_dense(params, f"{k}a", x)), U, V)
            z = _gate(act(_dense(params, f"{k}b", f)), U, V)
            h = act(_dense(params, f"{k}c", z))
            x = x + params[f"alpha{k}"] * (h - x)  # αₖ h + (1 − αₖ) x
        return _dense(params, "out", x)

    return apply


@register_apply("resnet")
def resnet(spec):
    act = ACTIVATIONS[spec.activation]

    def apply(params, x):
        h = act(_dense(params, "in", x))
        for k in range(1, spec.n_blocks + 1):
            h = h + _dense(params, f"{k}b", act(_dense(params, f"{k}a", h)))
        return _dense(params, "out", h)

    return apply
