"""The first screen: the decision table (`reports.decision.decide`), one row per problem instance ×
framework × compile mode × dtype × device, grouped by problem family and keyed by readable labels;
each recommended strategy links to the code the suite timed."""

from __future__ import annotations

import html
import math

import pandas as pd

from problems.core import ERROR_MODELS
from reports.decision import AVOID_FACTOR, code_text, flag, memory_text, spellings_text
from reports.html import findings, format_seconds
from reports.labels import framework
from reports.roles import error_model
from reports.source import code_anchor

ANCHOR, TITLE = "decision", "Which strategy to use"

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
    "<th title='time(runner-up) / time(recommended), with its spread; ≈: within noise'>"
    "margin over runner-up</th><th>memory</th><th>compile</th>"
    "<th title='time / time of the hand-written floor (no AD) in the same framework and mode'>× floor</th>"
    "<th class='text' title='wrong, failed, crashed, over budget, out of memory, or N× the recommended time'>"
    "avoid</th></tr>"
)
COLUMNS = 10

NOTE = (
    "<p class='note'>The fastest strategy whose gradient matched the float64 reference, per problem "
    "instance, framework, compile mode, dtype and device; the hand-written floor (no AD) is a reference "
    "(<b>× floor</b>), never recommended. Ratios show their spread in brackets: across interleaved "
    "blocks where the run measured them, else from the medians' 95 % notches. The margin names the "
    "runner-up; <b>≈</b>: within noise (either will do). <b>†</b>: an approximate strategy (finite "
    "differences, a stochastic estimator), held to its derived error bound rather than to rounding. "
    "<b>Avoid</b>: wrong, failed, crashed, over budget, out of memory, or more than "
    f"{AVOID_FACTOR:g}× the recommended time (hover for the reason). Click a strategy for the code that "
    "was timed. A strategy is its fastest measured spelling; where other spellings of the same maths "
    "were timed (<code>--set spellings</code>), <b>· n spellings</b> gives their times over the "
    "recommended one's (hover for every spelling of the group); they are not recommended, except in a "
    "run about one network (<code>make advise</code>), where every spelling competes and the answer "
    "is the fastest code: <code>fwd-over-rev:func</code> is fwd-over-rev written with torch.func.</p>"
)


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _spread(lo, hi, method) -> str:
    if method in ("none", "same") or not (_finite(lo) and _finite(hi)):
        return ""
    return f" <span class='spread'>({lo:.2f}–{hi:.2f})</span>"


def speedup_cell(r) -> str:
    if r.get("recommended") == r.get("baseline"):
        return "<td class='spread'>is the baseline</td>"
    if _finite(r.get("speedup")):
        return f"<td>{r['speedup']:.2f}×{_spread(r['speedup_lo'], r['speedup_hi'], r['speedup_method'])}</td>"
    status = r.get("baseline_status")
    text = f"{r.get('baseline')} {status}" if isinstance(status, str) else "—"
    return f"<td class='spread'>{html.escape(text)}</td>"


def margin_cell(r) -> str:
    runner = r.get("runner_up")
    if not isinstance(runner, str):
        return "<td class='spread'>only one correct</td>"
    noise = flag(r.get("within_noise"))
    mark = "<span class='noise' title='within noise: either will do'>≈ </span>" if noise is True else ""
    spread = _spread(r.get("margin_lo"), r.get("margin_hi"), r.get("margin_method"))
    if r.get("margin_method") == "none":
        spread = " <span class='spread'>(no spread)</span>"
    return (
        f"<td class='margin'>{mark}{r['margin']:.2f}×{spread} "
        f"<span class='runner'>{html.escape(runner)}</span></td>"
    )


def avoid_cell(items: list[dict]) -> str:
    """Strategy and a short reason each (the status, or "18× slower"); the full reason in the
    tooltip."""
    parts = []
    for a in items:
        # "wrong", "failed", "18×", "≥ 3.1× the fastest" (dropped by the race)
        short = a["reason"].split(":", 1)[0].split(",")[0].removesuffix(" slower")
        title = html.escape(a["reason"] + (f"\n{a['full']}" if a.get("full") else ""), quote=True)
        parts.append(f"<span title='{title}'><b>{html.escape(a['strategy'])}</b> {html.escape(short)}</span>")
    return f"<td class='avoid'>{', '.join(parts)}</td>"


def _link(r) -> str:
    strategy = html.escape(r["recommended"])
    model = error_model(r["problem"], r["recommended"])
    mark = f"<span class='spread' title='{ERROR_MODELS[model]}'> †</span>" if model != "exact" else ""
    if r["backend"] not in ("jax", "torch"):
        return strategy + mark
    anchor = code_anchor(r["problem"], r["backend"], r["recommended"])
    title = html.escape(f"the code that was timed: {code_text(r['problem'], r['recommended'])}", quote=True)
    return f"<a href='#{anchor}' title='{title}'>{strategy}</a>{mark}"


def spellings_note(r) -> str:
    """After the recommended strategy, "· 3 spellings 0.9–1.6×": its named spellings' times over its
    own (measured side by side); every spelling of the group, with its ratio, in the tooltip."""
    entries = r.get("spellings_list")
    if not isinstance(entries, list) or not entries:
        return ""
    title = html.escape("time over its strategy's: " + spellings_text(entries), quote=True)
    own = [e["ratio"] for e in entries if e["strategy"] == r.get("recommended") and e["ratio"] is not None]
    text = (
        f"{len(own)} spelling{'s' if len(own) != 1 else ''} {min(own):.2g}–{max(own):.2g}×"
        if own
        else (f"{len(entries)} spelling{'s' if len(entries) != 1 else ''}")
    )
    return f" <span class='spread' title='{title}'>· {text}</span>"


def row_html(r, label_cell: str) -> str:
    device = f" · {r['device']}" if r.get("several_devices") else ""
    text = f"{framework(r['backend'])} {r['variant']} · {r['dtype']}{device}"
    where = f"<td class='fw'>{html.escape(text)}</td>"
    if not isinstance(r.get("recommended"), str):
        body = (
            f"<td class='norec' colspan='{COLUMNS - 3}'>no recommendation: {html.escape(r['why_none'])}</td>"
        )
        return f"<tr>{label_cell}{where}{body}{avoid_cell(r['avoid_list'])}</tr>"
    caveats = r.get("caveats") or []
    warn = (
        f" <span class='warn' title='{html.escape('; '.join(caveats), quote=True)}'>⚠</span>"
        if caveats
        else ""
    )
    memory = html.escape(memory_text(r)) if _finite(r.get("peak_memory_bytes")) else "—"
    compile_s = f"{r['compile_s']:.2g} s" if _finite(r.get("compile_s")) else "—"
    floor = f"{r['over_floor']:.2f}×" if _finite(r.get("over_floor")) else "—"
    cells = (
        f"<td class='use'>{_link(r)}{warn}{spellings_note(r)}</td><td>{format_seconds(r['median_s'])}</td>"
        f"{speedup_cell(r)}{margin_cell(r)}<td>{memory}</td><td>{compile_s}</td><td>{floor}</td>"
    )
    return f"<tr>{label_cell}{where}{cells}{avoid_cell(r['avoid_list'])}</tr>"


def decision_table(decisions: pd.DataFrame) -> str:
    rows = []
    several_envs = decisions["env_id"].nunique() > 1
    decisions = decisions.assign(several_devices=decisions["device"].nunique() > 1)
    for fam, block in decisions.groupby("family", sort=False):
        problem = block["problem"].iloc[0]
        note = FAMILY_NOTES.get(problem, "")
        baselines = sorted({b for b in block["baseline"] if isinstance(b, str)})
        base = f"; baseline {', '.join(baselines)}" if baselines else ""
        devices = sorted(set(decisions["device"]))
        where = f"; on {', '.join(devices)}" if len(devices) == 1 else ""
        rows.append(
            f"<tr class='family'><th colspan='{COLUMNS}'>{html.escape(fam)} "
            f"<span class='spread'>{html.escape(note + base + where)}</span></th></tr>"
        )
        labels = block["label"] + (" @" + block["env_id"].astype(str) if several_envs else "")
        spans = labels.groupby((labels != labels.shift()).cumsum()).transform("size")
        previous = None
        for (_, r), label, span in zip(block.iterrows(), labels, spans):
            cell = (
                "" if label == previous else f"<td class='label' rowspan='{span}'>{html.escape(label)}</td>"
            )
            previous = label
            rows.append(row_html(r, cell))
    return f"<table class='decision'><thead>{HEAD}</thead><tbody>{''.join(rows)}</tbody></table>"


def render(ctx) -> str | None:
    decisions = ctx.decisions
    if decisions.empty:
        return "<p>No cases in these runs.</p>"
    from reports.findings import overview_findings

    return decision_table(decisions) + NOTE + findings(overview_findings(decisions))
