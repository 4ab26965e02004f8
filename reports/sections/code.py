"""The code behind each verdict: for every recommended strategy, the functions the suite timed in
that framework (`reports.source`), collapsed, so a user can copy the verified implementation."""

from __future__ import annotations

import html
import subprocess

from reports.html import details
from reports.labels import family, framework, instance_options
from reports.source import ROOT, StrategyCode, code_anchor, strategy_code

ANCHOR, TITLE = "code", "The code behind each verdict"

ROLES = {"build": "registered build function", "strategy": "strategy module", "helper": "framework helper"}


def checkout_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def snippet_html(s, open_: bool) -> str:
    summary = (
        f"<code>{html.escape(s.name)}</code> <span class='note'>{html.escape(s.path)}, line {s.line} · "
        f"{ROLES.get(s.role, s.role)}</span>"
    )
    return details(summary, f"<pre><code>{html.escape(s.source)}</code></pre>", open_=open_)


def code_html(code: StrategyCode) -> str:
    if code.error:
        return f"<p class='note'>Source not shown: {html.escape(code.error)}.</p>"
    parts = [f"<p class='note'>{html.escape(n)}</p>" for n in code.notes]
    parts += [snippet_html(s, open_=s.role != "helper") for s in code.snippets]
    for inner in code.inner:
        parts.append(f"<h4>{html.escape(inner.problem)} strategy {html.escape(inner.strategy)}</h4>")
        parts.append(code_html(inner))
    return "".join(parts)


def render(ctx) -> str | None:
    decisions = ctx.decisions
    if decisions.empty:
        return None
    rec = decisions[decisions["recommended"].map(lambda v: isinstance(v, str))]
    rec = rec[rec["backend"].isin(["jax", "torch"])]
    if rec.empty:
        return None
    latest = ctx.latest
    blocks, seen = [], set()
    for _, r in rec.iterrows():
        key = (r["problem"], r["backend"], r["recommended"])
        if key in seen:
            continue
        seen.add(key)
        case = latest[(latest["instance"] == r["instance"]) & (latest["backend"] == r["backend"])].iloc[0]
        code = strategy_code(r["problem"], instance_options(case), r["backend"], r["recommended"])
        build = code.build
        where = (
            f" — <code>{html.escape(build.path)}</code>, <code>{html.escape(build.name)}</code>"
            if build
            else ""
        )
        summary = (
            f"{html.escape(framework(r['backend']))} · {html.escape(family(r['problem']))} · "
            f"<b>{html.escape(r['recommended'])}</b>{where}"
        )
        blocks.append(details(summary, code_html(code), css_class="code", anchor=code_anchor(*key)))
    commits = sorted({str(e["commit"]) for e in ctx.envs if e.get("commit")})
    here = checkout_commit()
    note = (
        "<p class='note'>Every recommended strategy, as the suite built and timed it: the build function the "
        "backend's registry holds for it, the strategy's maths in its module, and the framework helpers it "
        "calls (the MLP, the compilation). Source from the checkout that rendered this page"
        + (f" (commit {html.escape(here)})" if here else "")
        + "; the runs measured "
        + (f"commit {html.escape(', '.join(commits))}" if commits else "an unrecorded commit")
        + "."
    )
    if here and commits and not any(here.startswith(c) or c.startswith(here) for c in commits):
        note += " <b>These differ: the code shown may have changed since the measurement.</b>"
    return note + "</p>" + "".join(blocks)
