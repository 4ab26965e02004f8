"""The words of a verdict (`reports.verdict.Verdict`), written once: the terminal
(`reports.decision`), the HTML decision table (`reports.sections.decision`) and the README's results
(`reports.results`) all call these functions and differ in markup only, which a `Markup` supplies
(PLAIN, MARKDOWN here; the HTML one beside its table, where the leader links to its code)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from reports.labels import framework
from reports.roles import error_model, spelling_description, spelling_of
from reports.text import format_bytes, format_seconds
from reports.verdict import Ratio, Verdict, spellings_text


def _same(text: str, *_args) -> str:
    return text


@dataclass(frozen=True)
class Markup:
    """How the words are marked up. Every hook takes plain text and returns it marked up (and
    escaped where the format needs it)."""

    text: Callable[[str], str] = _same
    """Any plain text."""
    spread: Callable[[str], str] = _same
    """A ratio's spread, "(1.41–1.66)"."""
    noise: Callable[[str], str] = _same
    """The within-noise clause, ", within noise"."""
    leader: Callable[[str, Verdict], str] = _same
    """The recommended code (text, verdict)."""
    hint: Callable[[str, str], str] = _same
    """A short text with its long form (a tooltip in HTML; the short text elsewhere)."""


PLAIN = Markup()
MARKDOWN = Markup(leader=lambda t, _v: f"**{t}**")
"""Markdown for a table cell (`reports.results` escapes the cell's pipes)."""


def code_text(problem: str, name: str) -> str:
    """The code a verdict names: a strategy's name, or for a spelling what it is written with,
    "fwd-over-rev written as torch.func.jvp over torch.func.grad (`fwd-over-rev:func`)"."""
    parent = spelling_of(problem, name)
    if parent is None:
        return name
    how = re.sub(r"^(JAX|PyTorch): ", "", spelling_description(problem, name)).split(" (not ")[0]
    return f"{parent} written as {how} (`{name}`)"


def where_text(v: Verdict, device: bool = True) -> str:
    """ "PyTorch eager · float32 cpu": the framework, compile mode, dtype (and device)."""
    return f"{framework(v.backend)} {v.compile_mode} · {v.dtype}" + (f" {v.device}" if device else "")


def ratio_text(ratio: Ratio | None, m: Markup = PLAIN) -> str:
    """A ratio with its spread, "1.53× (1.41–1.66)", "1.53× (no spread)" or just "1.53×"."""
    if ratio is None or not math.isfinite(ratio.value):
        return "—"
    if ratio.method == "none":
        return f"{ratio.value:.2f}× " + m.spread("(no spread)")
    if ratio.method == "same" or not (math.isfinite(ratio.lo) and math.isfinite(ratio.hi)):
        return f"{ratio.value:.2f}×"
    return f"{ratio.value:.2f}× " + m.spread(f"({ratio.lo:.2f}–{ratio.hi:.2f})")


def use_text(v: Verdict, m: Markup = PLAIN) -> str:
    """The recommended code, marked when approximate: "taylor", "fd-central [approximate: …]"."""
    model = error_model(v.problem, v.leader)
    approx = m.text(f" [approximate: {model}]") if model != "exact" else ""
    return m.leader(m.text(code_text(v.problem, v.leader)), v) + approx


def none_text(v: Verdict, m: Markup = PLAIN) -> str:
    return m.text(f"no recommendation: {v.why_none}")


def time_text(v: Verdict) -> str:
    return format_seconds(v.median_s)


def speedup_text(v: Verdict, m: Markup = PLAIN) -> str:
    """ "1.25× (1.20–1.31) vs rev-over-rev", "is the baseline", or the baseline's status."""
    if v.speedup is None:
        return m.text(f"{v.baseline} {v.baseline_status}") if v.baseline_status else "—"
    if v.leader == v.baseline:
        return "is the baseline"
    return f"{ratio_text(v.speedup, m)} vs {m.text(str(v.baseline))}"


def margin_text(v: Verdict, m: Markup = PLAIN) -> str:
    """ "1.44× (1.30–1.60) over fwd-over-rev", with ", within noise" or ", spread unknown"."""
    if v.runner_up is None:
        return "no runner-up"
    noise = {True: m.noise(", within noise"), False: "", None: ", spread unknown"}[v.within_noise]
    return f"{ratio_text(v.margin, m)} over {m.text(v.runner_up)}{noise}"


PAGE = 4096
"""The resident reading's unit (`bench.memory`): an evaluation served from heap pages the process
already held reads less than one page, which is not what it needs."""


def memory_text(peak_bytes, method: str | None = None, xla_temp_bytes=None) -> str:
    """The recommended case's peak memory; a resident reading under one page says so (and gives
    XLA's planned scratch where known) instead of "0 B"; "—" when not measured."""
    if peak_bytes is None or not math.isfinite(float(peak_bytes)):
        return "—"
    if method != "resident high-water mark" or peak_bytes >= PAGE:
        return format_bytes(peak_bytes)
    known = xla_temp_bytes is not None and math.isfinite(float(xla_temp_bytes))
    planned = f", XLA plans {format_bytes(xla_temp_bytes)} of scratch" if known else ""
    return f"< 4 KiB of new resident pages{planned}"


def verdict_memory(v: Verdict) -> str:
    return memory_text(v.peak_memory_bytes, v.memory_method, v.xla_temp_bytes)


def compile_text(v: Verdict) -> str:
    """The leader's compile time, "4.21 s", said to be measured beside a parallel build where it
    was (bench/prebuild.py: two builds shared the CPU)."""
    if v.compile_s is None:
        return "—"
    return f"{v.compile_s:.3g} s" + (" beside a parallel build" if v.compile_parallel else "")


def floor_text(v: Verdict) -> str:
    """The leader's time over its group's floor, "1.60×" ("—" without a floor)."""
    return f"{v.over_group_floor:.2f}×" if v.over_group_floor is not None else "—"


def caveats_text(v: Verdict, m: Markup = PLAIN) -> str:
    """ "⚠ a within noise of b" (without the load readings; those in the long form), or ""."""
    if not v.caveats:
        return ""
    short = "; ".join(re.sub(r" \(.*\)$", "", c) for c in v.caveats)
    return m.hint(f"⚠ {short}", "; ".join(v.caveats))


def avoid_text(v: Verdict, m: Markup = PLAIN) -> str:
    """ "fd-central (wrong: error 8.5e-04 > tolerance 6.7e-04); …", each reason's full text in the
    long form."""
    return "; ".join(
        m.hint(f"{m.text(a.strategy)} ({m.text(a.reason)})", a.reason + (f"\n{a.full}" if a.full else ""))
        for a in v.avoid
    )


def spellings_summary(v: Verdict) -> str:
    """ "3 spellings 0.9–1.6×": the leader's named spellings' times over its own ("n spellings"
    when none of them is the leader's)."""
    if not v.spellings:
        return ""
    own = [e.ratio for e in v.spellings if e.strategy == v.leader and e.ratio is not None]
    if own:
        return f"{len(own)} spelling{'s' if len(own) != 1 else ''} {min(own):.2g}–{max(own):.2g}×"
    return f"{len(v.spellings)} spelling{'s' if len(v.spellings) != 1 else ''}"


def spellings_line(v: Verdict) -> str:
    """Every spelling of the group over its strategy: "taylor:per-point 0.50× (0.50–0.50); …"."""
    return spellings_text(v.spellings)
