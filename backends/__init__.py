"""Framework adapters: `get_backend(name)`; each implements the catalogue strategies of every problem.

What the rest of the suite needs to know about a backend without importing its framework (its
compile modes, the default first) is declared once here, in BACKENDS. Backends are imported
lazily, so using one framework never imports the other. `register_strategy` is the public way to
add a strategy from outside the suite (plugins, the tests' deliberately faulty strategies).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from backends.base import Backend, Builder, Compiled, Condition, PureFunction, UnsupportedStrategy
from backends.devices import DEVICES
from problems.core import Strategy, catalogue
from problems.errors import unknown_name


@dataclass(frozen=True)
class BackendInfo:
    target: str
    """module:class of the adapter."""
    compile_modes: tuple[str, ...]
    """Compile modes, the default first."""

    @property
    def default_compile_mode(self) -> str:
        return self.compile_modes[0]


BACKENDS: dict[str, BackendInfo] = {
    "jax": BackendInfo("backends.jax_backend:JaxBackend", ("jit", "eager")),
    "torch": BackendInfo("backends.torch_backend:TorchBackend", ("eager", "compile")),
}

COMPILE_MODES: dict[str, tuple[str, ...]] = {name: info.compile_modes for name, info in BACKENDS.items()}
DEFAULT_COMPILE_MODE: dict[str, str] = {name: info.default_compile_mode for name, info in BACKENDS.items()}

_instances: dict[str, Backend] = {}


def get_backend(name: str) -> Backend:
    """The adapter for framework `name` ("jax" or "torch")."""
    if name not in BACKENDS:
        raise unknown_name("backend", name, BACKENDS)
    if name not in _instances:
        module, cls = BACKENDS[name].target.split(":")
        _instances[name] = getattr(importlib.import_module(module), cls)()
    return _instances[name]


def register_strategy(backend: str, kind: str, name: str, build: Builder, description: str = "",
                      error: str = "exact", when: Condition | None = None) -> None:  # fmt: skip
    """Add strategy `name` for problem kind `kind` to `backend`: a catalogue entry (if the kind's
    catalogue lacks it) with its error model, and the implementation `build(problem, dtype,
    device, compile_mode) -> Compiled`. Idempotent."""
    strategies = catalogue(kind)
    if name not in strategies:
        strategies.add(Strategy(name, description or f"plugin strategy {name}", error=error))
    get_backend(backend).registry.register(kind, name, when)(build)


def unregister_strategy(backend: str, kind: str, name: str, catalogue_entry: bool = True) -> None:
    """Undo `register_strategy` (and drop the catalogue entry unless `catalogue_entry` is False)."""
    get_backend(backend).registry.remove(kind, name)
    if catalogue_entry:
        catalogue(kind).remove(name)


__all__ = [
    "BACKENDS",
    "DEFAULT_COMPILE_MODE",
    "DEVICES",
    "COMPILE_MODES",
    "Backend",
    "BackendInfo",
    "Compiled",
    "PureFunction",
    "UnsupportedStrategy",
    "get_backend",
    "register_strategy",
    "unregister_strategy",
]
