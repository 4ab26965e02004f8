"""Every case's error against the float64 reference, with its tolerance; wrong ones highlighted."""

from __future__ import annotations

from reports.html import table

ANCHOR, TITLE = "correctness", "Correctness: error against the float64 reference"


def render(ctx) -> str | None:
    df = ctx.df[ctx.df["status"].isin(["ok", "wrong"])]
    if df.empty:
        return None
    note = ("<p class='note'>grad_rel_err = max|g − g_ref| / max|g_ref| against an independent "
            "reference (hand-written Taylor propagation + complex step); tolerance: 1e-10 for exact "
            "strategies in float64, the probabilistic rounding bound in float32, the derived "
            "truncation + rounding bound for finite differences. Rows in red are wrong and were not "
            "timed.</p>")  # fmt: skip
    cols = ["case_id", "status", "grad_rel_err", "value_rel_err", "tolerance"]
    df = df.sort_values(["status", "case_id"], ascending=[False, True])
    return note + table(df, cols, "correctness")
