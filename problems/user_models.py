"""Your own module as a model kind: `model="torch:<module or file.py>:<factory>"` or
`model="jax:<module or file.py>:<factory>"`.

* torch: the factory returns a `torch.nn.Module` whose `forward` maps a batch (N, d) to (N, k).
  Its parameters are named by `named_parameters()`; the backend runs it through
  `torch.func.functional_call` (buffers are constants, cast to the case's dtype).
* jax: the factory returns `(apply, params)`, `apply(params, x)` for ONE point x of shape (d,)
  returning (k,), params any pytree (`eqx.partition` + `eqx.combine`, flax `init`/`apply`). Its
  array leaves are named by their paths (`jax.tree_util.keystr`) so the suite's dict-of-arrays
  plumbing (prepare, to_numpy, `.npz`, comparisons) works; the backend unflattens them inside apply.

The factory takes no arguments; a torch factory runs under `torch.manual_seed(seed)`, so its own
initialisation is the seeded one; a JAX factory picks its own key. The module is called once when
the spec is built, on the problem's input width d, to learn (and check) the output width. Such a
model has no independent float64 reference (`has_reference = False`): its cases are checked
against the float64 consensus of its own framework (`bench/consensus.py`). A user model runs only
in its own framework's backend (`framework`); the other one declares its cases unsupported.

Loading needs the framework, so it is imported here lazily, only for a model of that kind.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from problems.errors import BenchInputError
from problems.models import ModelSpec, is_user_model, register_model  # noqa: F401  (is_user_model re-exported)

FRAMEWORKS = ("torch", "jax")
"""The prefixes of a user model's `model` option, each the backend that runs it."""

FORMS = {
    "torch": "torch:<module or file.py>:<factory>, the factory returning a torch.nn.Module "
    "whose forward maps (N, d) to (N, outputs)",
    "jax": "jax:<module or file.py>:<factory>, the factory returning (apply, params) with "
    "apply(params, x) mapping one point x of shape (d,) to (outputs,)",
}

PROBE_POINTS = 2
"""Points of the batch the model is called on once when its spec is built (torch: (2, d))."""


def parse_source(model: str) -> tuple[str, str, str]:
    """(framework, module or file, factory) of `torch:<module or file.py>:<factory>`."""
    framework, _, rest = model.partition(":")
    target, _, factory = rest.rpartition(":")
    if framework not in FRAMEWORKS or not target or not factory.isidentifier():
        raise BenchInputError(f"model {model!r}: a user model is {FORMS['torch']}, or {FORMS['jax']}")
    return framework, target, factory


@dataclass(frozen=True)
class Loaded:
    """A user model, loaded: `module` (torch) or `apply` (jax) and its parameters by name."""

    framework: str
    names: tuple[str, ...]
    params: dict[str, np.ndarray]
    d_out: int
    module: Any = None
    """torch: the nn.Module whose parameters `functional_call` replaces."""
    apply: Any = None
    """jax: the factory's apply(params pytree, x)."""
    treedef: Any = None
    """jax: the params pytree's structure (array leaves in `names` order)."""


def _import_target(model: str, target: str):
    """The module named by `target`: a file (ends in .py or names a path) or an importable module."""
    try:
        if target.endswith(".py") or "/" in target or "\\" in target:
            path = Path(target).expanduser()
            if not path.is_file():
                raise BenchInputError(f"model {model!r}: no such file {target!r}")
            name = f"user_model_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(target)
    except BenchInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to import is the user's module's
        raise BenchInputError(
            f"model {model!r}: cannot import {target!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _factory(model: str):
    framework, target, name = parse_source(model)
    module = _import_target(model, target)
    factory = getattr(module, name, None)
    if not callable(factory):
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        raise BenchInputError(
            f"model {model!r}: {target} has no factory {name!r}; "
            f"its callables: {', '.join(defined) or 'none'}"
        )
    return framework, factory


def _call(model: str, factory):
    try:
        return factory()
    except Exception as exc:  # noqa: BLE001
        raise BenchInputError(f"model {model!r}: the factory raised {type(exc).__name__}: {exc}") from exc


def _checked_output(model: str, out, shape: tuple, ndim: int, expected: str) -> int:
    """The output width of one call's result `out` (an array of `shape`, `ndim` axes), or the error."""
    if len(shape) != ndim or (ndim == 2 and shape[0] != PROBE_POINTS) or shape[-1] < 1:
        raise BenchInputError(
            f"model {model!r} must map inputs to {expected}; it returned shape {tuple(shape)}"
        )
    if not np.all(np.isfinite(out)):
        raise BenchInputError(f"model {model!r} returned NaN or Inf at the probe points")
    return int(shape[-1])


def probe_points(d_in: int) -> np.ndarray:
    """The batch (PROBE_POINTS, d) a model is called on once: distinct points in [0, 1]."""
    return np.linspace(0.25, 0.75, PROBE_POINTS * d_in).reshape(PROBE_POINTS, d_in)


def _load_torch(model: str, factory, d_in: int, seed: int) -> Loaded:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = _call(model, factory)
    if not isinstance(module, torch.nn.Module):
        raise BenchInputError(
            f"model {model!r}: the factory returned {type(module).__name__}, expected a torch.nn.Module"
        )
    named = dict(module.named_parameters())
    if not named:
        raise BenchInputError(f"model {model!r}: the module has no parameters (named_parameters() is empty)")
    params = {k: v.detach().cpu().double().numpy().copy() for k, v in named.items()}
    X = torch.as_tensor(probe_points(d_in), dtype=next(iter(named.values())).dtype)
    try:
        with torch.no_grad():
            out = module(X)
    except Exception as exc:  # noqa: BLE001
        raise BenchInputError(
            f"model {model!r} cannot take a batch of {d_in} inputs (shape {tuple(X.shape)}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise BenchInputError(f"model {model!r}: forward returned {type(out).__name__}, expected a tensor")
    d_out = _checked_output(
        model, out.detach().double().numpy(), tuple(out.shape), 2, f"(N={PROBE_POINTS}, outputs)"
    )
    return Loaded("torch", tuple(named), params, d_out, module=module)


def _path_name(path) -> str:
    """A pytree leaf's readable name: dict keys and attributes joined by dots, sequence indices in
    brackets ("W1", "layers[0].weight", "params.Dense_0.kernel")."""
    from jax.tree_util import DictKey, GetAttrKey, SequenceKey

    name = ""
    for entry in path:
        if isinstance(entry, SequenceKey):
            name += f"[{entry.idx}]"
        else:
            key = (
                entry.key
                if isinstance(entry, DictKey)
                else entry.name
                if isinstance(entry, GetAttrKey)
                else entry
            )
            name += f".{key}" if name else str(key)
    return name or "params"


def _load_jax(model: str, factory, d_in: int) -> Loaded:
    import jax

    jax.config.update("jax_enable_x64", True)  # as the JAX backend does, before any array exists
    result = _call(model, factory)
    if not (isinstance(result, tuple) and len(result) == 2 and callable(result[0])):
        raise BenchInputError(
            f"model {model!r}: the factory returned {type(result).__name__}, expected a pair (apply, params)"
        )
    apply, tree = result
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    if not leaves:
        raise BenchInputError(f"model {model!r}: params has no array leaves")
    names, params = [], {}
    for path, leaf in leaves:
        name = _path_name(path)
        array = np.asarray(leaf)
        if not np.issubdtype(array.dtype, np.floating):
            raise BenchInputError(
                f"model {model!r}: parameter {name} is not a float array (dtype {array.dtype})"
            )
        names.append(name)
        params[name] = array.astype(np.float64)
    if len(set(names)) != len(names):
        raise BenchInputError(f"model {model!r}: parameter paths are not unique: {names}")
    x = probe_points(d_in)[0]
    try:
        out = np.asarray(apply(tree, jax.numpy.asarray(x, dtype=np.asarray(leaves[0][1]).dtype)))
    except Exception as exc:  # noqa: BLE001
        raise BenchInputError(
            f"model {model!r}: apply(params, x) fails on one point of {d_in} inputs (shape ({d_in},)): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    d_out = _checked_output(model, out, out.shape, 1, "(outputs,) for one point")
    return Loaded("jax", tuple(names), params, d_out, apply=apply, treedef=jax.tree_util.tree_structure(tree))


@lru_cache(maxsize=32)
def load(model: str, d_in: int, seed: int = 0) -> Loaded:
    """Import, build and probe a user model (cached: the backends and the spec share one load)."""
    framework, factory = _factory(model)
    if framework == "torch":
        return _load_torch(model, factory, d_in, seed)
    return _load_jax(model, factory, d_in)


class UserModel:
    """Mixin of the user-model specs (`torch`, `jax` kinds): `source` is the whole `model` option,
    `inputs` the problem's input width d. Behaviour only; the spec class (a frozen dataclass
    registered as a model kind) adds the contract's base class."""

    has_reference: ClassVar[bool] = False
    floor_reason: ClassVar[str] = (
        "the hand-derived floor is derived for the MLP only, not for a user's module"
    )
    KIND_OPTIONS: ClassVar[dict[str, str]] = {}

    source: str
    inputs: int
    activation: None = None
    hidden_width: ClassVar[None] = None
    """No uniform hidden width or Dense-layer count: a problem's width/depth shorthand is None."""
    n_layers: ClassVar[None] = None

    @property
    def framework(self) -> str:
        return parse_source(self.source)[0]

    def loaded(self, seed: int = 0) -> Loaded:
        return load(self.source, self.inputs, seed)

    @property
    def d_in(self) -> int:
        return self.inputs

    @property
    def d_out(self) -> int:
        return self.loaded().d_out

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: v.shape for k, v in self.loaded().params.items()}

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        """torch: the module's parameters as its factory initialised them under manual_seed(seed);
        jax: the factory's params (it chooses its own key)."""
        return {k: v.copy() for k, v in self.loaded(seed if self.framework == "torch" else 0).params.items()}

    def options(self) -> dict:
        return {"model": self.source}

    @property
    def label(self) -> str:
        return f"{self.source} ({self.d_in} → {self.d_out})"

    def path_operations(self) -> int:
        """Rounded operations on one point's path, bounded by the parameter count: every
        parameter enters a point's output through at most one multiply-add per pass (a user's
        module may do more per parameter, e.g. sin/cos of an embedding: 4 more per parameter)."""
        return 4 * self.n_params

    def unsupported_by(self, backend: str, strategy) -> str | None:
        """Why `backend` cannot run `strategy` (a catalogue entry) on this model, or None: another
        framework's module; an approximate strategy (its error bound is predicted from the
        independent reference's higher derivatives, which a user's module lacks)."""
        if backend != self.framework:
            return f"{self.source} is a {self.framework} module: it runs only in the {self.framework} backend"
        if strategy.error != "exact":
            return (f"{strategy.name} is {strategy.error}: its error bound is predicted from the independent "
                    "reference's higher derivatives, which a user's module does not have")  # fmt: skip
        return None


def check_user_model(model: str, inputs: int, outputs: int | None) -> None:
    """Refuse a user model whose output width is not `outputs` where the problem needs one (a
    PINN's scalar u); loading it checks it maps `inputs` inputs to outputs at all."""
    d_out = load(model, inputs).d_out
    if outputs is not None and d_out != outputs:
        raise BenchInputError(
            f"model {model!r} maps {inputs} inputs to {d_out} outputs; this problem needs {outputs}"
        )


def user_model_from_options(model: str, *, inputs: int | None = None, outputs: int | None = None,
                            shorthand: tuple[int, int, int, int] = (2, 5, 4, 2), **_layout):  # fmt: skip
    """The spec of a user model for a problem: d = the problem's input width (`inputs`, else its
    default `shorthand[0]`); the model is loaded and called once to check it maps d inputs to
    outputs (`outputs` of them where the problem needs a number). BenchInputError otherwise. The
    problem's `layers` and `activation` do not apply: the module's widths and functions are its own."""
    framework, _, _ = parse_source(model)
    d_in = inputs if inputs is not None else shorthand[0]
    check_user_model(model, d_in, outputs)
    return USER_MODEL_SPECS[framework](model, d_in)


@dataclass(frozen=True)
class TorchModelSpec(UserModel, ModelSpec):
    """`model="torch:<module or file.py>:<factory>"`: a torch.nn.Module."""

    source: str
    inputs: int
    activation: None = None

    @classmethod
    def from_options(cls, layers, activation, given, **layout):
        raise BenchInputError(f"model torch needs your module: {FORMS['torch']}")


@dataclass(frozen=True)
class JaxModelSpec(UserModel, ModelSpec):
    """`model="jax:<module or file.py>:<factory>"`: (apply, params pytree)."""

    source: str
    inputs: int
    activation: None = None

    @classmethod
    def from_options(cls, layers, activation, given, **layout):
        raise BenchInputError(f"model jax needs your module: {FORMS['jax']}")


USER_MODEL_SPECS: dict[str, type] = {
    "torch": register_model("torch", TorchModelSpec),
    "jax": register_model("jax", JaxModelSpec),
}
"""framework -> its spec class, registered as the `torch` and `jax` model kinds."""
