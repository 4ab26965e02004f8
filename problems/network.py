"""The seed network U: an MLP with weights stored (out, in) and y = W x + b.

Framework-neutral (numpy only): the architecture, the seeded initialisation and the `.npz`
parameter exchange live here once and are shared by every backend and by the reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from problems.errors import BenchInputError

ACTIVATIONS = ("rbf", "tanh")
"""Activation names every backend must implement; rbf(z) = exp(-z**2)."""


@dataclass(frozen=True)
class MLPSpec:
    """Layer widths (input, hidden..., output) and the hidden activation (none on the output)."""

    sizes: tuple[int, ...] = (2, 5, 5, 5, 2)
    activation: str = "rbf"

    def __post_init__(self):
        if len(self.sizes) < 2 or any(int(s) != s or s < 1 for s in self.sizes):
            raise BenchInputError(f"layer sizes must be positive integers, got {self.sizes}")
        if self.activation not in ACTIVATIONS:
            raise BenchInputError(f"unknown activation {self.activation!r}; valid: {', '.join(ACTIVATIONS)}")

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def param_names(self) -> tuple[str, ...]:
        """`W1..Wn, b1..bn`: the exchange format's keys, in a fixed order."""
        n = self.n_layers
        return tuple(f"W{i}" for i in range(1, n + 1)) + tuple(f"b{i}" for i in range(1, n + 1))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {}
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            shapes[f"W{i}"] = (fan_out, fan_in)
            shapes[f"b{i}"] = (fan_out,)
        return {name: shapes[name] for name in self.param_names}

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        return init_params(self, seed)


SEED_NETWORK = MLPSpec()
"""Dense(2,5,rbf) -> Dense(5,5,rbf) -> Dense(5,5,rbf) -> Dense(5,2): 87 parameters."""


def init_params(spec: MLPSpec = SEED_NETWORK, seed: int = 0) -> dict[str, np.ndarray]:
    """Glorot-uniform weights and small non-zero uniform biases, float64, from `seed`."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in spec.param_shapes().items():
        if name.startswith("W"):
            fan_out, fan_in = shape
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            params[name] = rng.uniform(-limit, limit, size=shape)
        else:
            params[name] = rng.uniform(-0.1, 0.1, size=shape)
    return params


def validate_params(params: dict, spec: MLPSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Check keys, shapes and finiteness; return float64 copies. Raises BenchInputError."""
    expected = spec.param_shapes()
    keys = set(params)
    if keys != set(expected):
        missing = sorted(set(expected) - keys)
        extra = sorted(keys - set(expected))
        raise BenchInputError(
            f"parameters must have exactly the keys {', '.join(expected)}; "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    out = {}
    for name, shape in expected.items():
        arr = np.asarray(params[name], dtype=np.float64)
        if arr.shape != shape:
            raise BenchInputError(f"parameter {name} has shape {arr.shape}, expected {shape}")
        if not np.all(np.isfinite(arr)):
            raise BenchInputError(f"parameter {name} contains NaN or Inf")
        out[name] = arr.copy()
    return out


def save_params(path: str | os.PathLike, params: dict[str, np.ndarray]) -> None:
    """Write `params` as an `.npz` with arrays W1..Wn, b1..bn (weights (out, in))."""
    np.savez(path, **{k: np.asarray(v) for k, v in params.items()})


def load_params(path: str | os.PathLike, spec: MLPSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Read and validate an `.npz` parameter file written by `save_params` or another tool."""
    try:
        with np.load(path, allow_pickle=False) as data:
            params = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise BenchInputError(f"cannot read parameter file {os.fspath(path)!r}: {exc}") from exc
    return validate_params(params, spec)


def flatten(params: dict[str, np.ndarray], spec: MLPSpec = SEED_NETWORK) -> np.ndarray:
    """Concatenate parameters in `spec.param_names` order into one vector."""
    return np.concatenate([np.ravel(params[k]) for k in spec.param_names])


def unflatten(theta: np.ndarray, spec: MLPSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Inverse of `flatten`; works for a leading batch dimension too (theta[..., n_params])."""
    out, offset = {}, 0
    batch = theta.shape[:-1]
    for name, shape in spec.param_shapes().items():
        size = int(np.prod(shape))
        out[name] = theta[..., offset : offset + size].reshape(*batch, *shape)
        offset += size
    return out
