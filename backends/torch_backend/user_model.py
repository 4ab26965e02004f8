"""A user's `torch.nn.Module` as the suite's `apply(params, X)`: `torch.func.functional_call`
with the parameters named by `named_parameters()` (`problems/user_models.py`)."""

from __future__ import annotations

import torch

from backends.torch_backend.core import register_apply


@register_apply("torch")
def user_apply(spec):
    """apply(params, X) for a batch X (N, d) -> (N, outputs); the module's buffers are constants,
    cast to X's floating dtype and device (a float32 buffer would otherwise break float64 cases)."""
    module = spec.loaded().module
    buffers = dict(module.named_buffers())

    def apply(params, X):
        constants = {k: b.to(device=X.device, dtype=X.dtype if b.is_floating_point() else b.dtype)
                     for k, b in buffers.items()}  # fmt: skip
        return torch.func.functional_call(module, {**params, **constants}, (X,))

    return apply
