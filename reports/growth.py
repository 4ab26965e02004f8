"""How a cost grows with a size n (derivative order k, input dimension d): ratios and two fits.

- exponential: log y = a + b·n, growth factor e^b per unit step of n;
- polynomial:  log y = a + p·log n, degree p (the slope of the log-log plot).

Both are least-squares lines with two parameters, so their R² (on log y) compare directly; the
better fit is the one with the larger R². Fewer than three points fit anything: then no verdict;
a spread below FLAT_SPREAD is "flat".
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reports.runs import load_runs

MIN_POINTS_FOR_VERDICT = 3
FLAT_SPREAD = 1.1
"""max(y)/min(y) below this over the whole range is no growth: the verdict is "flat" (both fits
would be perfect on constant data, and neither means anything on a 10 % spread)."""


@dataclass(frozen=True)
class Fit:
    """A least-squares line through (x, log y): y ≈ exp(intercept) · exp(slope · x)."""

    slope: float
    intercept: float
    r2: float
    points: int


def _line(x: np.ndarray, log_y: np.ndarray) -> Fit:
    slope, intercept = np.polyfit(x, log_y, 1)
    residual = log_y - (intercept + slope * x)
    total = np.sum((log_y - log_y.mean()) ** 2)
    r2 = 1.0 - np.sum(residual**2) / total if total > 0 else 1.0
    return Fit(float(slope), float(intercept), float(r2), len(x))


def _clean(n, y) -> tuple[np.ndarray, np.ndarray]:
    n, y = np.asarray(n, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(n) & np.isfinite(y) & (n > 0) & (y > 0)
    order = np.argsort(n[keep])
    return n[keep][order], y[keep][order]


def exponential_fit(n, y) -> Fit | None:
    """log y = a + b·n (None with fewer than two points); growth factor per step: e^b."""
    n, y = _clean(n, y)
    return _line(n, np.log(y)) if len(n) >= 2 else None


def polynomial_fit(n, y) -> Fit | None:
    """log y = a + p·log n (None with fewer than two points); p is the degree."""
    n, y = _clean(n, y)
    return _line(np.log(n), np.log(y)) if len(n) >= 2 else None


def step_ratios(n, y) -> dict[float, float]:
    """y(n_next) / y(n) for consecutive measured n, keyed by n_next."""
    n, y = _clean(n, y)
    return {float(b): float(y2 / y1) for b, y1, y2 in zip(n[1:], y[:-1], y[1:])}


def growth_summary(n, y) -> dict:
    """Both fits and the verdict: growth factor per step, degree, their R², which fits better."""
    exp, poly = exponential_fit(n, y), polynomial_fit(n, y)
    points = exp.points if exp else 0
    better = "—"
    if exp and poly and points >= MIN_POINTS_FOR_VERDICT:
        _, values = _clean(n, y)
        if values.max() / values.min() < FLAT_SPREAD:
            better = "flat"
        else:
            better = "exponential" if exp.r2 > poly.r2 else "polynomial"
    return {
        "fit_points": points,
        "factor_per_step": math.exp(exp.slope) if exp else float("nan"),
        "r2_exponential": exp.r2 if exp else float("nan"),
        "degree": poly.slope if poly else float("nan"),
        "r2_polynomial": poly.r2 if poly else float("nan"),
        "better_fit": better,
    }


def growth_table(df: pd.DataFrame, n: str, y: str, by: list[str]) -> pd.DataFrame:
    """`growth_summary` of column `y` against column `n` for each group of `by`."""
    rows = []
    for key, group in df.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        summary = growth_summary(group[n], group[y])
        measured = group.loc[group[y].notna(), n]
        rows.append({**dict(zip(by, key)), "range": _range(measured), **summary})
    return pd.DataFrame(rows)


def _range(values) -> str:
    values = sorted({int(v) for v in values if pd.notna(v)})
    return f"{values[0]}–{values[-1]}" if len(values) > 1 else (str(values[0]) if values else "—")


def main(argv=None) -> int:
    """`python -m reports.growth RUN_DIR [...]`: print the fitted growth of every ok case's time
    against the derivative order (derivative-order) and the dimension (poisson, biharmonic)."""
    p = argparse.ArgumentParser(prog="python -m reports.growth", description=main.__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run directories (each with results.jsonl)")
    args = p.parse_args(argv)
    df, _ = load_runs([Path(r) for r in args.runs])
    ok = df[df["status"] == "ok"]
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.precision", 3):
        for problem, x in [("derivative-order", "order"), ("poisson", "dim"), ("biharmonic", "dim")]:
            rows = ok[ok["problem"] == problem]
            if rows.empty or x not in rows:
                continue
            keys = [k for k in ("points", "width", "depth") if k in rows and k != x]
            table = growth_table(rows.assign(**{x: pd.to_numeric(rows[x])}), x, "median_s",
                                 keys + ["backend", "strategy"])  # fmt: skip
            print(f"\n{problem}: median_s against {x}\n{table.to_string(index=False)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
