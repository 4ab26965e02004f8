"""The first screen: the decision table, one row per verdict (`reports.verdict`: problem instance ×
framework × compile mode × dtype × device, grouped by problem family and keyed by readable labels;
each recommended strategy links to the code the suite timed), in the words of `reports.wording`."""

from __future__ import annotations

import html

from reports.decision import by_family
from reports.findings import overview_findings
from reports.html import findings
from reports.source import code_anchor
from reports.verdict import AVOID_FACTOR, Verdict
from reports.wording import (
    Markup,
    avoid_text,
    caveats_text,
    code_text,
    compile_text,
    floor_text,
    margin_text,
    none_text,
    speedup_text,
    spellings_line,
    spellings_summary,
    time_text,
    use_text,
    verdict_memory,
    where_text,
)

ANCHOR, TITLE = "decision", "Which strategy to use"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _leader(text: str, v: Verdict) -> str:
    """The recommended code, linked to the code the suite timed."""
    if v.backend not in ("jax", "torch"):
        return text
    anchor = code_anchor(v.problem, v.backend, v.leader)
    title = _escape(f"the code that was timed: {code_text(v.problem, v.leader)}")
    return f"<a href='#{anchor}' title='{title}'>{text}</a>"


HTML = Markup(
    text=html.escape,
    spread=lambda t: f"<span class='spread'>{html.escape(t)}</span>",
    noise=lambda t: f"<span class='noise' title='either will do'>{html.escape(t)}</span>",
    leader=_leader,
    hint=lambda short, full: f"<span title='{_escape(full)}'>{short}</span>",
)
"""The verdict's words (`reports.wording`) as HTML: spreads and the within-noise clause styled, the
leader linked to its code, long forms as tooltips."""

FAMILY_NOTES = {
    "penalty": "P(θ) = Σᵢ ‖∇ₓU₁(xᵢ; θ)‖² and its weight gradient ∇θP",
    "lv-ude": "one training step: ODE data misfit + the penalty, taken by the named strategy",
    "derivative-order": "L(θ) = Σₓ (∂ᵏU₁/∂x₁ᵏ)² and its weight gradient",
    "poisson": "mean (Δu + f)² and its weight gradient",
    "biharmonic": "mean (Δ²u − f)² and its weight gradient",
}

HEAD = (
    "<tr><th class='text'>instance</th><th class='text'>framework · dtype</th>"
    "<th class='text'>use</th><th>time</th><th title='time(baseline) / time(recommended), with its spread'>"
    "speed-up vs baseline</th>"
    "<th title='time(runner-up) / time(recommended), with its spread'>"
    "margin over runner-up</th><th>memory</th><th>compile</th>"
    "<th title='time / time of the hand-written floor (no AD) in the same framework and compile mode "
    "(over_group_floor)'>× floor</th>"
    "<th class='text' title='wrong, failed, crashed, over budget, out of memory, or N× the recommended time'>"
    "avoid</th></tr>"
)
COLUMNS = 10

NOTE = (
    "<p class='note'>The fastest strategy whose gradient matched the float64 reference, per problem "
    "instance, framework, compile mode, dtype and device; the hand-written floor (no AD) is a reference "
    "(<b>× floor</b>), never recommended. Ratios show their spread in brackets: across interleaved "
    "blocks where the run measured them, else from the medians' 95 % notches. The margin names the "
    "runner-up; <i>within noise</i>: either will do; <b>⚠</b>: not settled (hover for why). "
    "<i>[approximate]</i>: a strategy (finite differences, a stochastic estimator) held to its derived "
    "error bound rather than to rounding. "
    "<b>Avoid</b>: wrong, failed, crashed, over budget, out of memory, or more than "
    f"{AVOID_FACTOR:g}× the recommended time (hover for the reason). Click a strategy for the code that "
    "was timed. A strategy is its fastest measured spelling; where other spellings of the same maths "
    "were timed (<code>--set spellings</code>), <b>· n spellings</b> gives their times over the "
    "recommended one's (hover for every spelling of the group); they are not recommended, except in a "
    "run about one network (<code>make advise</code>), where every spelling competes and the answer "
    "is the fastest code: <code>fwd-over-rev:func</code> is fwd-over-rev written with torch.func.</p>"
)


def spellings_note(v: Verdict) -> str:
    """After the recommended code, "· 3 spellings 0.9–1.6×" (every spelling of the group, with its
    ratio, in the tooltip)."""
    summary = spellings_summary(v)
    if not summary:
        return ""
    title = _escape("time over its strategy's: " + spellings_line(v))
    return f" <span class='spread' title='{title}'>· {html.escape(summary)}</span>"


def row_html(v: Verdict, label_cell: str, several_devices: bool = False) -> str:
    where = f"<td class='fw'>{html.escape(where_text(v, device=False))}"
    where += f" · {html.escape(v.device)}</td>" if several_devices else "</td>"
    avoid = f"<td class='avoid'>{avoid_text(v, HTML)}</td>"
    if v.leader is None:
        body = f"<td class='norec' colspan='{COLUMNS - 3}'>{none_text(v, HTML)}</td>"
        return f"<tr>{label_cell}{where}{body}{avoid}</tr>"
    warn = f" <span class='warn'>{caveats_text(v, HTML)}</span>" if v.caveats else ""
    cells = (
        f"<td class='use'>{use_text(v, HTML)}{warn}{spellings_note(v)}</td><td>{time_text(v)}</td>"
        f"<td class='speedup'>{speedup_text(v, HTML)}</td><td class='margin'>{margin_text(v, HTML)}</td>"
        f"<td>{html.escape(verdict_memory(v))}</td><td>{compile_text(v)}</td><td>{floor_text(v)}</td>"
    )
    return f"<tr>{label_cell}{where}{cells}{avoid}</tr>"


def decision_table(items: list[Verdict]) -> str:
    rows = []
    several_envs = len({v.env_id for v in items}) > 1
    devices = sorted({v.device for v in items})
    for fam, block in by_family(items).items():
        note = FAMILY_NOTES.get(block[0].problem, "")
        baselines = sorted({v.baseline for v in block if isinstance(v.baseline, str)})
        base = f"; baseline {', '.join(baselines)}" if baselines else ""
        where = f"; on {', '.join(devices)}" if len(devices) == 1 else ""
        rows.append(
            f"<tr class='family'><th colspan='{COLUMNS}'>{html.escape(fam)} "
            f"<span class='spread'>{html.escape(note + base + where)}</span></th></tr>"
        )
        labels = [v.label + (f" @{v.env_id}" if several_envs else "") for v in block]
        for i, (v, label) in enumerate(zip(block, labels)):
            cell = ""
            if i == 0 or labels[i - 1] != label:
                span = 1
                while i + span < len(labels) and labels[i + span] == label:
                    span += 1
                cell = f"<td class='label' rowspan='{span}'>{html.escape(label)}</td>"
            rows.append(row_html(v, cell, len(devices) > 1))
    return f"<table class='decision'><thead>{HEAD}</thead><tbody>{''.join(rows)}</tbody></table>"


def sentences(ctx) -> list[str]:
    """The findings of this section (the README's too, `reports.results`)."""
    return overview_findings(ctx.decisions)


def render(ctx) -> str | None:
    if not ctx.verdicts:
        return "<p>No cases in these runs.</p>"
    return decision_table(ctx.verdicts) + NOTE + findings(sentences(ctx))
