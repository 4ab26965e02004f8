"""Framework adapters: `get_backend(name)`; each implements every strategy for every problem.

Backends are imported lazily so that using one framework never imports the other.
"""

from __future__ import annotations

import importlib

from backends.base import (
    DEVICES,
    PENALTY_STRATEGIES,
    STRATEGY_NAMES,
    Backend,
    Compiled,
    UnsupportedStrategy,
)
from problems.errors import unknown_name

BACKENDS: dict[str, str] = {
    "jax": "backends.jax_backend:JaxBackend",
    "torch": "backends.torch_backend:TorchBackend",
}

_instances: dict[str, Backend] = {}


def get_backend(name: str) -> Backend:
    """The adapter for framework `name` ("jax" or "torch")."""
    if name not in BACKENDS:
        raise unknown_name("backend", name, BACKENDS)
    if name not in _instances:
        module, cls = BACKENDS[name].split(":")
        _instances[name] = getattr(importlib.import_module(module), cls)()
    return _instances[name]


__all__ = [
    "BACKENDS",
    "DEVICES",
    "PENALTY_STRATEGIES",
    "STRATEGY_NAMES",
    "Backend",
    "Compiled",
    "UnsupportedStrategy",
    "get_backend",
]
