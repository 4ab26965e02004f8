"""Summary first: the winner per problem × backend × device × dtype and a speed-up matrix."""

from __future__ import annotations

import html

import pandas as pd

from reports.html import format_seconds, table

ANCHOR, TITLE = "summary", "Summary: which strategy wins"
BASELINE = "rev-over-rev"
GROUP = ["instance", "backend", "device", "dtype", "variant", "env_id"]


def winners(ok: pd.DataFrame) -> pd.DataFrame:
    """Fastest correct strategy per group, its median and speed-up over rev-over-rev."""
    rows = []
    for key, g in ok.groupby(GROUP, dropna=False):
        best = g.loc[g["median_s"].idxmin()]
        base = g[g["strategy"] == BASELINE]
        speedup = base["median_s"].iloc[0] / best["median_s"] if len(base) else float("nan")
        runner_up = g.nsmallest(2, "median_s")
        margin = runner_up["median_s"].iloc[1] / best["median_s"] if len(runner_up) == 2 else float("nan")
        rows.append({**dict(zip(GROUP, key)), "winner": best["strategy"], "median_s": best["median_s"],
                     "iqr_s": best["iqr_s"], "speedup_vs_rev_over_rev": speedup,
                     "margin_over_runner_up": margin, "strategies_ok": len(g)})  # fmt: skip
    return pd.DataFrame(rows)


def speedup_matrix(ok: pd.DataFrame) -> pd.DataFrame:
    """median(rev-over-rev) / median(strategy): strategies × (instance, backend, dtype)."""
    ok = ok.copy()
    base = ok[ok["strategy"] == BASELINE].set_index(GROUP)["median_s"]
    ok["speedup"] = [
        base.get(tuple(r[c] for c in GROUP), float("nan")) / r["median_s"] for _, r in ok.iterrows()
    ]
    ok["column"] = (
        ok["instance"] + " " + ok["backend"] + " " + ok["variant"] + " " + ok["dtype"] + " " + ok["device"]
    )
    if ok["env_id"].nunique() > 1:
        ok["column"] += " @" + ok["env_id"].astype(str)
    return ok.pivot_table(index="strategy", columns="column", values="speedup", aggfunc="first")


def render(ctx) -> str | None:
    ok = ctx.ok
    counts = ctx.df["status"].value_counts().to_dict()
    status_line = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    parts = [f"<p>{len(ctx.df)} cases: {html.escape(status_line)}.</p>"]
    if ok.empty:
        return "".join(parts) + "<p>No case completed correctly.</p>"
    w = winners(ok)
    w["median"] = w["median_s"].map(format_seconds)
    parts.append(
        "<p class='note'>Winner: fastest strategy whose gradient passed the correctness check. "
        "Speed-up is relative to rev-over-rev in the same framework, device, dtype and compile mode; "
        "margin is the runner-up's median over the winner's (below ~1.1 the two are within noise).</p>"
    )
    parts.append(table(w, GROUP + ["winner", "median_s", "iqr_s", "speedup_vs_rev_over_rev",
                                   "margin_over_runner_up", "strategies_ok"], "winners"))  # fmt: skip
    m = speedup_matrix(ok)
    m_html = m.map(lambda v: "—" if pd.isna(v) else f"{v:.2f}×")
    parts.append("<h3>Speed-up over rev-over-rev (higher is faster)</h3>")
    rows = "".join(
        f"<tr><td class='text'>{html.escape(idx)}</td>"
        + "".join(
            f"<td class='{'best' if not pd.isna(m.loc[idx, c]) and m.loc[idx, c] == m[c].max() else ''}'>"
            f"{m_html.loc[idx, c]}</td>"
            for c in m.columns
        )
        + "</tr>"
        for idx in m.index
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in m.columns)
    parts.append(f"<table class='speedup'><thead><tr><th class='text'>strategy</th>{head}</tr></thead>"
                 f"<tbody>{rows}</tbody></table>")  # fmt: skip
    return "".join(parts)
