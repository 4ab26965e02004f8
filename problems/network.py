"""The `mlp` model kind and the `.npz` parameter exchange of every kind.

Framework-neutral (numpy only): the MLP (`MLPSpec`, weights stored (out, in), y = W x + b), its
seeded initialisation, and the exchange (save, read, validate against any spec, flatten) live
here once and are shared by every backend and by the reference. An MLP's parameter file says its
own architecture: `infer_layers` reads the widths off any consistent W1..Wn, b1..bn.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from problems.errors import BenchInputError
from problems.models import (  # noqa: F401  (ACTIVATIONS, parse_layers, layers_id: re-exported)
    ACTIVATIONS,
    OPS_PER_LAYER,
    LayeredSpec,
    ModelSpec,
    check_activation,
    glorot_uniform,
    layers_id,
    parse_layers,
    register_model,
    resolve_sizes,
    small_bias,
)


@dataclass(frozen=True)
class MLPSpec(LayeredSpec):
    """The `mlp` kind: layer widths (input, hidden..., output) and the hidden activation (none on
    the output); U(x) = W_n σ(… σ(W₁x + b₁) …) + b_n, parameters W1..Wn, b1..bn."""

    sizes: tuple[int, ...] = (2, 5, 5, 5, 2)
    activation: str = "rbf"
    floor_reason: ClassVar[str | None] = None

    def __post_init__(self):
        self._check_sizes()

    @property
    def param_names(self) -> tuple[str, ...]:
        """`W1..Wn, b1..bn`: the exchange format's keys, in a fixed order."""
        n = self.n_layers
        return tuple(f"W{i}" for i in range(1, n + 1)) + tuple(f"b{i}" for i in range(1, n + 1))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return dense_shapes(self.sizes, self.param_names)

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        return init_params(self, seed)

    def path_operations(self) -> int:
        return sum(fan_in + OPS_PER_LAYER for fan_in in self.sizes[:-1])


def dense_shapes(sizes, names, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Shapes of the dense stack `sizes` (W{prefix}i (out, in), b{prefix}i (out,)) in `names` order."""
    shapes = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        shapes[f"W{prefix}{i}"] = (fan_out, fan_in)
        shapes[f"b{prefix}{i}"] = (fan_out,)
    return {name: shapes[name] for name in names if name in shapes}


register_model("mlp", MLPSpec)

SEED_NETWORK = MLPSpec()
"""Dense(2,5,rbf) -> Dense(5,5,rbf) -> Dense(5,5,rbf) -> Dense(5,2): 87 parameters."""


def network_from_options(
    layers, activation: str, *, width=None, depth=None, shorthand: tuple[int, int, int, int],
    inputs: int | None = None, outputs: int | None = None,
) -> MLPSpec:  # fmt: skip
    """An MLP from a problem's `layers`/`activation` and width/depth shorthand (`resolve_sizes`)."""
    check_activation(activation)
    sizes = resolve_sizes(
        layers, width=width, depth=depth, shorthand=shorthand, inputs=inputs, outputs=outputs
    )
    return MLPSpec(sizes, activation)


def init_params(spec: ModelSpec = SEED_NETWORK, seed: int = 0) -> dict[str, np.ndarray]:
    """Glorot-uniform weights and small non-zero uniform biases, float64, from `seed` (an MLP; any
    other kind initialises itself: `spec.init_params(seed)`)."""
    if not isinstance(spec, MLPSpec):
        return spec.init_params(seed)
    rng = np.random.default_rng(seed)
    return {
        name: glorot_uniform(rng, shape) if name.startswith("W") else small_bias(rng, shape)
        for name, shape in spec.param_shapes().items()
    }


def infer_layers(params: Mapping) -> tuple[int, ...]:
    """The widths (input, hidden..., output) of a parameter dict W1..Wn, b1..bn (weights (out, in)).

    Raises one BenchInputError naming the first problem found: keys other than W<i>/b<i>, a gap in
    the numbering, a W without its b (or the reverse), a weight that is not 2-D or a bias that is
    not 1-D, a bias whose size is not its weight's row count, a layer whose input width is not the
    previous layer's output width, or NaN/Inf values.
    """
    keys = set(params)
    unexpected = sorted(k for k in keys if not re.fullmatch(r"[Wb][1-9]\d*", str(k)))
    if unexpected:
        raise BenchInputError(f"unexpected parameter key(s) {', '.join(map(str, unexpected))}; "
                              "expected W1..Wn and b1..bn")  # fmt: skip
    if not keys:
        raise BenchInputError("no parameters: expected arrays W1..Wn and b1..bn")
    n = max(int(k[1:]) for k in keys)
    for i in range(1, n + 1):
        w, b = f"W{i}" in keys, f"b{i}" in keys
        if not w and not b:
            raise BenchInputError(f"layer {i} is missing (no W{i}, b{i}) but layer {n} exists: "
                                  "layers must be numbered 1..n without gaps")  # fmt: skip
        if w != b:
            have, lack = (f"W{i}", f"b{i}") if w else (f"b{i}", f"W{i}")
            raise BenchInputError(f"{have} without {lack}: every layer needs a weight and a bias")
    sizes = []
    for i in range(1, n + 1):
        W, b = np.asarray(params[f"W{i}"]), np.asarray(params[f"b{i}"])
        if W.ndim != 2 or min(W.shape) < 1:
            raise BenchInputError(f"W{i} must be a 2-D (out, in) matrix, got shape {W.shape}")
        if b.ndim != 1:
            raise BenchInputError(f"b{i} must be a vector, got shape {b.shape}")
        if b.shape[0] != W.shape[0]:
            raise BenchInputError(f"b{i} has {b.shape[0]} entries but W{i} has {W.shape[0]} rows (outputs)")
        if i == 1:
            sizes.append(W.shape[1])
        elif W.shape[1] != sizes[-1]:
            raise BenchInputError(
                f"W{i} has {W.shape[1]} columns (inputs) but layer {i - 1} has {sizes[-1]} outputs "
                f"(W{i - 1} is {tuple(params[f'W{i - 1}'].shape)})"
            )
        sizes.append(W.shape[0])
        for name, arr in ((f"W{i}", W), (f"b{i}", b)):
            if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                raise BenchInputError(f"parameter {name} must hold real numbers, got dtype {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise BenchInputError(f"parameter {name} contains NaN or Inf")
    return tuple(sizes)


def validate_params(params: dict, spec: ModelSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Check keys, shapes and finiteness against `spec`; return float64 copies. Raises BenchInputError."""
    expected = spec.param_shapes()
    keys = set(params)
    if keys != set(expected):
        missing = sorted(set(expected) - keys)
        extra = sorted(keys - set(expected))
        raise BenchInputError(
            f"parameters must have exactly the keys {', '.join(expected)} (network {spec.label}); "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    out = {}
    for name, shape in expected.items():
        arr = np.asarray(params[name], dtype=np.float64)
        if arr.shape != shape:
            raise BenchInputError(
                f"parameter {name} has shape {arr.shape}, expected {shape} (network {spec.label})"
            )
        if not np.all(np.isfinite(arr)):
            raise BenchInputError(f"parameter {name} contains NaN or Inf")
        out[name] = arr.copy()
    return out


def save_params(path: str | os.PathLike, params: dict[str, np.ndarray]) -> None:
    """Write `params` as an `.npz` with arrays W1..Wn, b1..bn (weights (out, in))."""
    np.savez(path, **{k: np.asarray(v) for k, v in params.items()})


def read_params(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` parameter file, unvalidated (BenchInputError if unreadable)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise BenchInputError(f"cannot read parameter file {os.fspath(path)!r}: {exc}") from exc


def load_params(path: str | os.PathLike, spec: ModelSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Read and validate an `.npz` parameter file written by `save_params` or another tool."""
    return validate_params(read_params(path), spec)


def layers_of_file(path: str | os.PathLike) -> str:
    """The canonical `layers` of an `.npz` parameter file (`infer_layers`); errors name the file."""
    try:
        return layers_id(infer_layers(read_params(path)))
    except BenchInputError as exc:
        raise BenchInputError(f"parameter file {os.fspath(path)!r}: {exc}") from exc


def flatten(params: dict[str, np.ndarray], spec: ModelSpec = SEED_NETWORK) -> np.ndarray:
    """Concatenate parameters in `spec.param_names` order into one vector."""
    return np.concatenate([np.ravel(params[k]) for k in spec.param_names])


def unflatten(theta: np.ndarray, spec: ModelSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Inverse of `flatten`; works for a leading batch dimension too (theta[..., n_params])."""
    out, offset = {}, 0
    batch = theta.shape[:-1]
    for name, shape in spec.param_shapes().items():
        size = int(np.prod(shape))
        out[name] = theta[..., offset : offset + size].reshape(*batch, *shape)
        offset += size
    return out
