"""Each built-in model kind's `apply(params, X)` in PyTorch, for a batch X of shape (N, d_in)
returning (N, d_out) (one point (d_in,) works too). The forward passes are `backends.models`'
(written once for both frameworks); this module gives them PyTorch's dense layer and Fourier
embedding for a batch and registers them by kind (`core.apply_fn`)."""

from __future__ import annotations

import torch

from backends.models import Primitives, register_kinds
from backends.torch_backend.core import ACTIVATIONS, APPLY


def _dense(params, name: str, h):
    return h @ params[f"W{name}"].T + params[f"b{name}"]


def _fourier_embedding(B, x):
    z = x @ B.T
    return torch.cat([torch.cos(z), torch.sin(z)], dim=-1)


PRIMITIVES = Primitives(_dense, _fourier_embedding, ACTIVATIONS)
register_kinds(APPLY, PRIMITIVES)
