"""Everything not timed, with its message: crashed, out of memory, failed, over budget, unsupported,
skipped."""

from __future__ import annotations

from reports.html import table

ANCHOR, TITLE = "failures", "Failures and unsupported cases"


def render(ctx) -> str | None:
    bad = ctx.df[~ctx.df["status"].isin(["ok", "wrong"])]
    if bad.empty:
        return None
    order = {"crashed": 0, "out of memory": 1, "failed": 2, "over budget": 3, "unsupported": 4, "skipped": 5}
    bad = bad.assign(_o=bad["status"].map(order).fillna(9)).sort_values(["_o", "case_id"])
    return table(bad, ["case_id", "status", "error"], "failures")
