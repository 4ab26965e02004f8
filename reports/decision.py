"""The decision in the terminal: `python -m reports.decision RUN_DIR [RUN_DIR ...]` prints one
line per verdict (`reports.verdict`: per problem instance × framework × compile mode × dtype ×
device, which AD strategy to use, by how much it wins, what to avoid) in the words of
`reports.wording`. `make advise` and `bench.run` print it. No plotting import: it loads fast."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reports.runs import load_runs
from reports.verdict import Verdict, verdicts
from reports.wording import (
    avoid_text,
    caveats_text,
    compile_text,
    margin_text,
    speedup_text,
    spellings_line,
    time_text,
    use_text,
    verdict_memory,
    where_text,
)


def by_family(items: list[Verdict]) -> dict[str, list[Verdict]]:
    """The verdicts under their family headings, in reading order."""
    out: dict[str, list[Verdict]] = {}
    for v in items:
        out.setdefault(v.family, []).append(v)
    return out


def verdict_lines(v: Verdict) -> list[str]:
    """One verdict: "  101 points · JAX jit · float32 cpu: use taylor (…)", then ⚠, avoid and
    spellings lines where there are any."""
    where = f"  {v.label} · {where_text(v)}"
    if v.leader is None:
        lines = [f"{where}: no recommendation ({v.why_none})"]
    else:
        extras = [time_text(v), speedup_text(v), margin_text(v)]
        if v.peak_memory_bytes is not None:
            extras.append(f"memory {verdict_memory(v)}")
        if v.compile_s is not None:
            extras.append(f"compile {compile_text(v)}")
        lines = [f"{where}: use {use_text(v)} ({'; '.join(extras)})"]
        if v.caveats:
            lines.append(f"      {caveats_text(v)}")
    if v.avoid:
        lines.append(f"      avoid: {avoid_text(v)}")
    if v.spellings:
        lines.append(f"      spellings (time over their strategy's): {spellings_line(v)}")
    return lines


def terminal_table(items: list[Verdict]) -> str:
    lines = []
    for fam, block in by_family(items).items():
        lines.append(fam)
        for v in block:
            lines += verdict_lines(v)
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.decision", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (each with results.jsonl)")
    args = p.parse_args(argv)
    missing = [r for r in args.runs if not (Path(r) / "results.jsonl").exists()]
    if missing:
        print(f"error: no results.jsonl in {', '.join(missing)}", file=sys.stderr)
        return 2
    df, _ = load_runs([Path(r) for r in args.runs])
    print(terminal_table(verdicts(df)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
