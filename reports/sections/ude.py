"""The Lotka–Volterra UDE: where a training step's time goes, and how training runs compare.

Two sources: the `lv-ude` cases of the tidy frame (loss+gradient with its parts: forward solve,
data misfit's value+gradient through the solve, penalty's value+gradient) and, from each run
directory, `training.csv` / `training.jsonl` written by `python -m bench.train`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from backends import DEFAULT_COMPILE_MODE
from reports.figures import log_axis
from reports.findings import ude_findings
from reports.html import details, figure, findings, table
from reports.labels import framework

ANCHOR, TITLE = "ude", "Lotka–Volterra UDE: training step and training runs"
PROBLEM = "lv-ude"
CONFIG = ["backend", "ode", "solver", "sensitivity", "compile_mode", "dtype", "device"]
PARTS = {
    "median_s": "whole loss+gradient",
    "ode_median_s": "data misfit value+gradient (ODE)",
    "penalty_median_s": "penalty value+gradient",
    "solve_median_s": "forward solve alone",
}
PART_SHADES = ("#222222", "#666666", "#a6a6a6", "#d9d9d9")
"""Parts of a step are not strategies: shades of grey, so strategy colours keep their meaning."""

NOTE = (
    "<p class='note'>One training step's loss+gradient: mean((X_noisy − X̂)²) through an adaptive "
    "solve (rtol = atol = 10<sup>−tol</sup>) plus the seed penalty taken by the named strategy. "
    "<b>discretise</b>: reverse mode through the solver's steps (diffrax RecursiveCheckpointAdjoint, "
    "torchdiffeq odeint, torchode AutoDiffAdjoint); <b>adjoint</b>: the continuous adjoint solved "
    "backwards (BacksolveAdjoint, odeint_adjoint). In PyTorch the misfit's and the penalty's "
    "gradients are taken by separate paths and summed (torchdiffeq does not compose with torch.func). "
    "Parts are timed separately, each synchronised, so they need not add up exactly. "
    "<b>rhs_evals</b>: vector-field calls in one forward solve; <b>rhs_evals_grad</b>: in one misfit "
    "value+gradient (backward recomputation and adjoint VJPs included); <b>steps</b>: the library's "
    "own count where it reports one (diffrax, torchode). Correctness: error against an independent "
    "float64 reference (tight scipy solve, complex-step gradient) within a tolerance derived from the "
    "solver tolerance (LVUDEProblem.tolerance). At the initial weights the misfit's gradient is ~10⁴–10⁵× "
    "the penalty's, so the penalty part is verified on its own (penalty cases and tests).</p>"
)


def _config_label(df: pd.DataFrame) -> pd.Series:
    label = df["backend"].map(framework) + " " + df["ode"].astype(str) + " " + df["solver"].astype(str) + " "
    label += df["sensitivity"].astype(str)
    non_default = df["compile_mode"] != df["backend"].map(DEFAULT_COMPILE_MODE)
    label = label.where(~non_default, label + " [" + df["compile_mode"].astype(str) + "]")
    return label + " " + df["dtype"]


def split_figure(best: pd.DataFrame):
    """Horizontal bars per configuration (its fastest strategy): the whole step and its parts."""
    parts = [c for c in PARTS if c in best and best[c].notna().any()]
    rows = best.sort_values("median_s", ascending=False)
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(rows) * max(1, len(parts) / 3) + 1.3))
    height = 0.8 / len(parts)
    for i, (_, row) in enumerate(rows.iterrows()):
        for j, col in enumerate(parts):
            if pd.notna(row[col]):
                ax.barh(
                    i - 0.4 + (j + 0.5) * height,
                    row[col],
                    height=height,
                    color=PART_SHADES[j % 4],
                    edgecolor="black",
                    lw=0.4,
                    label=PARTS[col],
                )
    ax.set_yticks(range(len(rows)), rows["label"] + " · " + rows["strategy"])
    values = np.concatenate([rows[c].dropna().to_numpy() for c in parts])
    log_axis(ax, "x", values)
    ax.set_xlabel("median time (log)")
    ax.set_ylabel("configuration · fastest strategy")
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    ax.legend(uniq.values(), uniq.keys(), loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def load_training(run_dirs: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-iteration curves, per-configuration summaries) of every run directory that has them."""
    curves, summaries = [], []
    for run in run_dirs:
        run = Path(run)
        if (run / "training.csv").exists():
            c = pd.read_csv(run / "training.csv")
            curves.append(c.assign(run_id=run.name))
        if (run / "training.jsonl").exists():
            s = pd.read_json(run / "training.jsonl", lines=True)
            summaries.append(s.assign(run_id=run.name))
    curves_df = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    summary_df = pd.concat(summaries, ignore_index=True) if summaries else pd.DataFrame()
    return curves_df, summary_df


def training_figure(curves: pd.DataFrame):
    """Loss against iteration and against wall-clock time, every configuration on one figure."""
    fig, (by_iter, by_time) = plt.subplots(1, 2, figsize=(13, 4.2))
    keys = list(curves[["run_id", "config"]].drop_duplicates().itertuples(index=False))
    shades = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, max(1, len(keys))))
    several_runs = curves["run_id"].nunique() > 1
    for colour, (run_id, config) in zip(shades, keys):
        c = curves[(curves["run_id"] == run_id) & (curves["config"] == config)].sort_values("iteration")
        label = f"{config} ({run_id})" if several_runs else config
        style = "-" if c["backend"].iloc[0] == "jax" else "--"
        by_iter.plot(c["iteration"], c["loss"], style, color=colour, label=label)
        by_time.plot(c["elapsed_s"], c["loss"], style, color=colour, label=label)
    by_iter.set(xlabel="Adam iteration", ylabel="loss (log)", yscale="log", title="loss per iteration")
    by_time.set(
        xlabel="seconds since the build started (log)",
        ylabel="loss (log)",
        xscale="log",
        yscale="log",
        title="loss against time (compilation included)",
    )
    fig.legend(
        *by_iter.get_legend_handles_labels(),
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=2,
        frameon=False,
    )
    fig.tight_layout()
    return fig


def render_step(ok: pd.DataFrame) -> str:
    ok = ok.copy()
    ok["label"] = _config_label(ok)
    if "penalty_median_s" in ok:
        ok["penalty_share"] = ok["penalty_median_s"] / ok["median_s"]
    best = ok.sort_values("median_s").drop_duplicates(["label", "env_id"])
    body = "<h3>Loss+gradient of one training step, split into its parts</h3>"
    body += figure(split_figure(best), "UDE time split per configuration")
    body += "<p class='note'>Each configuration with its fastest penalty strategy; every case below.</p>"
    cols = [
        "label",
        "strategy",
        "median_s",
        "ode_median_s",
        "penalty_median_s",
        "solve_median_s",
        "loss_median_s",
        "penalty_share",
        "rhs_evals",
        "rhs_evals_grad",
        "steps",
        "compile_s",
        "grad_rel_err",
        "tolerance",
    ]
    rows = ok.sort_values(["dtype", "backend", "ode", "solver", "sensitivity", "median_s"])
    body += details(f"Every UDE case ({len(rows)})", f"<div class='scroll'>{table(rows, cols, 'ude')}</div>")
    return body


def render_training(curves: pd.DataFrame, summary: pd.DataFrame) -> str:
    body = "<h3>Training runs (Adam, learning rate 1e-3)</h3>"
    body += (
        "<p class='note'>Every configuration starts from the same weights and data; its first loss "
        "is checked against the float64 reference before training. compile_s = build + first step; "
        "train_s = the remaining steps; the curves' time axis includes compilation. Solid: JAX, "
        "dashed: PyTorch.</p>"
    )
    if not curves.empty:
        body += figure(training_figure(curves), "UDE training curves")
    if not summary.empty:
        cols = [
            "config",
            "status",
            "iters",
            "compile_s",
            "train_s",
            "wall_s",
            "step_median_s",
            "initial_loss",
            "final_loss",
            "initial_loss_rel_err",
            "error",
        ]
        body += details(
            f"Every training run ({len(summary)})",
            f"<div class='scroll'>{table(summary, cols, 'training')}</div>",
        )
    return body


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    return ude_findings(ctx.latest)


def render(ctx) -> str | None:
    ok = ctx.ok[ctx.ok["problem"] == PROBLEM] if "problem" in ctx.ok else pd.DataFrame()
    curves, summary = load_training(ctx.run_dirs)
    if ok.empty and curves.empty and summary.empty:
        return None
    body = NOTE
    if not ok.empty:
        body += findings(sentences(ctx), "Findings") + render_step(ok)
    if not (curves.empty and summary.empty):
        body += render_training(curves, summary)
    return body
