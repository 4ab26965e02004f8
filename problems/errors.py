"""User-facing errors: each names what was wrong and lists what is valid."""

from __future__ import annotations

from collections.abc import Iterable


class BenchInputError(ValueError):
    """A user error (bad name, size or file): reported in one line, without traceback."""


def unknown_name(kind: str, name: object, valid: Iterable[str]) -> BenchInputError:
    """Error for an unknown registry key, listing the valid keys."""
    valid = sorted(valid)
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return BenchInputError(f"unknown {kind} {name!r}; valid {plural}: {', '.join(valid)}")
