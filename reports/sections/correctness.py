"""Correctness and failures in words: how close every timed case came to its tolerance, what was
wrong (never timed), what failed and why. The full tables are in the data section."""

from __future__ import annotations

import pandas as pd

from reports.findings import correctness_findings, failure_findings
from reports.html import findings

ANCHOR, TITLE = "correctness", "Correctness and failures"

NOTE = (
    "<p class='note'>grad_rel_err = max|g − g_ref| / max|g_ref| against an independent float64 reference "
    "(hand-written Taylor propagation and the complex step), or, for a user's own module (for which no "
    "independent reference exists), "
    "against the float64 consensus of its framework (nested reverse and Taylor or forward mode agreeing "
    "within their rounding bound, and central differences of the loss along three random weight "
    "directions agreeing with the gradient within their error bound); each strategy's tolerance is "
    "derived, not "
    "guessed: the dtype's rounding bound for exact strategies, truncation + rounding for finite "
    "differences, a statistical bound for stochastic estimators. A wrong case is reported and never "
    "timed. Every case with its error, tolerance and message: <a href='#data'>Data</a> (tables "
    "<i>Correctness</i> and <i>Failures and unsupported</i>).</p>"
)


INDEPENDENT = "independent float64 (Taylor + complex step)"
"""The reference of records written before records said which (every model then had one)."""


def reference_findings(df) -> list[str]:
    """Which reference checked the cases: one sentence per reference, with its case count."""
    checked = df[df["status"].isin(["ok", "wrong"])]
    if checked.empty:
        return []
    used = (
        checked["reference"].fillna(INDEPENDENT) if "reference" in checked else [INDEPENDENT] * len(checked)
    )
    counts = pd.Series(used).value_counts()
    return [
        f"Reference: {reference} for {n} checked case{'s' if n != 1 else ''}."
        for reference, n in counts.items()
    ]


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    latest = ctx.latest
    if latest.empty:
        return []
    return reference_findings(latest) + correctness_findings(latest) + failure_findings(latest)


def render(ctx) -> str | None:
    found = sentences(ctx)
    return NOTE + findings(found) if found else None
