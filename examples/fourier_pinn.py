"""A Fourier-feature PINN as a plain `torch.nn.Module`:
`make advise MODEL=torch:examples/fourier_pinn.py:make`.

γ(x) = [cos(x Bᵀ), sin(x Bᵀ)] with a trainable B of shape (features, d) drawn N(0, scale²)
(Tancik et al. 2020; Wang, Wang & Perdikaris 2021), then a tanh MLP to one output u(x). The
forward takes a batch (N, d) and returns (N, 1), as the suite requires of a torch model.
"""

import torch
from torch import nn


class FourierPINN(nn.Module):
    def __init__(self, d: int = 2, features: int = 16, scale: float = 2.0, hidden: int = 32, depth: int = 2):
        super().__init__()
        self.B = nn.Parameter(scale * torch.randn(features, d))
        layers, width = [], 2 * features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.Tanh()]
            width = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.B.T
        return self.mlp(torch.cat([torch.cos(z), torch.sin(z)], dim=-1))


def make() -> nn.Module:
    """The factory the suite calls (under torch.manual_seed, so its initialisation is seeded)."""
    return FourierPINN()
