"""The built-in model kinds besides the MLP: `fourier`, `modified-mlp`, `pirate`, `resnet`.

Rows x of width d, activation σ on hidden layers, dense layers h ↦ h Wᵀ + b with W of shape
(out, in), a linear output layer. Each kind here is its spec (parameter names, shapes, seeded
initialisation, options); its `apply` is written once for both backends (`backends.models`)
and its Taylor rule in the reference (`problems.reference`). The formulas are in the README
("Your network").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from problems.errors import BenchInputError
from problems.models import (
    OPS_PER_LAYER,
    LayeredSpec,
    check_count_option,
    check_float_option,
    glorot_uniform,
    register_model,
    small_bias,
)

GATE_OPS = 3
"""Rounded operations of a gate H⊙U + (1 − H)⊙V per element besides its layer's: two products and
an add (one subtraction is shared)."""


def _init(shapes: dict[str, tuple[int, ...]], seed: int, scale: float | None = None, alpha: float = 0.0):
    """Seeded float64 parameters in `shapes` order: Fourier matrix B ~ N(0, scale²), dense
    weights Glorot-uniform, biases small uniform, residual weights α constant."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in shapes.items():
        if name == "B":
            params[name] = rng.normal(0.0, scale, size=shape)
        elif name.startswith("alpha"):
            params[name] = np.full(shape, float(alpha))
        elif name.startswith("W"):
            params[name] = glorot_uniform(rng, shape)
        else:
            params[name] = small_bias(rng, shape)
    return params


def _dense(shapes: dict, weight: str, bias: str, fan_in: int, fan_out: int) -> None:
    shapes[weight] = (fan_out, fan_in)
    shapes[bias] = (fan_out,)


def _embedding_options(features, scale, kind: str, required: bool) -> tuple[int | None, float | None]:
    if features is None:
        if required:
            raise BenchInputError(f"model {kind} needs the option features (m, the Fourier features)")
        if scale is not None:
            raise BenchInputError(f"model {kind}: scale applies to a Fourier embedding; give features too")
        return None, None
    features = check_count_option("features", features, "an integer ≥ 1 (the Fourier features m)")
    if scale is None:
        raise BenchInputError(f"model {kind} with features needs the option scale (s: B ~ N(0, s²))")
    return features, check_float_option("scale", scale, "a positive number (B ~ N(0, scale²))", positive=True)


@dataclass(frozen=True)
class FourierSpec(LayeredSpec):
    """γ(x) = [cos(x Bᵀ), sin(x Bᵀ)] (B: (m, d), trainable, N(0, s²)), then the MLP W1..Wn, b1..bn
    on the 2m channels; `layers` lists the widths from d to the output (W1 is (h₁, 2m))."""

    sizes: tuple[int, ...]
    activation: str
    features: int | None = None
    scale: float | None = None
    KIND_OPTIONS: ClassVar[dict[str, str]] = {"features": "m, the Fourier features (B is m × d)",
                                               "scale": "s, B's initial standard deviation"}  # fmt: skip

    def __post_init__(self):
        self._check_sizes()
        features, scale = _embedding_options(self.features, self.scale, "fourier", required=True)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "scale", scale)

    def dense_sizes(self) -> tuple[int, ...]:
        return (2 * self.features,) + self.sizes[1:]

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {"B": (self.features, self.d_in)}
        n = self.n_layers
        sizes = self.dense_sizes()
        for i in range(1, n + 1):
            shapes[f"W{i}"] = (sizes[i], sizes[i - 1])
        for i in range(1, n + 1):
            shapes[f"b{i}"] = (sizes[i],)
        return shapes

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        return _init(self.param_shapes(), seed, self.scale)

    def options(self) -> dict:
        return {**super().options(), "features": self.features, "scale": self.scale}

    def path_operations(self) -> int:
        return self.d_in + OPS_PER_LAYER + sum(f + OPS_PER_LAYER for f in self.dense_sizes()[:-1])


@dataclass(frozen=True)
class ModifiedMLPSpec(LayeredSpec):
    """Wang, Teng & Perdikaris (2021), jaxpi's ModifiedMlp: U = σ(x Wuᵀ + bu), V = σ(x Wvᵀ + bv);
    H₀ = x, Hᵢ = σ(Hᵢ₋₁ Wᵢᵀ + bᵢ) ⊙ U + (1 − σ(…)) ⊙ V for i = 1..L; output H_L W_{L+1}ᵀ + b_{L+1}.
    Every hidden width is the encoders' h."""

    sizes: tuple[int, ...]
    activation: str

    def __post_init__(self):
        self._check_sizes()
        self._uniform_hidden("each hidden layer is gated by the encoders U, V of width h")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        h, d = self.hidden_width, self.d_in
        shapes = {}
        _dense(shapes, "Wu", "bu", d, h)
        _dense(shapes, "Wv", "bv", d, h)
        n = self.n_layers
        for i in range(1, n + 1):
            shapes[f"W{i}"] = (self.sizes[i], self.sizes[i - 1])
        for i in range(1, n + 1):
            shapes[f"b{i}"] = (self.sizes[i],)
        return shapes

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        return _init(self.param_shapes(), seed)

    def path_operations(self) -> int:
        gated = sum(f + OPS_PER_LAYER + GATE_OPS for f in self.sizes[:-2])
        return self.d_in + OPS_PER_LAYER + gated + self.sizes[-2] + OPS_PER_LAYER


class _BlockSpec(LayeredSpec):
    """A kind of `n_blocks` residual blocks of width h: `layers` is d-h-out."""

    SHORTHAND_DEPTH: ClassVar[int | None] = 2

    def _check_blocks(self) -> None:
        self._check_sizes()
        if len(self.sizes) != 3:
            raise BenchInputError(
                f"model {self.kind} takes layers as d-h-out (input, block width, output): its depth is the "
                f"option n_blocks; got layers={self.layers}"
            )
        if self.n_blocks is None:
            raise BenchInputError(f"model {self.kind} needs the option n_blocks (residual blocks, ≥ 1)")
        object.__setattr__(self, "n_blocks", check_count_option("n_blocks", self.n_blocks, "an integer ≥ 1"))

    @property
    def width(self) -> int:
        return self.sizes[1]


@dataclass(frozen=True)
class PirateSpec(_BlockSpec):
    """Wang, Li, Chen & Perdikaris (2024), jaxpi's PirateNet: an optional Fourier embedding
    x ← γ(x) (B), encoders U = σ(x Wuᵀ + bu), V = σ(x Wvᵀ + bv), then per block k
    f = g(σ(x Wₖₐᵀ + bₖₐ)), z = g(σ(f Wₖᵦᵀ + bₖᵦ)), h = σ(z Wₖ꜀ᵀ + bₖ꜀) with the gate
    g(H) = H⊙U + (1 − H)⊙V, and x ← αₖ h + (1 − αₖ) x; output x Woutᵀ + bout. αₖ (shape (1,)) starts
    at the option alpha (0, the paper's, by default)."""

    sizes: tuple[int, ...]
    activation: str
    n_blocks: int | None = None
    features: int | None = None
    scale: float | None = None
    alpha: float | None = None
    KIND_OPTIONS: ClassVar[dict[str, str]] = {
        "n_blocks": "residual blocks (three dense layers each)",
        "features": "m, Fourier features of the optional embedding (none if not given)",
        "scale": "s, the embedding's initial standard deviation",
        "alpha": "initial αₖ of every block (default 0, the paper's)",
    }

    def __post_init__(self):
        self._check_blocks()
        features, scale = _embedding_options(self.features, self.scale, "pirate", required=False)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "scale", scale)
        alpha = 0.0 if self.alpha is None else check_float_option("alpha", self.alpha, "a real number")
        object.__setattr__(self, "alpha", alpha)

    @property
    def embedding_width(self) -> int:
        return self.d_in if self.features is None else 2 * self.features

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        e, h = self.embedding_width, self.width
        shapes = {"B": (self.features, self.d_in)} if self.features is not None else {}
        _dense(shapes, "Wu", "bu", e, h)
        _dense(shapes, "Wv", "bv", e, h)
        for k in range(1, self.n_blocks + 1):
            _dense(shapes, f"W{k}a", f"b{k}a", e, h)
            _dense(shapes, f"W{k}b", f"b{k}b", h, h)
            _dense(shapes, f"W{k}c", f"b{k}c", h, e)
            shapes[f"alpha{k}"] = (1,)
        _dense(shapes, "Wout", "bout", e, self.d_out)
        return shapes

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        return _init(self.param_shapes(), seed, self.scale, self.alpha)

    def options(self) -> dict:
        out = {**super().options(), "n_blocks": self.n_blocks}
        if self.features is not None:
            out.update(features=self.features, scale=self.scale)
        return out | ({"alpha": self.alpha} if self.alpha else {})

    def path_operations(self) -> int:
        e, h = self.embedding_width, self.width
        embedding = self.d_in + OPS_PER_LAYER if self.features is not None else 0
        block = (e + h + OPS_PER_LAYER + 2 * GATE_OPS) + (h + OPS_PER_LAYER) * 2 + GATE_OPS
        return embedding + e + OPS_PER_LAYER + self.n_blocks * block + e + OPS_PER_LAYER


@dataclass(frozen=True)
class ResNetSpec(_BlockSpec):
    """h = σ(x Winᵀ + bin); per block k: h ← h + σ(h Wₖₐᵀ + bₖₐ) Wₖᵦᵀ + bₖᵦ; output h Woutᵀ + bout."""

    sizes: tuple[int, ...]
    activation: str
    n_blocks: int | None = None
    KIND_OPTIONS: ClassVar[dict[str, str]] = {"n_blocks": "residual blocks (two dense layers each)"}

    def __post_init__(self):
        self._check_blocks()

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        h = self.width
        shapes = {}
        _dense(shapes, "Win", "bin", self.d_in, h)
        for k in range(1, self.n_blocks + 1):
            _dense(shapes, f"W{k}a", f"b{k}a", h, h)
            _dense(shapes, f"W{k}b", f"b{k}b", h, h)
        _dense(shapes, "Wout", "bout", h, self.d_out)
        return shapes

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        return _init(self.param_shapes(), seed)

    def options(self) -> dict:
        return {**super().options(), "n_blocks": self.n_blocks}

    def path_operations(self) -> int:
        h = self.width
        return self.d_in + OPS_PER_LAYER + self.n_blocks * (2 * (h + OPS_PER_LAYER) + 1) + h + OPS_PER_LAYER


register_model("fourier", FourierSpec)
register_model("modified-mlp", ModifiedMLPSpec)
register_model("pirate", PirateSpec)
register_model("resnet", ResNetSpec)
