"""The MLP of `problems.network` in PyTorch: batched (N, d) for autograd, per-point for torch.func."""

from __future__ import annotations

import torch

ACTIVATIONS = {
    "rbf": lambda z: torch.exp(-(z**2)),
    "tanh": torch.tanh,
}


def mlp(params: dict[str, torch.Tensor], x: torch.Tensor, spec) -> torch.Tensor:
    """U(x; params); x is (d_in,) or (N, d_in). Weights are (out, in): y = x Wᵀ + b."""
    act = ACTIVATIONS[spec.activation]
    h = x
    for i in range(1, spec.n_layers + 1):
        h = h @ params[f"W{i}"].T + params[f"b{i}"]
        if i < spec.n_layers:
            h = act(h)
    return h
