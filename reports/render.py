"""Render one or more run directories into `results.csv` and a self-contained `report.html`.

`python -m reports.render RUN_DIR [RUN_DIR ...] [--out DIR]`: several runs (machines, devices,
shards) merge into one report; figures are embedded as PNG data, so the page opens offline.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from bench.results import load_records  # noqa: E402
from reports.schema import COLUMNS  # noqa: E402


def load_runs(run_dirs: list[Path]) -> tuple[pd.DataFrame, list[dict]]:
    """Tidy frame of all records (the last record of a case in a run wins) and environments."""
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
            frames.append(df)
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS)), envs
    df = pd.concat(frames, ignore_index=True)
    for col in COLUMNS:
        if col not in df:
            df[col] = None
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[list(COLUMNS) + extra], envs


def _figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def time_figure(df: pd.DataFrame) -> str | None:
    """Median time per strategy per backend (log scale), one panel per size × dtype."""
    ok = df[df["status"] == "ok"].copy()
    if ok.empty:
        return None
    ok["ms"] = ok["median_s"] * 1e3
    ok["panel"] = ok["problem"] + " " + ok["points"].astype("Int64").astype(str) + " pts, " + ok["dtype"]
    order = sorted(ok["strategy"].unique())
    g = sns.catplot(
        data=ok, kind="bar", x="ms", y="strategy", hue="backend", col="panel", col_wrap=2,
        order=order, height=3.2, aspect=1.5, sharex=False, errorbar=None,
    )  # fmt: skip
    for ax in g.axes.flat:
        ax.set_xscale("log")
        ax.set_xlabel("median ms per loss+gradient (log)")
    # IQR whiskers: one bar per (strategy, backend) in each panel.
    for panel, ax in zip(g.col_names, g.axes.flat):
        sub = ok[ok["panel"] == panel]
        hues = list(g._legend_data) if hasattr(g, "_legend_data") else sorted(sub["backend"].unique())
        for container, backend in zip(ax.containers, hues):
            for bar, strategy in zip(container, order):
                row = sub[(sub["strategy"] == strategy) & (sub["backend"] == backend)]
                if len(row) == 1 and row["iqr_s"].notna().all():
                    med, iqr = row["ms"].iloc[0], row["iqr_s"].iloc[0] * 1e3
                    y = bar.get_y() + bar.get_height() / 2
                    ax.plot([max(med - iqr / 2, 1e-6), med + iqr / 2], [y, y], color="black", lw=1)
    g.figure.suptitle("Median time (bars) and IQR (whiskers) per strategy", y=1.02)
    return _figure_png(g.figure)


def _fmt(value, col: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if col.endswith("_s") and col != "compile_s":
        return f"{value * 1e3:.4g} ms"
    if col == "compile_s":
        return f"{value:.3g} s"
    if col.endswith("rel_err") or col == "tolerance":
        return f"{value:.2e}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def html_table(df: pd.DataFrame, cols: list[str], css_class: str = "") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    rows = []
    for _, row in df.iterrows():
        status = str(row.get("status", ""))
        cls = f' class="status-{status.replace(" ", "-")}"'
        cells = "".join(f"<td>{html.escape(_fmt(row[c], c))}</td>" for c in cols)
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}
table{border-collapse:collapse;font-size:13px;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#eee}
tr.status-wrong td,tr.status-crashed td{background:#fdd}
tr.status-failed td,tr.status-over-budget td{background:#fed}
tr.status-unsupported td,tr.status-skipped td{color:#777}
img{max-width:100%}
"""


def render_html(df: pd.DataFrame, envs: list[dict]) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>nested-ad-bench report</title>"
             f"<style>{STYLE}</style></head><body><h1>nested-ad-bench report</h1>"]  # fmt: skip
    counts = df["status"].value_counts().to_dict()
    parts.append("<p>Cases: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "</p>")
    png = time_figure(df)
    if png:
        parts.append(
            f'<h2>Time per strategy</h2><img alt="time per strategy" src="data:image/png;base64,{png}">'
        )
    cols = ["problem", "points", "backend", "strategy", "variant", "device", "dtype", "status",
            "median_s", "iqr_s", "compile_s", "grad_rel_err", "tolerance"]  # fmt: skip
    table = df.sort_values(["problem", "points", "dtype", "backend", "median_s"], na_position="last")
    parts.append("<h2>All cases</h2>" + html_table(table, cols, "results"))
    bad = df[~df["status"].isin(["ok"])]
    if not bad.empty:
        parts.append("<h2>Not timed: failures, wrong results, unsupported</h2>")
        parts.append(html_table(bad, ["case_id", "status", "error"], "failures"))
    for env in envs:
        parts.append(f"<h2>Environment ({html.escape(env['run_id'])})</h2><pre>"
                     f"{html.escape(json.dumps(env, indent=1))}</pre>")  # fmt: skip
    parts.append("</body></html>")
    return "".join(parts)


def render(run_dirs: list[Path], out: Path) -> list[Path]:
    """Write results.csv and report.html for `run_dirs` into `out`; return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df, envs = load_runs([Path(r) for r in run_dirs])
    csv_path, html_path = out / "results.csv", out / "report.html"
    df.to_csv(csv_path, index=False)
    html_path.write_text(render_html(df, envs), encoding="utf-8")
    return [csv_path, html_path]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.render", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", help="run directories (each with results.jsonl)")
    p.add_argument("--out", help="output directory (default: the single run directory)")
    args = p.parse_args(argv)
    missing = [r for r in args.runs if not (Path(r) / "results.jsonl").exists()]
    if missing:
        print(f"error: no results.jsonl in {', '.join(missing)}", file=sys.stderr)
        return 2
    if not args.out and len(args.runs) > 1:
        print("error: --out is required when merging several runs", file=sys.stderr)
        return 2
    for path in render(args.runs, Path(args.out or args.runs[0])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
