"""One colour per strategy across every figure, one line style per framework, one marker per
compile mode: a reader who learnt that orange is `taylor` in one figure can rely on it in all.

Colours are assigned in catalogue order over every registered catalogue (so a strategy that two
problem kinds share, e.g. `taylor` or `fwd-over-rev`, keeps its colour) from a list of distinct,
colour-blind-friendly hues; strategies unknown at import (plugins, external tools) and named
spellings (`taylor:per-point`, shown only by the spellings set) get a stable colour from the same
list by hashing their name.
"""

from __future__ import annotations

import zlib

from matplotlib.lines import Line2D

from problems import CATALOGUES, catalogue

COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#8C6D31",
    "#AA4499",
    "#332288",
    "#117733",
    "#882255",
    "#44AA99",
    "#999933",
    "#661100",
    "#6699CC",
    "#7F7F7F",
)
"""Okabe–Ito's colours, then Tol's muted set (grey last: it reads as a reference line):
distinguishable and colour-blind friendly."""

FLOOR_COLOUR = "#222222"
"""The hand-written floor is a reference line, drawn in near-black."""

LINESTYLES = {"jax": "-", "torch": "--"}
MARKERS = {"jit": "o", "eager": "s", "compile": "D"}
FRAMEWORK_MARKERS = {"jax": "o", "torch": "s"}


def _strategy_order() -> list[str]:
    names: list[str] = []
    for kind, entry in CATALOGUES.items():
        if isinstance(entry, str):
            continue
        for name, strategy in catalogue(kind).items():
            if name not in names and not strategy.floor and strategy.spelling_of is None:
                names.append(name)
    return names


_ASSIGNED = {name: COLOURS[i % len(COLOURS)] for i, name in enumerate(_strategy_order())}


def _floors() -> set[str]:
    return {
        n
        for kind, e in CATALOGUES.items()
        if not isinstance(e, str)
        for n, s in catalogue(kind).items()
        if s.floor
    }


def strategy_colour(strategy: str) -> str:
    """The colour of `strategy` in every figure."""
    if strategy in _ASSIGNED:
        return _ASSIGNED[strategy]
    if strategy in _floors():
        return FLOOR_COLOUR
    return COLOURS[zlib.crc32(strategy.encode()) % len(COLOURS)]


def linestyle(backend: str) -> str:
    return LINESTYLES.get(backend, ":")


def marker(compile_mode: str) -> str:
    return MARKERS.get(compile_mode, "^")


def strategy_handles(strategies) -> list[Line2D]:
    """Legend handles: one coloured line per strategy."""
    return [Line2D([], [], color=strategy_colour(s), lw=2.5, label=s) for s in strategies]


def framework_handles(backends, labels: dict[str, str] | None = None) -> list[Line2D]:
    """Legend handles: one black line per framework in its line style."""
    labels = labels or {}
    return [Line2D([], [], color="black", ls=linestyle(b), lw=1.5, label=labels.get(b, b)) for b in backends]
