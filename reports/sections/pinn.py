"""PINN operators: cost of the Poisson (Δ) and biharmonic (Δ²) residual losses against the input
dimension d, per strategy and framework, with the fitted polynomial degree in d."""

from __future__ import annotations

import html

import pandas as pd

from reports.findings import pinn_findings
from reports.growth import growth_table
from reports.html import details, figure, findings, table
from reports.sections.order_scaling import config_label, log_panels, series_frame, status_grid

ANCHOR, TITLE = "pinn", "PINN operators: Laplacian and biharmonic against dimension"
PROBLEMS = {"poisson": "Poisson: mean (Δu + f)²", "biharmonic": "biharmonic: mean (Δ²u − f)²"}

NOTE = (
    "<p class='note'>u: ℝᵈ → ℝ is a tanh MLP; f comes from u*(x) = Σᵢ sin(πxᵢ). The weight gradient "
    "is always reverse mode; the strategies differ in how the operator is taken: nested Hessians "
    "(<b>nested-rev</b> = reverse over reverse, <b>fwd-over-rev</b> = jax.hessian / "
    "torch.func.hessian, <b>nested-fwd</b>), standard Taylor mode over basis directions "
    "(<b>taylor</b>), collapsed Taylor mode (<b>collapsed-taylor</b>, jet-for-pytorch) and the "
    "forward Laplacian (<b>forward-laplacian</b>, folx, JAX), finite differences, and the stochastic "
    "<b>hutchinson</b> estimator (its error against the exact loss is statistical, bounded by its "
    "measured variance; see the estimator table). Log-log axes: a straight line of slope p is "
    "cost ∝ dᵖ; the fitted degree p (least squares on log time against log d) is in the table. "
    "Colour: strategy; solid lines: JAX, dashed: PyTorch.</p>"
)


def estimator_table(df: pd.DataFrame) -> str:
    cols = [
        "series",
        "dim",
        "estimator_samples",
        "estimator_rel_std",
        "estimator_loss_rel_err",
        "value_rel_err",
        "grad_rel_err",
        "tolerance",
    ]
    rows = df[(df["strategy"] == "hutchinson") & (df["status"] == "ok")]
    if rows.empty or "estimator_rel_std" not in rows:
        return ""
    note = (
        "<p class='note'><b>estimator_rel_std</b>: standard deviation of the per-point estimate "
        "(sample variance over the directions / samples) relative to the RMS of the exact operator; "
        "<b>grad_rel_err</b>: the estimated gradient's error against the exact one; "
        "<b>tolerance</b>: |bias| + 5σ of that error, from the same samples.</p>"
    )
    return "<h4>Stochastic estimator</h4>" + note + table(rows.sort_values(["series", "dim"]), cols)


def time_table(ok: pd.DataFrame) -> pd.DataFrame:
    t = ok.pivot_table(index="series", columns="dim", values="median_s", aggfunc="first")
    t.columns = [f"d={int(c)} median_s" for c in t.columns]
    return t.reset_index()


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    return pinn_findings(ctx.latest)


def render(ctx) -> str | None:
    df_all = ctx.latest[ctx.latest["problem"].isin(list(PROBLEMS))]
    if "dim" in df_all:  # runs that name the network by `layers` alone record no dim: not a dim sweep
        df_all = df_all[df_all["dim"].notna()]
    if df_all.empty or "dim" not in df_all:
        return None
    df_all = series_frame(df_all, "dim")
    keys = [k for k in ["width", "depth", "points", "samples", "layers", "activation"] if k in df_all]
    df_all["config"] = [PROBLEMS[r["problem"]] + " — " + config_label(r, keys) for _, r in df_all.iterrows()]
    body = NOTE + findings(sentences(ctx), "Findings")
    for config, group in df_all.groupby("config", sort=True):
        ok = group[group["status"] == "ok"]
        body += f"<h3>{html.escape(config)}</h3>"
        body += figure(log_panels(ok, "dim", "input dimension d (log)", logx=True), "cost against dimension")
        grid = status_grid(group, "dim")
        tables = "<h4>Status of every case</h4>" + table(grid, list(grid.columns))
        if not ok.empty:
            times = time_table(ok)
            tables += "<h4>Time per loss+gradient</h4>" + table(times, list(times.columns))
            frames = []
            for q in ["median_s", "peak_memory_bytes"]:
                if q in ok and ok[q].notna().any():
                    fit = growth_table(ok[ok[q].notna()], "dim", q, ["series"])
                    fit.insert(1, "quantity", q)
                    frames.append(
                        fit[["series", "quantity", "range", "fit_points", "degree", "r2_polynomial"]]
                    )
            if frames:
                fits = pd.concat(frames, ignore_index=True)
                tables += "<h4>Fitted growth in d (cost ∝ d^degree)</h4>" + table(fits, list(fits.columns))
            tables += estimator_table(group)
        body += details("Statuses, times, fitted degrees and the stochastic estimator", tables)
    return body
