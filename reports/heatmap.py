"""Strategy × instance heatmaps, one facet per framework (and device), annotated cell by cell.

`cells(rows, value)` turns tidy rows of one problem family into heatmap cells: the value (time
relative to the fastest correct AD strategy of the column, or any other column) for `ok` cases, a
word for the others ("wrong", "failed", "n/a" …). `heatmap_figure(cells, ...)` draws them: a
facet per framework × device that has data (never an empty facet), columns = instance · dtype ·
compile mode, rows = the catalogue's strategies in catalogue order, the floor last.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.ticker import FuncFormatter, NullFormatter

from backends import DEFAULT_COMPILE_MODE
from reports.figures import FORMATTERS, power_of_two_ticks
from reports.labels import framework
from reports.verdict import GROUP, Verdict

STATUS_WORDS = {
    "wrong": "wrong",
    "failed": "failed",
    "crashed": "crashed",
    "over budget": "budget",
    "out of memory": "OOM",
    "unsupported": "n/a",
    "skipped": "skipped",
}
BAD = {"wrong", "failed", "crashed", "over budget", "out of memory"}
BAD_COLOUR = "#f2b8b5"
NA_COLOUR = "#eeeeee"
CELL_H = 0.3
"""Inches per strategy row."""


def relative_time(rows: pd.DataFrame, items: list[Verdict]) -> pd.Series:
    """median / the median of the leader of its comparison group's verdict (`items`), so the
    cell at 1 is the strategy the decision recommends (NaN where the group has no leader)."""
    if rows.empty:
        return pd.Series(dtype=float)
    best = {"\x1f".join(map(str, v.key)): v.median_s for v in items if v.leader is not None}
    group = rows[GROUP].astype(str).agg("\x1f".join, axis=1)
    return rows["median_s"] / group.map(best).astype(float)


def cells(rows: pd.DataFrame, value: pd.Series, text) -> pd.DataFrame:
    """Heatmap cells of one family: facet, column label, strategy, value, the annotation
    (`text(value)` for ok cases, the status word for the others) and whether it is best."""
    several_devices = rows["device"].nunique() > 1
    compile_modes = rows.groupby("backend")["compile_mode"].nunique()
    out = []
    for i, r in rows.iterrows():
        facet = framework(r["backend"]) + (f" · {r['device']}" if several_devices else "")
        lines = [r["label_lines"], str(r["dtype"])]
        if compile_modes.get(r["backend"], 1) > 1:
            lines.append(str(r["compile_mode"]))
        v = value.get(i, math.nan)
        ok = r["status"] == "ok" and v is not None and np.isfinite(v)
        out.append(
            {
                "facet": facet,
                "facet_key": (r["device"], r["backend"]),
                "column": "\n".join(lines),
                "column_key": (
                    r["order_key"],
                    str(r["dtype"]),
                    DEFAULT_COMPILE_MODE.get(r["backend"]) != r["compile_mode"],
                    str(r["compile_mode"]),
                ),
                "strategy": r["strategy"],
                "status": r["status"],
                "value": v if ok else math.nan,
                "text": text(v) if ok else STATUS_WORDS.get(r["status"], str(r["status"])),
            }
        )
    return pd.DataFrame(out)


def heatmap_figure(
    data: pd.DataFrame,
    strategies: list[str],
    norm,
    cmap: str,
    colorbar_label: str,
    floors: set[str] = frozenset(),
    best_value: float | None = 1.0,
    unit: str = "ratio",
):
    """The annotated heatmap: one facet per (device, framework) present, side by side."""
    facets = sorted(data["facet_key"].unique())
    columns = {f: sorted(data.loc[data["facet_key"] == f, "column_key"].unique()) for f in facets}
    column_text = {(c["facet_key"], c["column_key"]): c["column"] for _, c in data.iterrows()}
    labels = {f: {k: column_text[(f, k)] for k in columns[f]} for f in facets}
    longest = max(len(line) for f in facets for text in labels[f].values() for line in text.split("\n"))
    cell_w = max(0.72, 0.072 * longest + 0.12)
    n_lines = max(text.count("\n") + 1 for f in facets for text in labels[f].values())
    widths = [len(columns[f]) * cell_w for f in facets]
    label_w = 0.075 * max(len(s) + (8 if s in floors else 0) for s in strategies) + 0.5
    fig_w = sum(widths) + label_w + 0.45 * len(facets) + 1.4
    fig_h = CELL_H * len(strategies) + 0.17 * n_lines + 1.0
    fig = plt.figure(figsize=(fig_w, fig_h))
    grid = fig.add_gridspec(
        1, len(facets) + 1, width_ratios=widths + [0.18 * 1.2], wspace=0.08 / max(1, len(facets))
    )
    cmap_obj = plt.get_cmap(cmap)
    first = None
    for j, f in enumerate(facets):
        ax = fig.add_subplot(grid[0, j], sharey=first)
        first = first or ax
        sub = data[data["facet_key"] == f]
        keys = columns[f]
        rgba = np.ones((len(strategies), len(keys), 4))
        for _, c in sub.iterrows():
            if c["strategy"] not in strategies:
                continue
            y, x = strategies.index(c["strategy"]), keys.index(c["column_key"])
            if np.isfinite(c["value"]):
                rgba[y, x] = cmap_obj(norm(c["value"]))
            else:
                rgba[y, x] = mcolors.to_rgba(BAD_COLOUR if c["status"] in BAD else NA_COLOUR)
            colour = _text_colour(rgba[y, x])
            is_best = (
                best_value is not None
                and np.isfinite(c["value"])
                and c["strategy"] not in floors
                and abs(c["value"] - best_value) < 1e-12
            )
            ax.text(
                x,
                y,
                c["text"],
                ha="center",
                va="center",
                fontsize=7.5,
                color=colour,
                fontweight="bold" if is_best else "normal",
                style="italic" if c["strategy"] in floors else "normal",
            )
        ax.imshow(rgba, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(keys)), [labels[f][k] for k in keys], fontsize=7.5)
        ax.set_yticks(range(len(strategies)), [s + (" (floor)" if s in floors else "") for s in strategies])
        ax.tick_params(length=0)
        ax.vlines(np.arange(0.5, len(keys) - 1), -0.5, len(strategies) - 0.5, color="white", lw=1.5)
        ax.hlines(np.arange(0.5, len(strategies) - 1), -0.5, len(keys) - 0.5, color="white", lw=1.5)
        ax.set_xlim(-0.5, len(keys) - 0.5)
        ax.set_ylim(len(strategies) - 0.5, -0.5)
        ax.xaxis.tick_top()
        ax.set_title(_facet_title(sub), fontsize=9, pad=6 + 11 * n_lines)
        ax.set_xlabel("instance · dtype · compile mode", fontsize=8)
        if j == 0:
            ax.set_ylabel("strategy")
        else:
            ax.tick_params(labelleft=False)
        for spine in ax.spines.values():
            spine.set_visible(False)
    cax = fig.add_subplot(grid[0, -1])
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap_obj), cax=cax)
    bar.set_label(colorbar_label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if unit == "bytes":
        bar.set_ticks(power_of_two_ticks(norm.vmin, norm.vmax))
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: FORMATTERS[unit](v)))
    bar.ax.yaxis.set_minor_formatter(NullFormatter())
    return fig


def _facet_title(sub: pd.DataFrame) -> str:
    return sub["facet"].iloc[0]


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def relative_text(value: float) -> str:
    """Annotation of a time ratio: "1.0", "2.3", "18", "1.2k"."""
    if value >= 999.5:
        return f"{value / 1000:.1f}k"
    if value >= 9.95:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 1.095 else f"{value:.2f}"


def relative_norm(values: pd.Series):
    """Log colour scale from the smallest ratio shown (≤ 1) to at least 10×."""
    finite = values[np.isfinite(values) & (values > 0)]
    lo = min(1.0, float(finite.min())) if len(finite) else 1.0
    hi = max(10.0, float(finite.max())) if len(finite) else 10.0
    return mcolors.LogNorm(vmin=lo, vmax=hi)
