"""Readable names for what the report shows: problem families, instances, frameworks, compile modes.

A reader picks a row by what it means ("seed penalty, 101 points", "k-th derivative, k = 3",
"Poisson, d = 8"), not by the instance id `derivative-order[depth=4,order=3,points=101,width=5]`.
An instance's label shows its problem's main option(s) and every other option that is not at the
problem's default or that varies between the instances being shown, so two rows never share a
label. The sort keys order rows as a reader expects: families in FAMILIES order, sizes numerically.
"""

from __future__ import annotations

import inspect
import math
import re

import pandas as pd

from backends import DEFAULT_COMPILE_MODE
from problems import PROBLEMS, BenchInputError, get_problem, problem_options

FAMILIES: dict[str, str] = {
    "penalty": "Seed penalty",
    "lv-ude": "UDE training step",
    "derivative-order": "k-th derivative",
    "poisson": "Laplacian (Poisson)",
    "biharmonic": "Biharmonic (Δ²)",
}
"""Problem -> the family heading it is shown under, in display order; other problems follow."""

MAIN_OPTIONS: dict[str, tuple[str, ...]] = {
    "penalty": ("points",),
    "lv-ude": ("ode", "solver", "sensitivity"),
    "derivative-order": ("order",),
    "poisson": ("dim",),
    "biharmonic": ("dim",),
}
"""Options always shown in an instance's label (the size the family is about)."""

FRAMEWORKS = {"jax": "JAX", "torch": "PyTorch"}


def _number(value) -> str:
    """10000 -> "10,000"; non-integers as they are."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


OPTION_FORMATS = {
    "points": lambda v: f"{_number(v)} points",
    "order": lambda v: f"k = {_number(v)}",
    "dim": lambda v: f"d = {_number(v)}",
    "width": lambda v: f"width {_number(v)}",
    "depth": lambda v: f"depth {_number(v)}",
    "samples": lambda v: f"{_number(v)} samples",
    "tol": lambda v: f"tol 1e-{_number(v)}",
    "layers": lambda v: f"net {v}",
    "activation": str,
    "ode": str,
    "solver": str,
    "sensitivity": str,
}
"""How one option value reads in a label; options not listed read `name value`."""


def format_option(name: str, value) -> str:
    formatter = OPTION_FORMATS.get(name)
    return formatter(value) if formatter else f"{name} {_number(value)}"


def format_range(name: str, lo, hi) -> str:
    """A range of one option, e.g. "101–10,000 points", "k = 1–4" (one value when lo == hi)."""
    if _same(lo, hi):
        return format_option(name, lo)
    return format_option(name, f"{_number(lo)}–{_number(hi)}")


def family(problem: str) -> str:
    return FAMILIES.get(problem, problem)


def framework(backend: str) -> str:
    """The framework's name as users write it (JAX, PyTorch); an external tool keeps its own."""
    return FRAMEWORKS.get(backend, backend)


def _defaults(problem: str) -> dict:
    """The default instance's options, as normalised by the problem (width/depth/layers of the
    default network even where their constructor defaults are None), else the constructor's."""
    cls = PROBLEMS.get(problem)
    if cls is None:
        return {}
    defaults = {
        name: p.default
        for name, p in inspect.signature(cls).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    try:
        defaults.update(get_problem(problem).options)
    except BenchInputError:
        pass
    return defaults


def _present(value) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA)


def _same(a, b) -> bool:
    try:
        return a == b or float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def label_parts(problem: str, options: dict, varying: set[str] = frozenset()) -> list[str]:
    """The parts of an instance's label: main options, then the others that are not at their
    default or that vary among the instances shown (`varying`)."""
    main = MAIN_OPTIONS.get(problem, ())
    defaults = _defaults(problem)
    names = [n for n in main if n in options and _present(options[n])]
    for name in options:
        if name in main or not _present(options[name]):
            continue
        if name in varying or name not in defaults or not _same(options[name], defaults[name]):
            names.append(name)
    return [format_option(n, options[n]) for n in names]


def parse_instance(instance: str) -> dict:
    """`penalty[layers=2-64-64-2,points=101]` -> {"layers": "2-64-64-2", "points": 101}: the
    options an instance id names (`bench.cases.instance_id` writes them; values never contain
    commas or brackets)."""
    match = re.fullmatch(r"[^\[]*\[(.*)\]", str(instance))
    out = {}
    if match and match.group(1):
        for item in match.group(1).split(","):
            name, _, value = item.partition("=")
            out[name] = int(value) if re.fullmatch(r"-?\d+", value) else value
    return out


def instance_options(row) -> dict:
    """The problem options of one tidy-frame row: those its instance id names, else those its
    problem defines and the row has as columns."""
    options = parse_instance(row["instance"]) if isinstance(row.get("instance"), str) else {}
    if options:
        return options
    problem = row["problem"]
    names = problem_options(problem) if problem in PROBLEMS else []
    return {n: row[n] for n in names if n in row and _present(row[n])}


def add_labels(df: pd.DataFrame) -> pd.DataFrame:
    """`family`, `label` (instance label, e.g. "101 points"), `label_lines` (the same, one part
    per line, for figure ticks) and `order_key` (for sorting) on every row."""
    df = df.copy()
    if df.empty:
        for col in ("family", "label", "label_lines", "order_key"):
            df[col] = pd.Series(dtype=object)
        return df
    options = [instance_options(r) for _, r in df.iterrows()]
    varying: dict[str, set[str]] = {}
    for problem in df["problem"].unique():
        opts = [o for p, o in zip(df["problem"], options) if p == problem]
        names = {n for o in opts for n in o}
        varying[problem] = {n for n in names if len({str(o.get(n)) for o in opts}) > 1}
    parts = [label_parts(p, o, varying.get(p, set())) for p, o in zip(df["problem"], options)]
    df["family"] = df["problem"].map(family)
    df["label"] = [", ".join(p) or "default" for p in parts]
    df["label_lines"] = ["\n".join(p) or "default" for p in parts]
    df["order_key"] = [sort_key(p, o) for p, o in zip(df["problem"], options)]
    return df


def family_rank(problem: str) -> int:
    order = list(FAMILIES)
    return order.index(problem) if problem in order else len(order)


def sort_key(problem: str, options: dict) -> tuple:
    """Families in FAMILIES order, then main options, then the rest; numbers numerically."""
    main = MAIN_OPTIONS.get(problem, ())
    names = [n for n in main if n in options] + sorted(n for n in options if n not in main)

    def value(v):
        if isinstance(v, str) and re.fullmatch(r"\d+(-\d+)+", v):  # layers "2-64-64-2": by widths
            return (1, tuple(int(w) for w in v.split("-")), "")
        try:
            return (0, (float(v),), "")
        except (TypeError, ValueError):
            return (2, (), str(v))

    return (family_rank(problem), problem, tuple(value(options[n]) for n in names))


def compile_mode_label(backend: str, compile_mode: str) -> str:
    """Framework and compile mode, e.g. "PyTorch compile"."""
    return f"{framework(backend)} {compile_mode}"


def series_label(backend: str, strategy: str, compile_mode: str | None = None) -> str:
    """A series of a figure or finding, e.g. "PyTorch rev-over-rev-func [compile]" (the compile
    mode only where it is not the framework's default)."""
    suffix = (
        f" [{compile_mode}]"
        if compile_mode and DEFAULT_COMPILE_MODE.get(backend, compile_mode) != compile_mode
        else ""
    )
    return f"{framework(backend)} {strategy}{suffix}"


def config_of(instance: str, size: str) -> str:
    """An instance's options other than the size option `size`, as a label ("" when none):
    rows that differ only in that size form one series of a scaling plot or finding."""
    options = {k: v for k, v in parse_instance(instance).items() if k != size}
    return ", ".join(format_option(k, v) for k, v in options.items())
