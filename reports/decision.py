"""The decision a report exists for: per problem instance × framework × compile mode × dtype ×
device, which AD strategy to use, by how much it wins (with its uncertainty), and what to avoid.

`decide(df)` works on the tidy frame of `reports.runs.load_runs`; `python -m reports.decision
RUN_DIR [RUN_DIR ...]` prints the same decisions in the terminal (`make advise` uses it).

- **Recommended**: the fastest strategy whose gradient passed the reference check: the lowest
  median, except that the interleaved per-block ratio of the two fastest decides between them when
  the two measures disagree (they are then within noise of each other), so the margin is ≥ 1.
  A strategy the catalogue marks as the floor (hand-written, no AD) is never recommended; it is
  quoted as a reference (`over_floor`).
- **Speed-up over the baseline** (the catalogue's `baseline`: rev-over-rev, nested-rev) and
  **margin over the runner-up** are time ratios with a spread, from the best evidence present:
  1. the harness's `ratio_to_baseline[_lo,_hi]` (per-block ratios measured interleaved);
  2. per-block ratios of the two cases' `block_medians_s` (same group, same block count: block k
     of both was measured in the same interleaved round), their BLOCK_QUANTILES percentiles;
  3. older records without blocks: the medians' 95 % notches (median ± 1.57·IQR/√rounds), the
     ratio's interval running from the notches' nearest to their farthest ends.
  The two are **within noise** when the interval reaches 1.
- **Avoid**: adoptable strategies that are wrong, failed, crashed, over budget or out of memory
  (with the reason), and correct ones slower than AVOID_FACTOR × the recommended one.
- **Spellings**: a named spelling of a strategy (`rev-over-fwd:jacfwd`, the same maths written
  another way) is never avoided. Where the run is about one user configuration (`make advise`
  writes `spellings_compete`, see `reports.runs`), spellings are candidates like strategies: the
  decision names the fastest correct *code* ("use fwd-over-rev written as torch.func.jvp over
  torch.func.grad (`fwd-over-rev:func`)"), with its margin over the runner-up. Elsewhere (the named
  sets) a strategy's name means its kept spelling and a spelling is neither recommended nor
  runner-up; `spellings_list` gives, per strategy
  of the group, each measured spelling's time ratio to the strategy with its spread: the spread of
  one strategy over the ways of writing it.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reports.roles import baseline_of, error_model, is_floor, spelling_description, spelling_of

GROUP = ["instance", "backend", "variant", "dtype", "device", "env_id"]
"""The cases compared with each other: one decision each."""
AVOID_FACTOR = 10.0
"""A correct strategy slower than this many times the recommended one is listed under `avoid`."""
AVOID_STATUSES = ("wrong", "failed", "crashed", "over budget", "out of memory")
NOTCH = 1.57
"""95 % notch of a median: NOTCH·IQR/√rounds (McGill, Tukey & Larsen 1978)."""
BLOCK_QUANTILES = (10.0, 90.0)
"""Percentiles of the per-block ratios that give a pairwise ratio's spread."""


# -- pairwise uncertainty ----------------------------------------------------------------------
@dataclass(frozen=True)
class Ratio:
    """A time ratio slow/fast (≥ 1 when `fast` is faster) and its spread [lo, hi].

    `method`: "harness" (the harness's ratio_to_baseline), "blocks" (per-block ratios),
    "notches" (medians' notches), "same" (a case against itself) or "none" (no spread known).
    """

    value: float
    lo: float
    hi: float
    method: str

    @property
    def within_noise(self) -> bool | None:
        """True when the spread reaches 1 (the two cannot be told apart); None if unknown."""
        if self.method == "none" or not math.isfinite(self.lo):
            return None
        return bool(self.lo <= 1.0)


def _number(record, key) -> float | None:
    value = record.get(key) if hasattr(record, "get") else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def block_medians(record) -> np.ndarray | None:
    """The record's per-block medians as an array (None when absent or not all positive)."""
    blocks = record.get("block_medians_s") if hasattr(record, "get") else None
    if isinstance(blocks, str):  # from a CSV
        blocks = [float(b) for b in blocks.strip("[]").split(",") if b.strip()]
    if blocks is None or isinstance(blocks, float) or len(blocks) == 0:
        return None
    values = np.asarray(blocks, dtype=float)
    return values if np.all(np.isfinite(values)) and np.all(values > 0) else None


def notch(record) -> float | None:
    """Half-width of the median's 95 % notch, NOTCH·IQR/√rounds (None without IQR or rounds)."""
    iqr, rounds = _number(record, "iqr_s"), _number(record, "rounds")
    if iqr is None or rounds is None or rounds < 1:
        return None
    return NOTCH * iqr / math.sqrt(rounds)


def pairwise_ratio(slow, fast, paired: bool = True) -> Ratio:
    """time(slow) / time(fast) with its spread: per-block ratios where both records carry the
    same number of blocks (≥ 2; or one was dropped by the race after its first blocks) and were
    measured interleaved (`paired`: the same comparison group), else the medians' notches, else
    no spread."""
    a, b = (block_medians(slow), block_medians(fast)) if paired else (None, None)
    if a is not None and b is not None and len(a) != len(b):
        # a case the race dropped was timed in the group's first blocks only: block k is the same
        # interleaved round for both, so its ratio is taken over the blocks both were timed in
        short = slow if len(a) < len(b) else fast
        if _number(short, "dropped_after_blocks") == min(len(a), len(b)):
            a, b = a[: min(len(a), len(b))], b[: min(len(a), len(b))]
    if a is not None and b is not None and len(a) == len(b) and len(a) >= 2:
        ratios = a / b
        lo, hi = np.percentile(ratios, BLOCK_QUANTILES)
        return Ratio(float(np.median(ratios)), float(lo), float(hi), "blocks")
    ms, mf = _number(slow, "median_s"), _number(fast, "median_s")
    value = ms / mf
    ns, nf = notch(slow), notch(fast)
    if ns is None or nf is None:
        return Ratio(value, value, value, "none")
    lo = (ms - ns) / (mf + nf)
    hi = (ms + ns) / (mf - nf) if mf > nf else math.inf
    return Ratio(value, lo, hi, "notches")


def speedup_over(baseline, best) -> Ratio:
    """time(baseline) / time(best): the harness's ratio_to_baseline when `best` carries it for
    this baseline, else `pairwise_ratio(baseline, best)`."""
    if best.get("strategy") == baseline.get("strategy"):
        return Ratio(1.0, 1.0, 1.0, "same")
    ratio = _number(best, "ratio_to_baseline")
    lo, hi = _number(best, "ratio_to_baseline_lo"), _number(best, "ratio_to_baseline_hi")
    named = best.get("baseline_strategy")
    named = named if isinstance(named, str) else baseline.get("strategy")
    if ratio and lo and hi and named == baseline.get("strategy"):
        return Ratio(1 / ratio, 1 / hi, 1 / lo, "harness")
    return pairwise_ratio(baseline, best)


# -- what to avoid -----------------------------------------------------------------------------
def short_reason(record, limit: int = 110) -> str:
    """Why a case is to be avoided, in a few words: its status and the first line of its error
    (without the source location the harness appends)."""
    status = record.get("status")
    if status == "wrong":
        err, tol = _number(record, "grad_rel_err"), _number(record, "tolerance")
        if err is not None and tol is not None:
            return f"wrong: error {err:.1e} > tolerance {tol:.1e}"
    error = str(record.get("error") or "").strip().splitlines()
    message = re.sub(r" at [\w./<>-]+\.py:\d+$", "", error[0]) if error else ""
    text = f"{status}: {message}" if message else str(status)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def avoid_list(adoptable: pd.DataFrame, best_median: float | None) -> list[dict]:
    """[{strategy, reason, full}] for the adoptable cases of one group a user should not pick."""
    out = []
    for _, r in adoptable.sort_values("strategy").iterrows():
        if r["status"] in AVOID_STATUSES:
            out.append(
                {"strategy": r["strategy"], "reason": short_reason(r), "full": str(r.get("error") or "")}
            )
        elif r["status"] == "ok" and best_median and r["median_s"] > AVOID_FACTOR * best_median:
            factor = r["median_s"] / best_median
            reason = dropped_text(r) or f"{factor:.0f}× slower"
            out.append(
                {"strategy": r["strategy"], "reason": reason, "full": str(r.get("dropped_reason") or "")}
            )
    return out


def dropped_text(record) -> str:
    """How a case the race stopped timing reads (never as a precise time it did not earn):
    "≥ 3.1× the fastest, dropped after 4 blocks", or "410× the fastest's first call, timed once";
    "" for a case timed to the end."""
    after = _number(record, "dropped_after_blocks")
    ratio, lo = _number(record, "ratio_to_fastest"), _number(record, "ratio_to_fastest_lo")
    if after is None or ratio is None:
        return ""
    if after == 0:
        return f"{ratio:.0f}× the fastest's first call, timed once"
    return f"≥ {lo if lo is not None else ratio:.3g}× the fastest, dropped after {after:.0f} blocks"


# -- the decision ------------------------------------------------------------------------------
def _caveats(best, runner, margin: Ratio | None) -> list[str]:
    """What is not settled (⚠), and only that: competing load; a leader within noise of the
    runner-up (unless the race settled them as a tie within its band); a group the race stopped at
    its time limit before its ranking settled."""
    notes = []
    loaded = [r for r in (best, runner) if r is not None and flag(r.get("contended")) is True]
    if loaded:
        note = loaded[0].get("load_note")
        names = " and ".join(r["strategy"] for r in loaded)
        notes.append(f"{names} measured under competing load" + (f" ({note})" if note else ""))
    verdict = best.get("race_verdict")
    out_of_time = " when the timing reached its time limit" if verdict == "budget" else ""
    if runner is not None and margin is not None and margin.within_noise and verdict != "tie":
        notes.append(
            f"{best['strategy']} within noise of {runner['strategy']}{out_of_time}: either may be faster"
        )
    elif out_of_time:
        notes.append("the timing reached its time limit before the ranking settled")
    return notes


def why_none(adoptable: pd.DataFrame, group: pd.DataFrame) -> str:
    if adoptable.empty:
        return "only the hand-written floor ran" if len(group) else "nothing ran"
    counts = adoptable["status"].value_counts()
    parts = ", ".join(f"{n} {s}" for s, n in counts.items())
    if set(counts.index) <= {"unsupported", "skipped"}:
        return f"no AD strategy can run here ({parts})"
    return f"no AD strategy passed the reference check ({parts})"


def spellings_list(g: pd.DataFrame, problem: str) -> list[dict]:
    """[{strategy, spelling, ratio, lo, hi, method, status}] for the named spellings in one group:
    time(spelling) / time(its strategy) from the interleaved blocks (None when either is not ok)."""
    out = []
    ok = g[g["status"] == "ok"]
    for _, r in g.sort_values("strategy").iterrows():
        parent = spelling_of(problem, r["strategy"])
        if parent is None:
            continue
        entry = {"strategy": parent, "spelling": r["strategy"], "status": r["status"], "ratio": None,
                 "lo": None, "hi": None, "method": None}  # fmt: skip
        base = ok[ok["strategy"] == parent]
        if r["status"] == "ok" and len(base):
            ratio = pairwise_ratio(r, base.iloc[0])
            entry.update(ratio=ratio.value, lo=ratio.lo, hi=ratio.hi, method=ratio.method)
        out.append(entry)
    return out


def spellings_text(entries: list[dict]) -> str:
    """Each spelling's time over its strategy's: "rev-over-fwd:jacfwd 1.62× (1.55–1.70); …"."""
    parts = []
    for e in entries:
        if e["ratio"] is None:
            parts.append(f"{e['spelling']} ({e['status']})")
        else:
            parts.append(f"{e['spelling']} {format_ratio(e['ratio'], e['lo'], e['hi'], e['method'])}")
    return "; ".join(parts)


def decide_group(g: pd.DataFrame) -> dict:
    """The decision for one group (cases of one instance, backend, variant, dtype, device, env)."""
    problem = g["problem"].iloc[0]
    floor_mask = g["strategy"].map(lambda s: is_floor(problem, s)).astype(bool)
    spelling_mask = g["strategy"].map(lambda s: spelling_of(problem, s) is not None).astype(bool)
    spellings = spellings_list(g, problem)
    compete = spellings_compete(g)
    if not compete:
        g, floor_mask = g[~spelling_mask], floor_mask[~spelling_mask]
    adoptable = g[~floor_mask]
    ok = adoptable[adoptable["status"] == "ok"].sort_values(["median_s", "strategy"])
    proper = adoptable[~spelling_mask[adoptable.index]]  # what `avoid` lists: strategies, not spellings
    baseline = baseline_of(problem)
    row = {
        "problem": problem,
        "baseline": baseline,
        "strategies_ok": len(ok),
        "strategies_tried": len(adoptable),
    }
    row["spellings_list"] = spellings
    row["spellings"] = spellings_text(spellings)
    row["spellings_compete"] = compete
    if ok.empty:
        row.update(recommended=None, why_none=why_none(adoptable, g))
        row["avoid_list"] = avoid_list(proper, None)
        return row
    best = ok.iloc[0]
    runner = ok.iloc[1] if len(ok) > 1 else None
    margin = pairwise_ratio(runner, best) if runner is not None else None
    if margin is not None and margin.value < 1:
        # the medians over all rounds and the per-block ratio of the two disagree (they are within
        # noise of each other): the direct, interleaved comparison of the two decides
        best, runner = runner, best
        upper = 1 / margin.lo if margin.lo > 0 else math.inf
        margin = Ratio(1 / margin.value, 1 / margin.hi, upper, margin.method)
    row.update(
        recommended=best["strategy"],
        recommended_spelling_of=spelling_of(problem, best["strategy"]),
        median_s=float(best["median_s"]),
        why_none="",
        peak_memory_bytes=best.get("peak_memory_bytes"),
        memory_method=best.get("memory_method"),
        xla_temp_bytes=best.get("xla_temp_bytes"),
        compile_s=best.get("compile_s"),
    )
    base = ok[ok["strategy"] == baseline]
    if len(base):
        s = speedup_over(base.iloc[0], best)
        row.update(speedup=s.value, speedup_lo=s.lo, speedup_hi=s.hi, speedup_method=s.method)
    else:
        status = adoptable.loc[adoptable["strategy"] == baseline, "status"]
        row["baseline_status"] = status.iloc[0] if len(status) else "not run"
    if runner is not None:
        m = margin
        row.update(
            runner_up=runner["strategy"],
            margin=m.value,
            margin_lo=m.lo,
            margin_hi=m.hi,
            margin_method=m.method,
            within_noise=m.within_noise,
        )
    floors = g[floor_mask & (g["status"] == "ok")]
    if len(floors):
        row["floor"] = floors.sort_values("median_s").iloc[0]["strategy"]
        row["over_floor"] = float(best["median_s"] / floors["median_s"].min())
    row["caveats"] = _caveats(best, runner, margin)
    row["avoid_list"] = avoid_list(proper, float(best["median_s"]))
    return row


def spellings_compete(g: pd.DataFrame) -> bool:
    """Whether the group's spellings are candidates for the answer (`reports.runs.spellings_compete`:
    a run about one user configuration, `make advise`), not only the spread of their strategy."""
    if "spellings_compete" not in g:
        return False
    return bool(g["spellings_compete"].map(lambda v: flag(v) is True).any())


def code_text(problem: str, name: str) -> str:
    """The code a decision names: a strategy's name, or for a spelling what it is written with,
    "fwd-over-rev written as torch.func.jvp over torch.func.grad (`fwd-over-rev:func`)"."""
    parent = spelling_of(problem, name)
    if parent is None:
        return name
    how = re.sub(r"^(JAX|PyTorch): ", "", spelling_description(problem, name)).split(" (not ")[0]
    return f"{parent} written as {how} (`{name}`)"


COLUMNS = [
    "recommended",
    "recommended_spelling_of",
    "median_s",
    "speedup",
    "speedup_lo",
    "speedup_hi",
    "speedup_method",
    "baseline",
    "baseline_status",
    "runner_up",
    "margin",
    "margin_lo",
    "margin_hi",
    "margin_method",
    "within_noise",
    "peak_memory_bytes",
    "memory_method",
    "xla_temp_bytes",
    "compile_s",
    "floor",
    "over_floor",
    "caveats",
    "avoid",
    "avoid_list",
    "spellings",
    "spellings_list",
    "spellings_compete",
    "why_none",
    "strategies_ok",
    "strategies_tried",
]


def decide(df: pd.DataFrame) -> pd.DataFrame:
    """One row per group (GROUP), in reading order (family, size, framework, default compile mode
    first, dtype, device): the recommendation or why there is none, speed-up over the baseline and
    margin over the runner-up with their spreads, peak memory, compile time, the floor ratio, and
    what to avoid (`avoid_list` of {strategy, reason, full}; `avoid` as one string)."""
    from backends import DEFAULT_VARIANT
    from reports.labels import add_labels

    if df.empty:
        return pd.DataFrame(columns=GROUP + ["problem", "family", "label"] + COLUMNS)
    if "label" not in df:
        df = add_labels(df)
    rows = []
    for key, g in df.groupby(GROUP, dropna=False, sort=False):
        first = g.iloc[0]
        row = {
            **dict(zip(GROUP, key)),
            "family": first["family"],
            "label": first["label"],
            "order_key": first["order_key"],
            **decide_group(g),
        }
        row["avoid"] = "; ".join(f"{a['strategy']} ({a['reason']})" for a in row["avoid_list"])
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in out:
            out[col] = None
    default_first = [0 if DEFAULT_VARIANT.get(b) == v else 1 for b, v in zip(out["backend"], out["variant"])]
    out = out.assign(_default=default_first)
    out = out.sort_values(
        ["order_key", "backend", "_default", "variant", "dtype", "device", "env_id"],
        key=lambda s: s.map(str) if s.name != "order_key" else s,
    )
    return out.drop(columns=["_default"]).reset_index(drop=True)


# -- the terminal ------------------------------------------------------------------------------
def format_ratio(value, lo, hi, method) -> str:
    """A ratio with its spread, "1.53× (1.41–1.66)", or just "1.53×" without one."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if method in ("none", "same") or lo is None or not math.isfinite(hi if hi is not None else math.inf):
        return f"{value:.2f}×" + (" (no spread)" if method == "none" else "")
    return f"{value:.2f}× ({lo:.2f}–{hi:.2f})"


def speedup_text(r) -> str:
    if isinstance(r.get("baseline_status"), str) and pd.isna(r.get("speedup")):
        return f"{r['baseline']} {r['baseline_status']}"
    if r.get("recommended") == r.get("baseline"):
        return f"is {r['baseline']}"
    ratio = format_ratio(r["speedup"], r["speedup_lo"], r["speedup_hi"], r["speedup_method"])
    return f"{ratio} vs {r['baseline']}"


def margin_text(r) -> str:
    if not isinstance(r.get("runner_up"), str):
        return "no runner-up"
    ratio = format_ratio(r["margin"], r["margin_lo"], r["margin_hi"], r["margin_method"])
    noise = {True: ", within noise", False: "", None: ", spread unknown"}[flag(r.get("within_noise"))]
    return f"{ratio} over {r['runner_up']}{noise}"


def flag(value) -> bool | None:
    """A yes/no/unknown column value as True/False/None (numpy bools and NaN included)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


PAGE = 4096
"""The resident reading's unit (`bench.memory`): an evaluation served from heap pages the process
already held reads less than one page, which is not what it needs."""


def memory_text(r) -> str:
    """The recommended case's peak memory; a resident reading under one page says so (and gives
    XLA's planned scratch where known) instead of "0 B"."""
    from reports.html import format_bytes

    value = r["peak_memory_bytes"]
    if r.get("memory_method") != "resident high-water mark" or value >= PAGE:
        return format_bytes(value)
    plan = _number(r, "xla_temp_bytes")
    planned = f", XLA plans {format_bytes(plan)} of scratch" if plan is not None else ""
    return f"< 4 KiB of new resident pages{planned}"


def terminal_table(decisions: pd.DataFrame) -> str:
    from reports.html import format_seconds
    from reports.labels import framework

    lines = []
    for fam, block in decisions.groupby("family", sort=False):
        lines.append(f"{fam}")
        for _, r in block.iterrows():
            where = f"  {r['label']} · {framework(r['backend'])} {r['variant']} · {r['dtype']} {r['device']}"
            if not isinstance(r.get("recommended"), str):
                lines.append(f"{where}: no recommendation ({r['why_none']})")
            else:
                extras = [format_seconds(r["median_s"]), speedup_text(r), margin_text(r)]
                if pd.notna(r.get("peak_memory_bytes")):
                    extras.append(f"memory {memory_text(r)}")
                if pd.notna(r.get("compile_s")):
                    extras.append(f"compile {r['compile_s']:.3g} s")
                model = error_model(r["problem"], r["recommended"])
                approx = f" [approximate: {model}]" if model != "exact" else ""
                code = code_text(r["problem"], r["recommended"])
                lines.append(f"{where}: use {code}{approx} ({'; '.join(extras)})")
                if r.get("caveats"):
                    short = [re.sub(r" \(.*\)$", "", c) for c in r["caveats"]]  # without the load readings
                    lines.append(f"      ⚠ {'; '.join(short)}")
            if r["avoid"]:
                lines.append(f"      avoid: {r['avoid']}")
            if isinstance(r.get("spellings"), str) and r["spellings"]:
                lines.append(f"      spellings (time over their strategy's): {r['spellings']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.decision", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (each with results.jsonl)")
    args = p.parse_args(argv)
    missing = [r for r in args.runs if not (Path(r) / "results.jsonl").exists()]
    if missing:
        print(f"error: no results.jsonl in {', '.join(missing)}", file=sys.stderr)
        return 2
    from reports.runs import load_runs

    df, _ = load_runs([Path(r) for r in args.runs])
    print(terminal_table(decide(df)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
