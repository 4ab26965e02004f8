"""Your PDE: which strategy for which residual. Per equation (and dimension) and framework, the
fastest exact strategy with the runner-up's time relative to it, the stochastic estimators' time
relative to the fastest exact one with their measured error, and the dimension at which an
estimator first overtakes every exact strategy (heat, Allen–Cahn)."""

from __future__ import annotations

import html

import pandas as pd

from reports.html import table

ANCHOR, TITLE = "pde", "Your PDE: which strategy for which residual"
STOCHASTIC = ("hutchinson", "stde")
FINITE_DIFFERENCE = "fd-stencil"
APPROXIMATE = (*STOCHASTIC, FINITE_DIFFERENCE)

NOTE = (
    "<p class='note'>The loss is mean<sub>n</sub> Σ<sub>c</sub> r<sub>c</sub>(x<sub>n</sub>)² of each "
    "residual (Burgers: u_t, u_x, u_xx; KdV: a third derivative; Navier–Stokes: three outputs with Δ "
    "terms; heat and Allen–Cahn: Δ in d dimensions) and its weight gradient; every strategy computes "
    "exactly the partial derivatives the residual needs, each once. <b>runner-up ×</b>: the second "
    "fastest exact strategy's median time over the fastest's (ratios of cases timed interleaved in "
    "one comparison group). <b>stochastic ×</b>: the faster of hutchinson / stde over the fastest "
    "exact strategy (below 1: the estimator is faster), with its measured gradient error (within its "
    "derived statistical tolerance, or it would not be listed). <b>fd-stencil ×</b>: central finite "
    "differences over the fastest exact strategy (within their derived truncation + rounding "
    "tolerance).</p>"
)


def _instance(row) -> str:
    label = str(row.get("equation") or "residual")
    if label == "custom":
        label = f"residual {row.get('residual')}"
    dim = row.get("dim")
    if pd.notna(dim):
        label += f", d = {int(dim)}"
    return label


def choice_table(ok: pd.DataFrame) -> pd.DataFrame:
    """One row per (instance, framework): fastest exact, runner-up ratio, fastest stochastic ratio."""
    rows = []
    for (instance, backend, compile_mode, dtype), group in ok.groupby(
        ["pde_instance", "backend", "compile_mode", "dtype"], sort=True
    ):
        exact = group[~group["strategy"].isin(APPROXIMATE)].sort_values("median_s")
        finite = group[group["strategy"] == FINITE_DIFFERENCE]["median_s"]
        stochastic = group[group["strategy"].isin(STOCHASTIC)].sort_values("median_s")
        if exact.empty:
            continue
        best = exact.iloc[0]
        runner_up = exact.iloc[1] if len(exact) > 1 else None
        fastest_estimate = stochastic.iloc[0] if not stochastic.empty else None
        nan = float("nan")
        row = {
            "equation": instance,
            "framework": f"{backend} {compile_mode} {dtype}",
            "fastest exact": best["strategy"],
            "median_s": best["median_s"],
            "runner-up": "" if runner_up is None else runner_up["strategy"],
            "runner-up ×": nan if runner_up is None else runner_up["median_s"] / best["median_s"],
            "stochastic": "" if fastest_estimate is None else fastest_estimate["strategy"],
            "stochastic ×": nan
            if fastest_estimate is None
            else fastest_estimate["median_s"] / best["median_s"],
            "stochastic grad err": nan if fastest_estimate is None else fastest_estimate["grad_rel_err"],
            "fd-stencil ×": finite.min() / best["median_s"] if not finite.empty else nan,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def crossover(ok: pd.DataFrame) -> list[str]:
    """Per equation with a `dim` and framework: the smallest d where an estimator beats every exact
    strategy, or the largest d measured without it."""
    lines = []
    with_dim = ok[ok["dim"].notna()] if "dim" in ok else ok.iloc[0:0]
    for (equation, backend, compile_mode, dtype), group in with_dim.groupby(
        ["equation", "backend", "compile_mode", "dtype"], sort=True
    ):
        backend = f"{backend} {compile_mode} {dtype}"
        dims = sorted(group["dim"].unique())
        won = None
        for d in dims:
            at = group[group["dim"] == d]
            exact = at[~at["strategy"].isin(APPROXIMATE)]["median_s"]
            stochastic = at[at["strategy"].isin(STOCHASTIC)]["median_s"]
            if not exact.empty and not stochastic.empty and stochastic.min() < exact.min():
                won = d
                break
        measured = ", ".join(str(int(d)) for d in dims)
        if won is not None:
            lines.append(f"{equation}, {backend}: a stochastic estimator is fastest from d = {int(won)} "
                         f"(measured d = {measured})")  # fmt: skip
        else:
            lines.append(f"{equation}, {backend}: no stochastic estimator beats the fastest exact strategy "
                         f"at the measured d = {measured}")  # fmt: skip
    return lines


def _ok(ctx) -> pd.DataFrame:
    df = ctx.latest[ctx.latest["problem"] == "pde"]
    ok = df[df["status"] == "ok"].copy()
    if ok.empty:
        return ok
    ok["pde_instance"] = [_instance(r) for _, r in ok.iterrows()]
    if "dim" not in ok:
        ok["dim"] = float("nan")
    return ok


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`): where the stochastic
    estimators take over."""
    ok = _ok(ctx)
    return crossover(ok) if len(ok) else []


def render(ctx) -> str | None:
    ok = _ok(ctx)
    if ok.empty:
        return None
    choices = choice_table(ok)
    body = NOTE + table(choices, list(choices.columns))
    lines = sentences(ctx)
    if lines:
        body += "<h4>Where the stochastic estimators take over</h4><ul>"
        body += "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"
    return body
