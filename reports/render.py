"""Render one or more run directories into `results.csv` and a self-contained `report.html`.

`python -m reports.render RUN_DIR [RUN_DIR ...] [--out DIR]`: several runs (machines, devices,
shards) merge into one report; figures are embedded as PNG data, so the page opens offline.

`--when-told`: import everything rendering needs first (the frameworks too, for the code section:
about 4 s of an 8 s render on a 2-core VM), then wait for a line `go` on standard input; end of
input without it exits without rendering. `make advise` starts it so while the run starts up, and
the report then follows the run by the render's own work.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

import pandas as pd

from problems.errors import BenchInputError
from reports.html import FILTER_SCRIPT, STYLE, section
from reports.runs import load_runs
from reports.sections import Context, render_sections


def subtitle(ctx: Context) -> str:
    """One line under the title: runs, case counts by status, machines and commits."""
    runs = ", ".join(Path(r).name for r in ctx.run_dirs) or "—"
    counts = ctx.latest["status"].value_counts()
    statuses = ", ".join(f"{n} {s}" for s, n in counts.items())
    machines = sorted(
        {
            f"{e.get('cpu', '?')}, {e.get('threads', '?')} threads"
            + (f", {e['gpu']}" if e.get("gpu") else "")
            for e in ctx.envs
            if not str(e.get("env_id", "")).startswith("external:")
        }
    )
    commits = sorted({str(e["commit"]) for e in ctx.envs if e.get("commit")})
    parts = [f"runs: {runs}", f"{len(ctx.latest)} cases ({statuses})"]
    parts += ["; ".join(machines)] if machines else []
    parts += [f"commit {', '.join(commits)}"] if commits else []
    return " · ".join(parts)


def render_html(ctx: Context) -> str:
    sections = render_sections(ctx)
    nav = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>nested-ad-bench: which AD strategy to use</title>"
        f"<style>{STYLE}</style></head><body><h1>nested-ad-bench: which AD strategy to use</h1>"
        f"<p class='sub'>{html.escape(subtitle(ctx))}</p><nav>{nav}</nav>{body}{FILTER_SCRIPT}</body></html>"
    )


def to_csv(df: pd.DataFrame, path: Path) -> None:
    """The tidy CSV: list-valued columns (block medians) as JSON arrays."""
    out = df.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (list, tuple))).any():
            out[col] = out[col].map(lambda v: json.dumps(list(v)) if isinstance(v, (list, tuple)) else v)
    out.to_csv(path, index=False)


def render(run_dirs: list[Path], out: Path, external: list[Path] = ()) -> list[Path]:
    """Write results.csv and report.html for `run_dirs` (and external CSVs) into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df, envs = load_runs([Path(r) for r in run_dirs], [Path(e) for e in external])
    csv_path, html_path = out / "results.csv", out / "report.html"
    to_csv(df, csv_path)
    ctx = Context(df=df, envs=envs, run_dirs=[Path(r) for r in run_dirs], csv_path=csv_path)
    html_path.write_text(render_html(ctx), encoding="utf-8")
    return [csv_path, html_path]


def prepare() -> None:
    """Import what `render` imports on the way (the installed frameworks' backends, whose strategy
    code the page shows), so that a render started early has only its own work left."""
    import importlib

    from backends import BACKENDS, get_backend

    for module in ("reports.source", "matplotlib.pyplot"):
        importlib.import_module(module)
    for name in BACKENDS:
        try:
            get_backend(name)
        except ImportError:  # a framework that is not installed: its code is not shown either
            pass


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.render", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (each with results.jsonl)")
    p.add_argument("--out", help="output directory (default: the single run directory)")
    p.add_argument("--external", action="append", default=[], help="CSV of external results (repeatable)")
    p.add_argument("--when-told", action="store_true",
                   help="import first, then render once standard input says `go` (else exit)")  # fmt: skip
    args = p.parse_args(argv)
    if args.when_told:
        prepare()
        if sys.stdin.readline().strip() != "go":
            return 0
    missing = [r for r in args.runs if not (Path(r) / "results.jsonl").exists()]
    if missing:
        print(f"error: no results.jsonl in {', '.join(missing)}", file=sys.stderr)
        return 2
    if not args.out and len(args.runs) > 1:
        print("error: --out is required when merging several runs", file=sys.stderr)
        return 2
    try:
        paths = render(args.runs, Path(args.out or args.runs[0]), args.external)
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
