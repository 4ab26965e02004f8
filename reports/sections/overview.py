"""At a glance: for each problem family, time relative to the fastest correct AD strategy of each
column (instance · dtype · compile mode), strategies × instances, a facet per framework and device;
failures, wrong results and unsupported strategies are marked in their cells."""

from __future__ import annotations

import html

from reports.heatmap import cells, heatmap_figure, relative_norm, relative_text, relative_time
from reports.html import figure
from reports.roles import is_floor, strategy_order
from reports.verdict import Verdict, verdicts

ANCHOR, TITLE = "at-a-glance", "At a glance: time relative to the fastest"

NOTE = (
    "<p class='note'>Each cell: the strategy's median time / the recommended strategy's median in "
    "the same column (same instance, framework, compile mode, dtype and device); <b>bold 1.0</b> is the "
    "recommended strategy (the decision's leader); the floor (hand-written, no AD; italic) and a named "
    "spelling of a strategy may be below 1. Red cells: wrong "
    "(gradient outside its tolerance, not timed), failed, crashed, over budget or out of memory; grey "
    "<b>n/a</b>: the framework cannot express the strategy for this instance (reasons under Failures).</p>"
)


def family_figure(rows, items: list[Verdict] | None = None):
    """The relative-time heatmap of one family's rows (labelled tidy rows, all statuses), against
    their verdicts' leaders (`items`; computed from `rows` when not given)."""
    problems = list(dict.fromkeys(rows["problem"]))
    present = set(rows["strategy"])
    strategies = strategy_order(problems, present)
    floors = {s for s in strategies if any(is_floor(p, s) for p in problems)}
    value = relative_time(rows, verdicts(rows) if items is None else items)
    data = cells(rows, value, relative_text)
    return heatmap_figure(
        data,
        strategies,
        relative_norm(data["value"]),
        "YlOrRd",
        "time / recommended strategy (log)",
        floors,
    )


def render(ctx) -> str | None:
    latest = ctx.latest
    if latest.empty or not (latest["status"] == "ok").any():
        return None
    body = NOTE
    for fam, rows in latest.sort_values("order_key", kind="stable").groupby("family", sort=False):
        if not (rows["status"] == "ok").any():
            continue
        body += f"<h3>{html.escape(fam)}</h3>" + figure(
            family_figure(rows, ctx.verdicts), f"{fam}: time relative to the fastest"
        )
    return body
