"""Correctness and failures in words: how close every timed case came to its tolerance, what was
wrong (never timed), what failed and why. The full tables are in the data section."""

from __future__ import annotations

from reports.findings import correctness_findings, failure_findings
from reports.html import findings

ANCHOR, TITLE = "correctness", "Correctness and failures"

NOTE = (
    "<p class='note'>grad_rel_err = max|g − g_ref| / max|g_ref| against an independent float64 reference "
    "(hand-written Taylor propagation and the complex step); each strategy's tolerance is derived, not "
    "guessed: the dtype's rounding bound for exact strategies, truncation + rounding for finite "
    "differences, a statistical bound for stochastic estimators. A wrong case is reported and never "
    "timed. Every case with its error, tolerance and message: <a href='#data'>Data</a> (tables "
    "<i>Correctness</i> and <i>Failures and unsupported</i>).</p>"
)


def render(ctx) -> str | None:
    latest = ctx.latest
    if latest.empty:
        return None
    sentences = correctness_findings(latest) + failure_findings(latest)
    return NOTE + findings(sentences) if sentences else None
