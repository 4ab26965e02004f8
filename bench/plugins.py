"""Plugins: modules whose `register()` adds strategies (through `backends.register_strategy`)."""

from __future__ import annotations

import importlib

from problems.errors import BenchInputError


def load_plugins(modules: list[str]) -> None:
    """Import each module and call its register(): extra strategies without editing the suite."""
    for name in modules:
        try:
            importlib.import_module(name).register()
        except (ImportError, AttributeError) as exc:
            raise BenchInputError(f"cannot load plugin {name!r}: {exc}") from exc
