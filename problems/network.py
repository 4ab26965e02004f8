"""The network U: an MLP with weights stored (out, in) and y = W x + b, for any layer widths and
activation.

Framework-neutral (numpy only): the architecture (`MLPSpec`), the problems' `layers` /
`activation` options, the seeded initialisation and the `.npz` parameter exchange live here once
and are shared by every backend and by the reference. A parameter file says its own architecture:
`infer_layers` reads the widths off any consistent W1..Wn, b1..bn.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from problems.errors import BenchInputError

ACTIVATIONS = {
    "rbf": "exp(−z²), the seed network's",
    "tanh": "tanh z",
    "sin": "sin z (SIREN-style PINNs)",
    "softplus": "log(1 + eᶻ)",
    "silu": "z·sigmoid(z) (SiLU, swish)",
    "gelu": "z·Φ(z) = z·(1 + erf(z/√2))/2: the exact (erf) GELU, not its tanh approximation",
}
"""Hidden-layer activations every backend, the floor and the reference implement (the output
layer is linear). GELU is the exact form everywhere (torch's default; JAX's `jax.nn.gelu` is
called with approximate=False), so every framework and the reference compute the same function."""


def check_activation(name) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise BenchInputError(f"unknown activation {name!r}; valid activations: {', '.join(ACTIVATIONS)}")
    return name


def parse_layers(value) -> tuple[int, ...]:
    """The `layers` option as a tuple of widths, input first: "2-64-64-2", [2, 64, 64, 2] or
    (2, 64, 64, 2); at least one hidden layer, every width a positive integer."""
    if isinstance(value, str):
        parts = value.strip().split("-")
        sizes = tuple(int(p) for p in parts) if all(re.fullmatch(r"\d+", p.strip()) for p in parts) else None
    elif isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        sizes = tuple(int(v) for v in value)
    else:
        sizes = None
    if sizes is None or len(sizes) < 3 or min(sizes) < 1:
        raise BenchInputError(
            f"layers must be the widths from input to output with at least one hidden layer, "
            f'e.g. "2-64-64-2" or [2, 64, 64, 2] (positive integers); got {value!r}'
        )
    return sizes


def layers_id(sizes) -> str:
    """The canonical `layers` string of a width tuple: (2, 64, 64, 2) -> "2-64-64-2"."""
    return "-".join(str(int(s)) for s in sizes)


@dataclass(frozen=True)
class MLPSpec:
    """Layer widths (input, hidden..., output) and the hidden activation (none on the output)."""

    sizes: tuple[int, ...] = (2, 5, 5, 5, 2)
    activation: str = "rbf"

    def __post_init__(self):
        if len(self.sizes) < 2 or any(int(s) != s or s < 1 for s in self.sizes):
            raise BenchInputError(f"layer sizes must be positive integers, got {self.sizes}")
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        check_activation(self.activation)

    @property
    def layers(self) -> str:
        """The canonical `layers` option: "2-5-5-5-2"."""
        return layers_id(self.sizes)

    @property
    def hidden_width(self) -> int | None:
        """The hidden layers' width if they all have the same one, else None."""
        hidden = set(self.sizes[1:-1])
        return hidden.pop() if len(hidden) == 1 else None

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


def network_from_options(
    layers, activation: str, *, width=None, depth=None, shorthand: tuple[int, int, int, int],
    inputs: int | None = None, outputs: int | None = None,
) -> MLPSpec:  # fmt: skip
    """A problem's network from its options.

    `layers` gives every width ("2-64-32-1"); `width` (hidden width) and `depth` (Dense layers) are
    the shorthand for a uniform net `inputs → width × (depth − 1) → outputs`, each defaulting to
    `shorthand` = (inputs, width, depth, outputs). Given together, `layers` decides and the
    shorthand must describe the same network (otherwise a BenchInputError names the mismatch), so
    an instance's normalised options build it again. `inputs`/`outputs`, where given (a PINN's
    `dim`, its scalar u), must match the first and last width.
    """
    check_activation(activation)
    if layers is None:
        d_in, w, k, d_out = shorthand
        d_in = d_in if inputs is None else inputs
        d_out = d_out if outputs is None else outputs
        w = w if width is None else width
        k = k if depth is None else depth
        return MLPSpec((d_in,) + (w,) * (k - 1) + (d_out,), activation)
    spec = MLPSpec(parse_layers(layers), activation)
    conflicts = []
    if width is not None and width != spec.hidden_width:
        conflicts.append(f"width={width}")
    if depth is not None and depth != spec.n_layers:
        conflicts.append(f"depth={depth}")
    if inputs is not None and inputs != spec.sizes[0]:
        conflicts.append(f"{inputs} inputs")
    if outputs is not None and outputs != spec.sizes[-1]:
        conflicts.append(f"{outputs} output{'s' if outputs != 1 else ''}")
    if conflicts:
        raise BenchInputError(
            f"layers={spec.layers} contradicts {', '.join(conflicts)}: give layers alone (it sets every "
            f"width), or only options that agree with it"
        )
    return spec


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


def validate_params(params: dict, spec: MLPSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Check keys, shapes and finiteness against `spec`; return float64 copies. Raises BenchInputError."""
    expected = spec.param_shapes()
    keys = set(params)
    if keys != set(expected):
        missing = sorted(set(expected) - keys)
        extra = sorted(keys - set(expected))
        raise BenchInputError(
            f"parameters must have exactly the keys {', '.join(expected)} (network {spec.layers}); "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    out = {}
    for name, shape in expected.items():
        arr = np.asarray(params[name], dtype=np.float64)
        if arr.shape != shape:
            raise BenchInputError(
                f"parameter {name} has shape {arr.shape}, expected {shape} (network {spec.layers})"
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


def load_params(path: str | os.PathLike, spec: MLPSpec = SEED_NETWORK) -> dict[str, np.ndarray]:
    """Read and validate an `.npz` parameter file written by `save_params` or another tool."""
    return validate_params(read_params(path), spec)


def layers_of_file(path: str | os.PathLike) -> str:
    """The canonical `layers` of an `.npz` parameter file (`infer_layers`); errors name the file."""
    try:
        return layers_id(infer_layers(read_params(path)))
    except BenchInputError as exc:
        raise BenchInputError(f"parameter file {os.fspath(path)!r}: {exc}") from exc


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
