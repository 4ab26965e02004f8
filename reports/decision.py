"""The decision a report exists for: per problem instance × framework × compile mode × dtype ×
device, which AD strategy to use, by how much it wins, and what to avoid.

`decide(df)` works on the tidy frame of `reports.render.load_runs`; `python -m reports.decision
RUN_DIR [RUN_DIR ...]` prints the same table in the terminal. The recommended strategy is the
fastest one whose gradient passed the reference check; a strategy the catalogue marks as the floor
(hand-written, no AD) is never recommended. Speed-ups are quoted against the catalogue's baseline
(rev-over-rev, or nested-rev for higher-order losses), measured in the same group.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from problems import PROBLEMS, catalogue

GROUP = ["instance", "backend", "variant", "dtype", "device", "env_id"]
AVOID_FACTOR = 10.0
"""A correct strategy slower than this many times the recommended one is listed under `avoid`."""


def _catalogue_of(problem: str):
    cls = PROBLEMS.get(problem)
    return catalogue(cls.kind) if cls is not None else None


def is_floor(problem: str, strategy: str) -> bool:
    """Whether `strategy` is the hand-written floor of `problem`'s catalogue (never a winner)."""
    strategies = _catalogue_of(problem)
    return bool(strategies and strategy in strategies and strategies[strategy].floor)


def baseline_of(problem: str) -> str | None:
    strategies = _catalogue_of(problem)
    return strategies.baseline if strategies is not None else None


def _median(row) -> float:
    return float(row["median_s"])


def decide(df: pd.DataFrame) -> pd.DataFrame:
    """One row per group: recommended strategy, its median, speed-up over the baseline, the
    runner-up and the margin (runner-up / recommended), peak memory, compile time, and the
    strategies to avoid with the reason (wrong, failed, crashed, over budget, > AVOID_FACTOR×)."""
    rows = []
    for key, g in df.groupby(GROUP, dropna=False, sort=True):
        problem = g["problem"].iloc[0]
        adoptable = g[~g["strategy"].map(lambda s: is_floor(problem, s))]
        ok = adoptable[adoptable["status"] == "ok"].sort_values("median_s")
        row = dict(zip(GROUP, key), problem=problem)
        if ok.empty:
            row["recommended"] = None
            row["why_none"] = "no AD strategy passed the reference check" if len(adoptable) else "no AD strategy ran"
        else:
            best = ok.iloc[0]
            baseline = baseline_of(problem)
            base = ok[ok["strategy"] == baseline]
            row.update(
                recommended=best["strategy"],
                median_s=_median(best),
                speedup_vs_baseline=_median(base.iloc[0]) / _median(best) if len(base) else float("nan"),
                baseline=baseline,
                runner_up=ok.iloc[1]["strategy"] if len(ok) > 1 else None,
                margin=_median(ok.iloc[1]) / _median(best) if len(ok) > 1 else float("nan"),
                peak_memory_bytes=best.get("peak_memory_bytes"),
                compile_s=best.get("compile_s"),
            )
        avoid = []
        for _, r in adoptable.sort_values("strategy").iterrows():
            if r["status"] in ("wrong", "failed", "crashed", "over budget", "out of memory"):
                avoid.append(f"{r['strategy']} ({r['status']})")
            elif r["status"] == "ok" and not ok.empty and _median(r) > AVOID_FACTOR * row["median_s"]:
                avoid.append(f"{r['strategy']} ({_median(r) / row['median_s']:.0f}× slower)")
        row["avoid"] = "; ".join(avoid)
        rows.append(row)
    return pd.DataFrame(rows)


def terminal_table(decisions: pd.DataFrame) -> str:
    from reports.html import format_seconds

    lines = []
    for _, r in decisions.iterrows():
        where = f"{r['instance']} {r['backend']}/{r['variant']} {r['dtype']} {r['device']}"
        if not isinstance(r.get("recommended"), str):
            lines.append(f"{where}: no recommendation ({r['why_none']})")
            continue
        speedup = r["speedup_vs_baseline"]
        vs = f", {speedup:.2f}× {r['baseline']}" if pd.notna(speedup) else ""
        runner = f", next {r['runner_up']} at {r['margin']:.2f}×" if isinstance(r.get("runner_up"), str) else ""
        lines.append(f"{where}: use {r['recommended']} ({format_seconds(r['median_s'])}{vs}{runner})")
        if r["avoid"]:
            lines.append(f"    avoid: {r['avoid']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.decision", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (each with results.jsonl)")
    args = p.parse_args(argv)
    missing = [r for r in args.runs if not (Path(r) / "results.jsonl").exists()]
    if missing:
        print(f"error: no results.jsonl in {', '.join(missing)}", file=sys.stderr)
        return 2
    from reports.render import load_runs

    df, _ = load_runs([Path(r) for r in args.runs])
    print(terminal_table(decide(df)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
