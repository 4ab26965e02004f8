"""The model layer: what a network is, framework-neutrally, and the registry of its kinds.

A model is parameters plus an `apply`. Its spec (`ModelSpec`) says its kind, input and output
widths, hidden activation, parameter names and shapes, and seeded initialisation; each backend
implements each kind's `apply` once (`backends.<framework>.core.apply_fn`), the float64 reference
its Taylor rule (`problems.reference`), and every strategy is written over `apply` alone.

A problem turns its options (`model`, `layers`, `activation` and the kind's own, `MODEL_OPTIONS`)
into a spec with `model_from_options`; a kind registers its spec class with `register_model`.
The built-in kinds: `mlp` (`problems.network`) and `fourier`, `modified-mlp`, `pirate`, `resnet`
(`problems.architectures`).
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from problems.errors import BenchInputError, unknown_name

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

OPS_PER_LAYER = 4
"""Rounded operations per layer on a path besides the fan-in's dot-product terms: bias add,
activation (and its Taylor recurrence), the chain-rule product, the next layer's accumulation."""

MODEL_OPTIONS = ("model", "features", "scale", "n_blocks", "alpha")
"""The problem options that choose the model besides `layers` and `activation`: its kind and the
kinds' own options (each kind says which it takes: `ModelSpec.KIND_OPTIONS`)."""


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


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A dense weight (out, in) drawn U(±√(6/(fan_in + fan_out)))."""
    fan_out, fan_in = shape
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def small_bias(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A bias drawn U(±0.1): small but non-zero, so that every bias gradient is exercised."""
    return rng.uniform(-0.1, 0.1, size=shape)


class ModelSpec(ABC):
    """A network, framework-neutrally: kind, widths, activation, parameters and initialisation.

    Subclasses are frozen dataclasses (hashable: problems cache on them). `has_reference` is False
    for a model no independent float64 reference can evaluate (a user's own module); every
    built-in kind has one (`problems.reference`).
    """

    kind: ClassVar[str]
    has_reference: ClassVar[bool] = True
    KIND_OPTIONS: ClassVar[dict[str, str]] = {}
    """The kind's own options (besides `layers` and `activation`) and what each means."""
    floor_reason: ClassVar[str | None] = "the hand-derived floor is derived for the MLP only"
    """Why the hand-derived floor (`backends/floor.py`) cannot run this kind; None where it can."""

    activation: str | None

    @property
    @abstractmethod
    def d_in(self) -> int:
        """Input width d."""

    @property
    @abstractmethod
    def d_out(self) -> int:
        """Output width."""

    @abstractmethod
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each parameter's shape, in `param_names` order (dense weights are (out, in))."""

    @abstractmethod
    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Seeded float64 initialisation, keyed by `param_names`."""

    @abstractmethod
    def options(self) -> dict:
        """The problem options that rebuild this spec (`model_from_options(spec.options())`)."""

    @property
    def param_names(self) -> tuple[str, ...]:
        """The exchange format's (`.npz`) keys, in a fixed order (flattening follows it)."""
        return tuple(self.param_shapes())

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(s)) for s in self.param_shapes().values())

    @property
    def label(self) -> str:
        """Short readable text: "mlp 2-64-64-1 tanh"."""
        extra = " ".join(
            f"{k}={v}" for k, v in self.options().items() if k not in ("model", "layers", "activation")
        )
        parts = [self.kind, self.options().get("layers", ""), self.activation or "", extra]
        return " ".join(p for p in parts if p)

    def path_operations(self) -> int:
        """Rounded operations on one point's path through the network (one pass): the rounding
        count of `problems.tolerances` (per dense layer its fan-in's dot-product terms plus
        OPS_PER_LAYER, plus what the kind adds: embeddings, gates, residual updates)."""
        raise NotImplementedError(f"{type(self).__name__} does not count its rounded operations")

    @property
    def widest(self) -> int:
        """The widest activation array of one point (bounds the reference's memory)."""
        return max(max(s) for s in self.param_shapes().values() if len(s))


class LayeredSpec(ModelSpec):
    """A built-in kind described by `layers` (widths from input to output) and an activation;
    subclasses are frozen dataclasses with fields `sizes` and `activation` (and their options)."""

    sizes: tuple[int, ...]
    SHORTHAND_DEPTH: ClassVar[int | None] = None
    """The Dense-layer count the width/depth shorthand gives this kind when depth is not given
    (None: the problem's own default)."""

    @classmethod
    def from_options(cls, layers, activation, given: dict, **layout) -> LayeredSpec:
        """The spec from a problem's `layers`, `activation`, the kind's options and its shorthand."""
        check_activation(activation)
        if cls.SHORTHAND_DEPTH is not None and layers is None and layout.get("depth") is None:
            layout = {
                **layout,
                "shorthand": layout["shorthand"][:2] + (cls.SHORTHAND_DEPTH,) + layout["shorthand"][3:],
            }
        sizes = resolve_sizes(layers, **layout)
        return cls.build(sizes, activation, **given)

    @classmethod
    def build(cls, sizes: tuple[int, ...], activation: str, **options) -> LayeredSpec:
        """The spec from resolved widths and the kind's options (missing ones: BenchInputError)."""
        return cls(sizes, activation, **options)

    @property
    def d_in(self) -> int:
        return self.sizes[0]

    @property
    def d_out(self) -> int:
        return self.sizes[-1]

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
        """Dense layers from the input to the output (len(layers) − 1)."""
        return len(self.sizes) - 1

    def options(self) -> dict:
        return {"model": self.kind, "layers": self.layers, "activation": self.activation}

    def _check_sizes(self) -> None:
        if len(self.sizes) < 2 or any(int(s) != s or s < 1 for s in self.sizes):
            raise BenchInputError(f"layer sizes must be positive integers, got {self.sizes}")
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        check_activation(self.activation)

    def _uniform_hidden(self, why: str) -> int:
        """The one hidden width h of a kind whose hidden layers must share it (else an error)."""
        if self.hidden_width is None:
            raise BenchInputError(
                f"model {self.kind} needs every hidden width equal ({why}); got layers={self.layers}"
            )
        return self.hidden_width


def resolve_sizes(layers, *, width=None, depth=None, shorthand: tuple[int, int, int, int] = (2, 5, 4, 2),
                  inputs: int | None = None, outputs: int | None = None) -> tuple[int, ...]:  # fmt: skip
    """The widths of a problem's network from its options.

    `layers` gives every width ("2-64-32-1"); `width` (hidden width) and `depth` (Dense layers) are
    the shorthand for a uniform net `inputs → width × (depth − 1) → outputs`, each defaulting to
    `shorthand` = (inputs, width, depth, outputs). Given together, `layers` decides and the
    shorthand must describe the same network (otherwise a BenchInputError names the mismatch), so
    an instance's normalised options build it again. `inputs`/`outputs`, where given (a PINN's
    `dim`, its scalar u), must match the first and last width.
    """
    if layers is None:
        d_in, w, k, d_out = shorthand
        d_in = d_in if inputs is None else inputs
        d_out = d_out if outputs is None else outputs
        w = w if width is None else width
        k = k if depth is None else depth
        return (d_in,) + (w,) * (k - 1) + (d_out,)
    sizes = parse_layers(layers)
    hidden = set(sizes[1:-1])
    conflicts = []
    if width is not None and (len(hidden) != 1 or width not in hidden):
        conflicts.append(f"width={width}")
    if depth is not None and depth != len(sizes) - 1:
        conflicts.append(f"depth={depth}")
    if inputs is not None and inputs != sizes[0]:
        conflicts.append(f"{inputs} inputs")
    if outputs is not None and outputs != sizes[-1]:
        conflicts.append(f"{outputs} output{'s' if outputs != 1 else ''}")
    if conflicts:
        raise BenchInputError(
            f"layers={layers_id(sizes)} contradicts {', '.join(conflicts)}: give layers alone (it sets every "
            f"width), or only options that agree with it"
        )
    return sizes


MODEL_KINDS: dict[str, type[ModelSpec]] = {}
"""kind -> its spec class; `register_model` adds one."""


def register_model(kind: str, spec_class: type[ModelSpec]) -> type[ModelSpec]:
    """Make `spec_class` the spec of `model=kind` (the one registration line a kind adds)."""
    spec_class.kind = kind
    MODEL_KINDS[kind] = spec_class
    return spec_class


def model_from_options(options: Mapping, **layout) -> ModelSpec:
    """A problem's model spec from its options: `model` (the kind, default "mlp"), `layers`,
    `activation` and the kind's own options (None = not given).

    `layout` passes the problem's layer shorthand to the kind (`width`, `depth`, `shorthand`,
    `inputs`, `outputs`: see `problems.network.network_from_options`). An unknown kind, an option
    the kind does not take, a missing one or widths the kind cannot take raise one BenchInputError.
    """
    options = dict(options)
    kind = options.pop("model", None) or "mlp"
    if is_user_model(kind):  # your own module: torch:<module or file.py>:<factory>, jax:...
        from problems.user_models import user_model_from_options

        return user_model_from_options(kind, **layout)
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise unknown_name("model kind", kind, MODEL_KINDS)
    spec_class = MODEL_KINDS[kind]
    given = {k: v for k, v in options.items() if v is not None and k not in ("layers", "activation")}
    foreign = sorted(set(given) - set(spec_class.KIND_OPTIONS))
    if foreign:
        takes = ", ".join(spec_class.KIND_OPTIONS) or "none besides layers and activation"
        raise BenchInputError(f"model {kind} takes no option {', '.join(foreign)}; its options: {takes}")
    return spec_class.from_options(options.get("layers"), options.get("activation"), given, **layout)


def kind_option_values(problem) -> dict:
    """A problem's model options as `model_from_options` takes them (None: not given)."""
    return {name: getattr(problem, name) for name in MODEL_OPTIONS}


def normalised_model_options(spec: ModelSpec) -> dict:
    """The values a problem stores for `MODEL_OPTIONS` so that its options rebuild `spec`
    (None for the options its kind does not take)."""
    given = spec.options()
    return {name: given.get(name) for name in MODEL_OPTIONS} | {"model": given.get("model") or spec.kind}


def settle_model(problem, **layout) -> ModelSpec:
    """A problem's spec from its fields (`layers`, `activation`, `MODEL_OPTIONS`), with those
    fields normalised in place (frozen dataclass) so that the instance's options rebuild it and
    equal networks give equal instances. `layout`: the problem's width/depth shorthand."""
    options = {"layers": problem.layers, "activation": problem.activation, **kind_option_values(problem)}
    spec = model_from_options(options, **layout)
    for name, value in {**normalised_model_options(spec), "layers": spec.options().get("layers")}.items():
        object.__setattr__(problem, name, value)
    if is_user_model(problem.model):  # its input width comes from the layout; it has no activation
        object.__setattr__(problem, "activation", None)
        object.__setattr__(problem, "_model_layout", layout)
    return spec


def problem_model(problem) -> ModelSpec:
    """The spec of a problem whose fields `settle_model` normalised."""
    layout = getattr(problem, "_model_layout", {}) if is_user_model(problem.model) else {}
    return model_from_options({"layers": problem.layers, "activation": problem.activation,
                               **kind_option_values(problem)}, **layout)  # fmt: skip


def is_user_model(model) -> bool:
    """Whether a `model` option names a user's module (`torch:...`, `jax:...`: problems.user_models)."""
    return isinstance(model, str) and model.partition(":")[0] in ("torch", "jax") and ":" in model


def check_float_option(name: str, value, valid: str, positive: bool = False) -> float:
    """A real-number model option (bool refused)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > 0 or not positive)
    if not ok:
        raise BenchInputError(f"{name} must be {valid}, got {value!r}")
    return float(value)


def check_count_option(name: str, value, valid: str) -> int:
    if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1):
        raise BenchInputError(f"{name} must be {valid}, got {value!r}")
    return int(value)


MODEL_MODULES = ("network", "architectures", "user_models")
"""Modules of `problems` that define model kinds (`mlp` first); each registers its kinds."""

for _module in MODEL_MODULES:
    importlib.import_module(f"problems.{_module}")
