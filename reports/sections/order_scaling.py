"""Order scaling: cost of the k-th input derivative against k, per strategy and framework.

Log-scale time, compile time, peak memory and program size against k; the per-order ratio
time(k)/time(k−1); and two fits per strategy (exponential: growth factor per order; polynomial:
degree in k), each with its R², from `reports.growth`.
"""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from reports.figures import log_axis
from reports.findings import order_findings
from reports.growth import growth_table, step_ratios
from reports.html import details, figure, findings, table
from reports.labels import framework, series_label
from reports.palette import framework_handles, linestyle, marker, strategy_colour, strategy_handles
from reports.roles import strategy_order

ANCHOR, TITLE = "order-scaling", "Order scaling: k-th input derivatives"
PROBLEM = "derivative-order"
QUANTITIES = {
    "median_s": ("time per loss+gradient", "time (log)", "seconds"),
    "compile_s": ("compile time (build + first call)", "compile time (log)", "seconds"),
    "peak_memory_bytes": ("peak extra memory (resident high-water mark)", "memory (log)", "bytes"),
    "xla_temp_bytes": ("JAX: XLA's planned scratch memory", "memory (log)", "bytes"),
    "program_size": ("program size: HLO ops (JAX) / autograd nodes (PyTorch)", "operations (log)", "count"),
}
"""Quantity -> (panel title, axis label, unit of its tick labels)."""

NOTE = (
    "<p class='note'>L(θ) = Σₓ (∂ᵏU₁/∂x₁ᵏ([x, 1]))² and its weight gradient (always reverse mode); "
    "the strategies differ in how the k-th input derivative is taken. Colour: strategy; solid lines: "
    "JAX, dashed: PyTorch. Every plotted case passed the float64 reference check first. "
    "<b>Fits</b> (least squares on log y, per strategy): exponential log y = a + b·k, reported as the "
    "growth factor e<sup>b</sup> per order; polynomial log y = a + p·log k, reported as the degree "
    "p; the better fit is the one with the larger R² (both have two parameters). Cases over the "
    "time budget are listed in the status grid and are absent from the fits, so a fit over fewer "
    "orders understates growth. Sub-millisecond times on a shared machine vary by 30–80 % between "
    "runs: read ratios within one run.</p>"
)


def series_frame(df: pd.DataFrame, x: str) -> pd.DataFrame:
    """Rows with a `series` label ("JAX taylor", "PyTorch nested-rev [compile]") and a unified
    `program_size` (HLO instructions for JAX, autograd nodes for PyTorch)."""
    df = df.copy()
    df["series"] = [
        series_label(b, s, v) for b, s, v in zip(df["backend"], df["strategy"], df["compile_mode"])
    ]
    jax_size = df["program_ops"] if "program_ops" in df else np.nan
    torch_size = df["autograd_nodes"] if "autograd_nodes" in df else np.nan
    df["program_size"] = np.where(df["backend"] == "jax", jax_size, torch_size)
    df[x] = pd.to_numeric(df[x], errors="coerce")
    return df


def config_label(row, keys: list[str]) -> str:
    parts = [
        f"{k}={int(row[k]) if isinstance(row[k], float) and row[k].is_integer() else row[k]}"
        for k in keys
        if k in row and pd.notna(row[k])
    ]
    return ", ".join(parts + [str(row["dtype"]), str(row["device"])])


def log_panels(ok: pd.DataFrame, x: str, xlabel: str, logx: bool):
    """One panel per quantity present, one line per series: colour = strategy, line style =
    framework, marker = compile mode; log y with units in the tick labels."""
    quantities = [q for q in QUANTITIES if q in ok and pd.to_numeric(ok[q], errors="coerce").gt(0).any()]
    if ok.empty or not quantities:
        return None
    ncols = min(2, len(quantities))
    nrows = int(np.ceil(len(quantities) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.0 * ncols + 1.8, 3.3 * nrows), squeeze=False)
    for ax, q in zip(axes.flat, quantities):
        values = pd.to_numeric(ok[q], errors="coerce")
        for series, g in ok.assign(_v=values).sort_values(x).groupby("series"):
            g = g[g["_v"].notna() & (g["_v"] > 0)]
            if g.empty:
                continue
            r = g.iloc[0]
            ax.plot(
                g[x],
                g["_v"],
                linestyle(r["backend"]),
                marker=marker(r["compile_mode"]),
                ms=4,
                color=strategy_colour(r["strategy"]),
                label=series,
            )
        title, ylabel, unit = QUANTITIES[q]
        log_axis(ax, "y", values[values > 0], unit=unit)
        if logx:
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"{v:g}"))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(quantities) :]:
        ax.remove()
    problems = list(dict.fromkeys(ok["problem"]))
    handles = strategy_handles(strategy_order(problems, set(ok["strategy"])))
    handles += framework_handles(sorted(set(ok["backend"])), {b: framework(b) for b in set(ok["backend"])})
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def ratio_table(ok: pd.DataFrame, x: str, label: str) -> pd.DataFrame:
    """time(x)/time(previous x) per series, one column per step."""
    rows = []
    for series, g in ok.groupby("series"):
        ratios = step_ratios(g[x], g["median_s"])
        rows.append({"series": series, **{f"{label}→{int(k)}": r for k, r in ratios.items()}})
    out = pd.DataFrame(rows)
    cols = ["series"] + sorted([c for c in out.columns if c != "series"], key=lambda c: int(c.split("→")[1]))
    return out[cols] if not out.empty else out


def fit_tables(ok: pd.DataFrame, x: str) -> pd.DataFrame:
    frames = []
    for q in ["median_s", "compile_s", "program_size", "peak_memory_bytes", "xla_temp_bytes"]:
        if q in ok and ok[q].notna().any():
            t = growth_table(ok[ok[q].notna()], x, q, ["series"])
            t.insert(1, "quantity", q)
            frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def status_grid(df: pd.DataFrame, x: str) -> pd.DataFrame:
    """Status of every case (series × x): shows where strategies stop (over budget, failed ...)."""
    abbreviations = {
        "ok": "ok",
        "over budget": "budget",
        "unsupported": "—",
        "failed": "failed",
        "wrong": "WRONG",
        "crashed": "crashed",
        "skipped": "skip",
    }
    grid = df.assign(s=df["status"].map(abbreviations).fillna(df["status"]))
    grid = grid.pivot_table(index="series", columns=x, values="s", aggfunc="first")
    grid.columns = [f"{x}={int(c)}" for c in grid.columns]
    return grid.reset_index()


def render_group(df_all: pd.DataFrame, ok: pd.DataFrame, x: str, xlabel: str, logx: bool) -> str:
    body = figure(log_panels(ok, x, xlabel, logx), f"cost against {x}")
    tables = ""
    grid = status_grid(df_all, x)
    tables += "<h4>Status of every case</h4>" + table(grid, list(grid.columns))
    if not ok.empty:
        ratios = ratio_table(ok, x, x if x != "order" else "k")
        tables += f"<h4>Time ratio per step of {html.escape(x)}</h4>" + table(ratios, list(ratios.columns))
        fits = fit_tables(ok, x)
        if not fits.empty:
            tables += "<h4>Fitted growth</h4>" + table(fits, list(fits.columns), "fits")
    return body + details("Statuses, step ratios and fitted growth", tables)


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    return order_findings(ctx.latest)


def render(ctx) -> str | None:
    df_all = ctx.latest[ctx.latest["problem"] == PROBLEM]
    if df_all.empty or "order" not in df_all:
        return None
    df_all = series_frame(df_all, "order")
    keys = [k for k in ["points", "width", "depth", "layers", "activation"] if k in df_all]
    df_all["config"] = [config_label(r, keys) for _, r in df_all.iterrows()]
    body = NOTE + findings(sentences(ctx), "Findings")
    for config, group in df_all.groupby("config", sort=True):
        ok = group[group["status"] == "ok"]
        body += f"<h3>{html.escape(config)}</h3>"
        body += render_group(group, ok, "order", "derivative order k", logx=False)
    return body
