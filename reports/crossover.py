"""Where the ranking changes with size: the fastest strategy at each size and the crossover
points between consecutive winners.

Along one size axis x (parameters `n_params`, or `points`) with everything else fixed, the winner
at each measured x is the fastest correct adoptable strategy. Where the winner changes from A (at
x₀) to B (at x₁), the crossover is where the two curves cross, interpolated linearly in log-log:
log(t_A/t_B) goes from negative at x₀ to positive at x₁; x* is where it is zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


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
        best = g.sort_values(["median_s", "strategy"]).iloc[0]
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
        cells[(yv, xv)] = g.sort_values(["median_s", "strategy"]).iloc[0]["strategy"]
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
    keys = ["problem", "backend", "variant", "dtype", "device"]
    return bool(len(ok)) and bool((ok.groupby(keys)["n_params"].nunique() >= 2).any())


def numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)


def size_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The ok cases that carry a parameter count, with numeric `n_params` and `points`, whether
    the strategy is adoptable (not the floor), a `network` name (the `layers` option, else the
    parameter count) and `activation_` ("" where the run has none)."""
    from reports.decision import is_floor
    from reports.figures import count_label

    ok = df[(df["status"] == "ok") & df["n_params"].notna()].copy()
    ok["n_params"] = numeric(ok["n_params"])
    ok["points"] = numeric(ok["points"]) if "points" in ok else np.nan
    ok["adoptable"] = [not is_floor(p, s) for p, s in zip(ok["problem"], ok["strategy"])]
    by_count = ok["n_params"].map(lambda n: f"{count_label(n)} parameters")
    ok["network"] = (
        ok["layers"].where(ok["layers"].notna(), by_count).astype(str) if "layers" in ok else by_count
    )
    ok["activation_"] = ok["activation"].fillna("").astype(str) if "activation" in ok else ""
    return ok


def size_contexts(ok: pd.DataFrame):
    """(title, rows) per problem × activation × dtype × device with two or more network sizes."""
    from reports.labels import family

    for (problem, activation, dtype, device), g in ok.groupby(["problem", "activation_", "dtype", "device"]):
        if g["n_params"].nunique() < 2:
            continue
        parts = [family(problem), activation if activation not in ("", "nan") else "", dtype, device]
        yield ", ".join(p for p in parts if p), g


def panels(g: pd.DataFrame, x: str, fixed: str) -> list[tuple[tuple[str, str], float]]:
    """((backend, variant), value of `fixed`) for each panel that has two or more sizes along x."""
    modes = sorted(set(zip(g["backend"], g["variant"])))
    out = []
    for value in sorted(g[fixed].dropna().unique()):
        for backend, variant in modes:
            sub = g[(g["backend"] == backend) & (g["variant"] == variant) & (g[fixed] == value)]
            if sub[x].nunique() >= 2:
                out.append(((backend, variant), value))
    return out
