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
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from backends import DEFAULT_VARIANT
from reports.growth import growth_table, step_ratios
from reports.html import figure_png, img, table

ANCHOR, TITLE = "order-scaling", "Order scaling: k-th input derivatives"
PROBLEM = "derivative-order"
LINESTYLE = {"jax": "-", "torch": "--"}

QUANTITIES = {
    "median_s": "time per loss+gradient [s]",
    "compile_s": "compile time (build + first call) [s]",
    "peak_memory_bytes": "peak extra memory [bytes] (resident high-water mark)",
    "xla_temp_bytes": "JAX: XLA's planned scratch memory [bytes]",
    "program_size": "program size: HLO instructions (JAX) / autograd nodes (PyTorch)",
}

NOTE = (
    "<p class='note'>L(θ) = Σₓ (∂ᵏU₁/∂x₁ᵏ([x, 1]))² and its weight gradient (always reverse mode); "
    "the strategies differ in how the k-th input derivative is taken. Solid lines: JAX (jit), "
    "dashed: PyTorch (eager). Every plotted case passed the float64 reference check first. "
    "<b>Fits</b> (least squares on log y, per strategy): exponential log y = a + b·k, reported as the "
    "growth factor e<sup>b</sup> per order; polynomial log y = a + p·log k, reported as the degree "
    "p; the better fit is the one with the larger R² (both have two parameters). Cases over the "
    "time budget are listed in the status grid and are absent from the fits, so a fit over fewer "
    "orders understates growth. Sub-millisecond times on a shared machine vary by 30–80 % between "
    "runs: read ratios within one run.</p>"
)


def series_frame(df: pd.DataFrame, x: str) -> pd.DataFrame:
    """Rows with a `series` label (backend strategy [variant]) and a unified `program_size`."""
    df = df.copy()
    non_default = df["variant"] != df["backend"].map(DEFAULT_VARIANT)
    suffix = np.where(non_default, " [" + df["variant"] + "]", "")
    df["series"] = df["backend"] + " " + df["strategy"] + suffix
    jax_size = df["program_ops"] if "program_ops" in df else np.nan
    torch_size = df["autograd_nodes"] if "autograd_nodes" in df else np.nan
    df["program_size"] = np.where(df["backend"] == "jax", jax_size, torch_size)
    df[x] = pd.to_numeric(df[x], errors="coerce")
    return df


def config_label(row, keys: list[str]) -> str:
    parts = [f"{k}={int(row[k]) if isinstance(row[k], float) and row[k].is_integer() else row[k]}"
             for k in keys if k in row and pd.notna(row[k])]  # fmt: skip
    return ", ".join(parts + [str(row["dtype"]), str(row["device"])])


def log_panels(ok: pd.DataFrame, x: str, xlabel: str, logx: bool) -> str | None:
    """One panel per quantity present, one line per series (colour: strategy, style: backend)."""
    quantities = [q for q in QUANTITIES if q in ok and ok[q].notna().any()]
    if ok.empty or not quantities:
        return None
    strategies = sorted(ok["strategy"].unique())
    palette = dict(zip(strategies, sns.color_palette("colorblind", len(strategies))))
    ncols = 2
    nrows = int(np.ceil(len(quantities) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(12, 3.8 * nrows), squeeze=False)
    for ax, q in zip(axes.flat, quantities):
        for series, g in ok.sort_values(x).groupby("series"):
            g = g[g[q].notna() & (g[q] > 0)]
            if g.empty:
                continue
            backend, strategy = g["backend"].iloc[0], g["strategy"].iloc[0]
            ax.plot(g[x], g[q], LINESTYLE.get(backend, ":"), marker="o", ms=4, color=palette[strategy],
                    label=series)  # fmt: skip
        ax.set_yscale("log")
        if logx:
            ax.set_xscale("log", base=2)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(xlabel)
        ax.set_title(QUANTITIES[q], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for ax in list(axes.flat)[len(quantities) :]:
        ax.set_visible(False)
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.06 + 0.02 * (len(labels) // 4), 1, 1))
    return figure_png(fig)


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
    abbreviations = {"ok": "ok", "over budget": "budget", "unsupported": "—", "failed": "failed",
                     "wrong": "WRONG", "crashed": "crashed", "skipped": "skip"}  # fmt: skip
    grid = df.assign(s=df["status"].map(abbreviations).fillna(df["status"]))
    grid = grid.pivot_table(index="series", columns=x, values="s", aggfunc="first")
    grid.columns = [f"{x}={int(c)}" for c in grid.columns]
    return grid.reset_index()


def render_group(df_all: pd.DataFrame, ok: pd.DataFrame, x: str, xlabel: str, logx: bool) -> str:
    body = ""
    png = log_panels(ok, x, xlabel, logx)
    if png:
        body += img(png, f"cost against {x}")
    grid = status_grid(df_all, x)
    body += "<h4>Status of every case</h4>" + table(grid, list(grid.columns))
    if not ok.empty:
        ratios = ratio_table(ok, x, x if x != "order" else "k")
        body += f"<h4>Time ratio per step of {html.escape(x)}</h4>" + table(ratios, list(ratios.columns))
        fits = fit_tables(ok, x)
        if not fits.empty:
            body += "<h4>Fitted growth</h4>" + table(fits, list(fits.columns), "fits")
    return body


def render(ctx) -> str | None:
    df_all = ctx.latest[ctx.latest["problem"] == PROBLEM]
    if df_all.empty or "order" not in df_all:
        return None
    df_all = series_frame(df_all, "order")
    keys = [k for k in ["points", "width", "depth"] if k in df_all]
    df_all["config"] = [config_label(r, keys) for _, r in df_all.iterrows()]
    body = NOTE
    for config, group in df_all.groupby("config", sort=True):
        ok = group[group["status"] == "ok"]
        body += f"<h3>{html.escape(config)}</h3>"
        body += render_group(group, ok, "order", "derivative order k", logx=False)
    return body
