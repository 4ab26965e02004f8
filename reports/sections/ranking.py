"""Where the ranking changes: time against the network's parameter count and against the number of
points, per strategy, with the crossovers marked and stated in words, and the fastest strategy in
every (network × points) cell. Shown only when a run measured several network sizes (`n_params`
recorded at two or more values: the `layers` sweeps)."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reports.crossover import crossovers, has_size_data, panels, size_contexts, size_frame, winner_grid
from reports.figures import log_axis
from reports.findings import ranking_findings
from reports.html import figure, findings
from reports.labels import format_option, framework
from reports.palette import marker, strategy_colour, strategy_handles
from reports.roles import strategy_order
from reports.text import count_label

ANCHOR, TITLE = "ranking", "Where the ranking changes with size"

NOTE = (
    "<p class='note'>Median time per loss + weight gradient against the network's parameter count (at "
    "fixed points) and against the number of points (at a fixed network), log-log, one line per strategy "
    "(colour as everywhere). <b>×</b> marks a crossover: where the fastest strategy changes, the two "
    "curves cross (interpolated linearly in log-log between the measured sizes). The grid names the "
    "fastest correct AD strategy in every network × points cell.</p>"
)

AXES = {
    "n_params": ("points", "network parameters (log)"),
    "points": ("n_params", "collocation points (log)"),
}
"""Size axis -> (the size held fixed in each panel, axis label)."""


def _fixed_label(g: pd.DataFrame, fixed: str, value: float) -> str:
    if fixed == "points":
        return format_option("points", int(value))
    network = g.loc[g["n_params"] == value, "network"].iloc[0]
    return f"{network} ({count_label(value)} parameters)"


def size_figure(g: pd.DataFrame, x: str):
    """Panels (framework × compile mode) × (each value of the size held fixed), one line per strategy
    against `x`, the crossovers between consecutive winners marked with ×."""
    fixed, xlabel = AXES[x]
    chosen = panels(g, x, fixed)
    if not chosen:
        return None
    ncols = min(len({m for m, _ in chosen}), 3)
    nrows = int(np.ceil(len(chosen) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols + 1.6, 2.9 * nrows), squeeze=False)
    for ax, ((backend, compile_mode), value) in zip(axes.flat, chosen):
        sub = g[(g["backend"] == backend) & (g["compile_mode"] == compile_mode) & (g[fixed] == value)]
        for strategy, s in sub.sort_values(x).groupby("strategy"):
            ax.plot(s[x], s["median_s"], "-", marker=marker(compile_mode), ms=3.5, lw=1.3,
                    color=strategy_colour(strategy), label=strategy)  # fmt: skip
        for c in crossovers(sub[sub["adoptable"]], x):
            if c.x is not None:
                ax.plot(c.x, c.time, "X", color="black", ms=8, markeredgecolor="white", zorder=5)
        log_axis(ax, "y", sub["median_s"])
        log_axis(ax, "x", sub[x], unit="count")
        ax.set_title(f"{framework(backend)} {compile_mode}, {_fixed_label(g, fixed, value)}", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("time per loss+gradient (log)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.remove()
    strategies = strategy_order(list(dict.fromkeys(g["problem"])), set(g["strategy"]))
    fig.legend(
        handles=strategy_handles(strategies), loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    fig.tight_layout()
    return fig


def grid_html(g: pd.DataFrame) -> str:
    """Fastest adoptable strategy per network (rows, with parameter counts) × points (columns),
    one table per framework and compile mode; cells carry the strategy's colour."""
    out = []
    for (backend, compile_mode), m in g[g["adoptable"]].groupby(["backend", "compile_mode"], sort=True):
        grid = winner_grid(m, "points", "n_params")
        if grid.empty:
            continue
        names = m.drop_duplicates("n_params").set_index("n_params")["network"]
        head = "".join(f"<th>{html.escape(format_option('points', int(p)))}</th>" for p in grid.columns)
        rows = []
        for n, row in grid.iterrows():
            cells = "".join(
                f"<td class='text' style='border-left:6px solid {strategy_colour(s)}'>{html.escape(s)}</td>"
                if s
                else "<td>—</td>"
                for s in row
            )
            network = html.escape(str(names.get(n, "")))
            rows.append(f"<tr><td class='text'>{network} ({count_label(n)} parameters)</td>{cells}</tr>")
        out.append(
            f"<h4>Fastest in each cell: {html.escape(framework(backend))} {html.escape(compile_mode)}</h4>"
            f"<table class='ranking'><thead><tr><th class='text'>network</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(out)


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`): along the parameter
    count and along the points, for every context with several network sizes (the page shows
    each context's under its figures)."""
    return ranking_findings(ctx.latest)


def render(ctx) -> str | None:
    latest = ctx.latest
    if not has_size_data(latest):
        return None
    body = NOTE
    for title, g in size_contexts(size_frame(latest)):
        rows = latest[latest.index.isin(g.index)]
        body += f"<h3>{html.escape(title)}</h3>"
        body += figure(size_figure(g, "n_params"), "time against parameters")
        body += findings(ranking_findings(rows, "n_params"), "By parameter count")
        body += figure(size_figure(g, "points"), "time against points")
        body += findings(ranking_findings(rows, "points"), "By number of points")
        body += grid_html(g)
    return body
