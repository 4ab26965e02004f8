"""Where the ranking changes with size: the fastest strategy at each size and the crossover
points between consecutive winners.

Along one size axis x (parameters `n_params`, or `points`) with everything else fixed, the winner
at each measured x is the fastest correct adoptable strategy: the leader a verdict names
(`reports.verdict.leader_of`, among `reports.roles.adoptable` cases). Where the winner changes from A (at
x₀) to B (at x₁), the crossover is where the two curves cross, interpolated linearly in log-log:
log(t_A/t_B) goes from negative at x₀ to positive at x₁; x* is where it is zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.labels import family, format_option, parse_instance
from reports.text import count_label
from reports.verdict import adoptable_mask, leader_of


@dataclass(frozen=True)
class Crossover:
    before: str
    """Fastest below the crossover."""
    after: str
    """Fastest above it."""
    x0: float
    x1: float
    """The measured sizes the crossover lies between."""
    x: float | None
    """Interpolated crossing (None when one of the two was not measured at both sizes)."""
    time: float | None
    """Time of both strategies at the crossing."""


def winners(rows: pd.DataFrame, x: str) -> list[tuple[float, str, float]]:
    """(x, fastest strategy, its median) for each measured x of `rows` (ok, adoptable, one
    comparison context)."""
    out = []
    for value, g in rows.groupby(x, sort=True):
        best = leader_of(g)[0]
        out.append((float(value), str(best["strategy"]), float(best["median_s"])))
    return out


def _time(rows: pd.DataFrame, x: str, value: float, strategy: str) -> float | None:
    hit = rows[(rows[x] == value) & (rows["strategy"] == strategy)]["median_s"]
    return float(hit.iloc[0]) if len(hit) else None


def crossovers(rows: pd.DataFrame, x: str) -> list[Crossover]:
    """Each change of winner along `x`, with the interpolated crossing of the two curves."""
    found = []
    win = winners(rows, x)
    for (x0, a, _), (x1, b, _) in zip(win, win[1:]):
        if a == b:
            continue
        ta0, ta1, tb0, tb1 = (
            _time(rows, x, x0, a),
            _time(rows, x, x1, a),
            _time(rows, x, x0, b),
            _time(rows, x, x1, b),
        )
        cross, t = None, None
        if None not in (ta0, ta1, tb0, tb1) and x0 > 0 and x1 > 0:
            d0, d1 = math.log(ta0 / tb0), math.log(ta1 / tb1)
            if d0 <= 0 < d1 or d0 < 0 <= d1:
                u = d0 / (d0 - d1)
                cross = math.exp(math.log(x0) + u * (math.log(x1) - math.log(x0)))
                t = math.exp(math.log(ta0) + u * (math.log(ta1) - math.log(ta0)))
        found.append(Crossover(a, b, x0, x1, cross, t))
    return found


def winner_grid(rows: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Fastest strategy per (y, x) cell: index y values, columns x values."""
    cells = {}
    for (yv, xv), g in rows.groupby([y, x], sort=True):
        cells[(yv, xv)] = leader_of(g)[0]["strategy"]
    if not cells:
        return pd.DataFrame()
    ys = sorted({k[0] for k in cells})
    xs = sorted({k[1] for k in cells})
    return pd.DataFrame([[cells.get((yv, xv), "") for xv in xs] for yv in ys], index=ys, columns=xs)


def has_size_data(df: pd.DataFrame) -> bool:
    """Whether any comparison context has ok cases at two or more parameter counts."""
    if "n_params" not in df or df["n_params"].notna().sum() == 0:
        return False
    ok = df[(df["status"] == "ok") & df["n_params"].notna()]
    keys = ["problem", "backend", "compile_mode", "dtype", "device"]
    return bool(len(ok)) and bool((ok.groupby(keys)["n_params"].nunique() >= 2).any())


def numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)


def size_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The ok cases that carry a parameter count, with numeric `n_params` and `points`, whether
    the strategy is adoptable (`reports.roles.adoptable`), a `network` name (the `layers` option,
    else the parameter count)."""
    ok = df[(df["status"] == "ok") & df["n_params"].notna()].copy()
    ok["n_params"] = numeric(ok["n_params"])
    ok["points"] = numeric(ok["points"]) if "points" in ok else np.nan
    ok["adoptable"] = adoptable_mask(ok)
    ok["network"] = [_network(i, n) for i, n in zip(ok["instance"], ok["n_params"])]
    return ok


def _network(instance: str, n_params: float) -> str:
    """The network's name: its layers ("2-64-64-2"), else its width and depth, else its size."""
    options = parse_instance(instance)
    if "layers" in options:
        return str(options["layers"])
    shape = [format_option(k, options[k]) for k in ("width", "depth") if k in options]
    return ", ".join(shape) or f"{count_label(n_params)} parameters"


SIZE_OPTIONS = ("layers", "width", "depth", "points")
"""Instance options that set the network's size or the number of points: the two axes of the
ranking figures. Every other option (activation, derivative order, dimension …) is held fixed."""


def size_contexts(ok: pd.DataFrame):
    """(title, rows) per problem × its other options × dtype × device, where two or more network
    sizes were measured."""

    def context(instance: str) -> str:
        options = {k: v for k, v in parse_instance(instance).items() if k not in SIZE_OPTIONS}
        return ", ".join(format_option(k, v) for k, v in options.items())

    ok = ok.assign(_context=ok["instance"].map(context))
    for (problem, fixed, dtype, device), g in ok.groupby(
        ["problem", "_context", "dtype", "device"], sort=True
    ):
        if g["n_params"].nunique() < 2:
            continue
        yield ", ".join(p for p in (family(problem), fixed, dtype, device) if p), g.drop(columns="_context")


def panels(g: pd.DataFrame, x: str, fixed: str) -> list[tuple[tuple[str, str], float]]:
    """((backend, compile_mode), value of `fixed`) for each panel that has two or more sizes along x."""
    modes = sorted(set(zip(g["backend"], g["compile_mode"])))
    out = []
    for value in sorted(g[fixed].dropna().unique()):
        for backend, compile_mode in modes:
            sub = g[(g["backend"] == backend) & (g["compile_mode"] == compile_mode) & (g[fixed] == value)]
            if sub[x].nunique() >= 2:
                out.append(((backend, compile_mode), value))
    return out
