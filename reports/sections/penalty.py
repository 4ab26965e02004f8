"""The seed penalty: time per strategy (a dot per framework and compile mode, IQR whiskers, one
panel per size and dtype) and time against the number of points, with the findings in words."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from reports.figures import log_axis
from reports.findings import penalty_findings
from reports.html import figure, findings
from reports.labels import config_of, framework
from reports.palette import linestyle, marker, strategy_colour, strategy_handles
from reports.roles import is_floor, strategy_order

ANCHOR, TITLE = "penalty", "Seed penalty: time per strategy"
PROBLEM = "penalty"

NOTE = (
    "<p class='note'>Median time of one loss + weight-gradient evaluation (timed region only; compile "
    "time is in the decision table and the data), whiskers from the first to the third quartile of the "
    "per-call times. Colour: strategy (the same in every figure); marker: framework and compile mode. "
    "The floor (hand-derived, no AD) is drawn in black as a reference.</p>"
)


def _series(df):
    return df["backend"] + " " + df["compile_mode"]


def time_figure(ok):
    """Dot plot per (size, dtype, device) panel: strategies × time, one marker per framework/mode."""
    ok = ok.assign(panel_key=list(zip(ok["order_key"], ok["dtype"], ok["device"])))
    panels = sorted(ok["panel_key"].unique())
    strategies = strategy_order([PROBLEM], set(ok["strategy"]))
    series = sorted(set(_series(ok)))
    several_devices = ok["device"].nunique() > 1
    ncols = min(2, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(6.2 * ncols, 0.34 * len(strategies) * nrows + 1.1 * nrows + 0.4),
        squeeze=False,
        sharey=True,
    )
    step = 0.6 / max(1, len(series))
    for ax, key in zip(axes.flat, panels):
        sub = ok[ok["panel_key"] == key]
        for j, name in enumerate(series):
            rows = sub[_series(sub) == name]
            for _, r in rows.iterrows():
                y = strategies.index(r["strategy"]) - 0.3 + (j + 0.5) * step
                colour = strategy_colour(r["strategy"])
                q1, q3 = r.get("q1_s"), r.get("q3_s")
                if q1 is not None and q3 is not None and np.isfinite(q1) and np.isfinite(q3):
                    ax.plot([q1, q3], [y, y], color=colour, lw=1.2)
                ax.plot(
                    r["median_s"],
                    y,
                    marker(r["compile_mode"]),
                    color=colour,
                    ms=5.5,
                    markeredgecolor="black" if r["backend"] == "torch" else colour,
                )
        log_axis(ax, "x", sub["median_s"])
        first = sub.iloc[0]
        title = f"{first['label']}, {first['dtype']}" + (f", {first['device']}" if several_devices else "")
        ax.set_title(title)
        ax.set_xlabel("median time per loss+gradient (log)")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("strategy")
    for ax in list(axes.flat)[len(panels) :]:
        ax.remove()
    axes.flat[0].set_yticks(
        range(len(strategies)), [s + (" (floor)" if is_floor(PROBLEM, s) else "") for s in strategies]
    )
    axes.flat[0].set_ylim(len(strategies) - 0.5, -0.5)
    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker=marker(name.split()[1]),
            color="grey",
            markeredgecolor="black" if name.startswith("torch") else "grey",
            label=f"{framework(name.split()[0])} {name.split()[1]}",
        )
        for name in series
    ]
    fig.legend(
        handles=handles, loc="upper center", ncol=len(handles), bbox_to_anchor=(0.5, 0.0), frameon=False
    )
    fig.tight_layout()
    return fig


def scaling_figure(ok):
    """Log-log time against points, a facet per framework × compile mode × dtype (× device) that
    has data, one line per strategy (strategies measured at two sizes or more)."""
    keys = ["backend", "strategy", "dtype", "device", "compile_mode"]
    data = ok[ok.groupby(keys)["points"].transform("nunique") >= 2]
    if data.empty:
        return None
    facets = sorted(set(zip(data["backend"], data["compile_mode"], data["dtype"], data["device"])))
    several_devices = data["device"].nunique() > 1
    ncols = min(3, len(facets))
    nrows = int(np.ceil(len(facets) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.3 * ncols + 1.6, 3.1 * nrows), squeeze=False)
    for ax, (backend, compile_mode, dtype, device) in zip(axes.flat, facets):
        sub = data[
            (data["dtype"] == dtype)
            & (data["device"] == device)
            & (data["backend"] == backend)
            & (data["compile_mode"] == compile_mode)
        ]
        for strategy, g in sub.sort_values("points").groupby("strategy"):
            ax.plot(
                g["points"],
                g["median_s"],
                linestyle(backend),
                marker=marker(compile_mode),
                ms=4,
                color=strategy_colour(strategy),
                label=strategy,
            )
        log_axis(ax, "y", sub["median_s"])
        log_axis(ax, "x", sub["points"], unit="count")
        ax.set_title(
            f"{framework(backend)} {compile_mode}, {dtype}" + (f", {device}" if several_devices else "")
        )
        ax.set_xlabel("collocation points (log)")
        ax.set_ylabel("time per loss+gradient (log)")
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(facets) :]:
        ax.remove()
    strategies = strategy_order([PROBLEM], set(data["strategy"]))
    fig.legend(
        handles=strategy_handles(strategies), loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    fig.tight_layout()
    return fig


def main_network(ok: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of one network (its options other than points): the seed network where the run
    has it, else the smallest; and how many other networks the run measured (the ranking section
    shows them all)."""
    configs = ok["instance"].map(lambda i: config_of(i, "points"))
    sizes = (
        pd.to_numeric(ok["n_params"], errors="coerce") if "n_params" in ok else pd.Series(0, index=ok.index)
    )
    order = sorted(set(configs), key=lambda c: ("net " in c, sizes[configs == c].min(), c))
    return ok[configs == order[0]], len(order) - 1


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`): the main network's;
    the other networks' rankings are the ranking section's."""
    ok = ctx.ok[ctx.ok["problem"] == PROBLEM]
    return penalty_findings(main_network(ok)[0]) if len(ok) else []


def render(ctx) -> str | None:
    ok = ctx.ok[ctx.ok["problem"] == PROBLEM]
    if ok.empty:
        return None
    ok, others = main_network(ok)
    body = NOTE
    if others:
        label = config_of(ok["instance"].iloc[0], "points") or "the seed network"
        body += (
            f"<p class='note'>This section shows {html.escape(label)}; the run measured {others} other "
            "network(s): see <a href='#ranking'>Where the ranking changes with size</a>.</p>"
        )
    body += figure(time_figure(ok), "time per strategy")
    body += findings(sentences(ctx), "Findings")
    scaling = scaling_figure(ok)
    if scaling is not None:
        body += "<h3>Time against the number of points</h3>" + figure(scaling, "time against points")
    return body
