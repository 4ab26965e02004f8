"""Render one or more run directories into `results.csv` and a self-contained `report.html`.

`python -m reports.render RUN_DIR [RUN_DIR ...] [--out DIR]`: several runs (machines, devices,
shards) merge into one report; figures are embedded as PNG data, so the page opens offline.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

import pandas as pd

from bench.cases import instance_of
from bench.results import load_records
from problems.errors import BenchInputError
from reports.derived import add_derived
from reports.external import load_external
from reports.html import FILTER_SCRIPT, STYLE, section
from reports.schema import COLUMNS
from reports.sections import Context, render_sections


def load_runs(run_dirs: list[Path], external: list[Path] = ()) -> tuple[pd.DataFrame, list[dict]]:
    """Tidy frame of all records (the last record of a case in a run wins), plus validated
    external rows (labelled `[external]`), and the runs' environments."""
    frames, envs = [], []
    for run in run_dirs:
        run = Path(run)
        records = load_records(run / "results.jsonl")
        env = {}
        if (run / "environment.json").exists():
            env = json.loads((run / "environment.json").read_text())
            envs.append({"run_id": run.name, **env})
        if records:
            df = pd.DataFrame(records).drop_duplicates("case_id", keep="last")
            df["run_id"] = run.name
            df["env_id"] = env.get("env_id", "")
            df["instance"] = df["case_id"].map(instance_of)
            frames.append(df)
    for path in external:
        frames.append(load_external(path))
        envs.append(
            {
                "run_id": f"external:{Path(path).name}",
                "env_id": f"external:{Path(path).stem}",
                "cpu": "measured elsewhere (see the rows' source column)",
            }
        )
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS)), envs
    df = pd.concat(frames, ignore_index=True)
    for col in COLUMNS:
        if col not in df:
            df[col] = None
    df = add_derived(df)
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[list(COLUMNS) + extra], envs


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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.render", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (each with results.jsonl)")
    p.add_argument("--out", help="output directory (default: the single run directory)")
    p.add_argument("--external", action="append", default=[], help="CSV of external results (repeatable)")
    args = p.parse_args(argv)
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
