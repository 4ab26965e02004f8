"""Cost of each strategy beyond time: peak memory per strategy and instance (a heatmap per problem
family), and the gradient-over-loss ratio; the full cost table is in the data section."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib import colors as mcolors

from reports.findings import memory_findings
from reports.heatmap import cells, heatmap_figure
from reports.html import figure, findings
from reports.roles import is_floor, strategy_order
from reports.text import bytes_label

ANCHOR, TITLE = "cost", "Memory and cost ratios"

NOTE = (
    "<p class='note'><b>Peak memory</b>: extra memory at the peak of one evaluation (CPU: the kernel's "
    "resident high-water mark after malloc_trim and a reset, so small values are page-rounded; CUDA: the "
    "allocator's peak), the largest of three calls, measured the same way for both frameworks; for JAX, "
    "XLA's planned scratch memory (<b>xla_temp_bytes</b>, in the data) is a cross-check. "
    "<b>grad/loss</b> = time(loss + weight gradient) / time(loss alone) with the same input-derivative "
    "method (the cheap-gradient principle predicts a small constant for reverse mode); <b>× floor</b> = "
    "time / the fastest hand-derived case of the same instance, device and dtype. Both are in the cost "
    "table under <a href='#data'>Data</a>.</p>"
)


def memory_figure(rows: pd.DataFrame):
    """Peak memory heatmap of one family's rows (None when no case recorded memory)."""
    values = pd.to_numeric(rows.get("peak_memory_bytes"), errors="coerce")
    finite = values[(rows["status"] == "ok") & (values > 0)]
    if finite.empty:
        return None
    problems = list(dict.fromkeys(rows["problem"]))
    strategies = strategy_order(problems, set(rows["strategy"]))
    floors = {s for s in strategies if any(is_floor(p, s) for p in problems)}
    data = cells(rows, values.where(values > 0), bytes_label)
    norm = mcolors.LogNorm(vmin=float(finite.min()), vmax=max(float(finite.max()), 10 * float(finite.min())))
    return heatmap_figure(
        data, strategies, norm, "Blues", "peak extra memory (log)", floors, best_value=None, unit="bytes"
    )


def grad_over_loss_findings(ok: pd.DataFrame) -> list[str]:
    """Median grad/loss per strategy and family: what the weight gradient costs over the loss."""
    out = []
    if "grad_over_loss" not in ok:
        return out
    for fam, g in ok.sort_values("order_key", kind="stable").groupby("family", sort=False):
        values = pd.to_numeric(g["grad_over_loss"], errors="coerce").replace([np.inf, -np.inf], np.nan)
        ratios = values.groupby(g["strategy"]).median().dropna().sort_values()
        if len(ratios):
            items = ", ".join(f"{s} {v:.1f}" for s, v in ratios.items())
            out.append(f"{fam}, grad/loss (median over its cases): {items}.")
    return out


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    return memory_findings(ctx.latest) + grad_over_loss_findings(ctx.ok) if len(ctx.ok) else []


def render(ctx) -> str | None:
    latest = ctx.latest
    if ctx.ok.empty:
        return None
    body = NOTE + findings(sentences(ctx), "Findings")
    for fam, rows in latest.sort_values("order_key", kind="stable").groupby("family", sort=False):
        fig = memory_figure(rows)
        if fig is not None:
            body += f"<h3>{html.escape(fam)}: peak memory</h3>" + figure(fig, f"{fam}: peak memory")
    return body
