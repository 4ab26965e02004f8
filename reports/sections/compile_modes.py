"""Compile modes: what torch.compile (or JAX without jit) changes for each strategy — its speed-up
over the framework's default mode, its compile time and the calls that repay it, and what fails."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from reports.figures import log_axis
from reports.findings import MODE_NAMES, compile_findings, compile_pairs
from reports.html import details, figure, findings, table
from reports.labels import family, framework
from reports.palette import strategy_colour
from reports.roles import strategy_order

ANCHOR, TITLE = "compile-modes", "Compile modes: what compiling changes"

NOTE = (
    "<p class='note'>Speed-up = median time in the framework's default mode (JAX jit, PyTorch eager) / "
    "median time in the other mode, same strategy, instance, dtype and device (right of the line: "
    "faster). The two modes are separate comparison groups, so their spread comes from the medians' "
    "notches. <b>Repaid after</b>: extra compile time / time saved per call.</p>"
)


def speedup_figure(pairs):
    """Dot plot per (mode, instance, dtype, device): strategies × speed-up over the default mode;
    a strategy that fails or is wrong in that mode is named so on its row."""
    pairs = pairs.assign(
        facet=list(
            zip(
                pairs["backend"],
                pairs["compile_mode"],
                pairs["problem"],
                pairs["label"],
                pairs["dtype"],
                pairs["device"],
            )
        )
    )
    facets = [
        f
        for f in dict.fromkeys(pairs.sort_values(["backend", "compile_mode", "problem"])["facet"])
        if pairs.loc[pairs["facet"] == f, "speedup"].notna().any()
    ]
    if not facets:
        return None
    strategies = strategy_order(list(dict.fromkeys(pairs["problem"])), set(pairs["strategy"]))
    ncols = min(2, len(facets))
    nrows = int(np.ceil(len(facets) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(6.4 * ncols, 0.32 * len(strategies) * nrows + 1.0 * nrows + 0.3), squeeze=False
    )
    for ax, key in zip(axes.flat, facets):
        backend, compile_mode, problem, label, dtype, device = key
        sub = pairs[pairs["facet"] == key]
        names = []
        for y, strategy in enumerate(strategies):
            row = sub[sub["strategy"] == strategy]
            name = strategy
            if len(row) and np.isfinite(row["speedup"].iloc[0]):
                r = row.iloc[0]
                ax.plot([r["speedup_lo"], r["speedup_hi"]], [y, y], color=strategy_colour(strategy), lw=1.2)
                ax.plot(r["speedup"], y, "o", color=strategy_colour(strategy), ms=6)
            elif len(row):
                name += f" ({row['status'].iloc[0]})"
            else:
                name += " (not measured)"
            names.append(name)
        ax.axvline(1.0, color="black", lw=0.8)
        finite = sub["speedup"][np.isfinite(sub["speedup"])]
        log_axis(ax, "x", list(finite) + [1.0], unit="ratio")
        ax.set_yticks(range(len(strategies)), names)
        ax.set_ylim(len(strategies) - 0.5, -0.5)
        mode = MODE_NAMES.get((backend, compile_mode), f"{framework(backend)} {compile_mode}")
        ax.set_title(f"{mode}: {family(problem)}, {label}, {dtype}", fontsize=9)
        ax.set_xlabel(f"speed-up over {framework(backend)} default mode (log)")
        ax.set_ylabel("strategy")
        ax.grid(True, axis="x", which="both", alpha=0.3)
    for ax in list(axes.flat)[len(facets) :]:
        ax.remove()
    fig.tight_layout()
    return fig


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    return compile_findings(ctx.latest)


def render(ctx) -> str | None:
    pairs = compile_pairs(ctx.latest)
    if pairs.empty:
        return None
    body = NOTE
    if "speedup" in pairs:
        body += figure(speedup_figure(pairs), "speed-up of each compile mode")
    body += findings(sentences(ctx), "Findings")
    cols = [
        "problem",
        "label",
        "backend",
        "compile_mode",
        "strategy",
        "dtype",
        "device",
        "status",
        "default_s",
        "mode_s",
        "speedup",
        "compile_s",
        "default_compile_s",
        "break_even_calls",
    ]
    body += details("Every pair (default mode vs other mode)", table(pairs, cols, "compile"))
    return body
