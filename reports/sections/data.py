"""Data on demand: every table collapsed, one client-side filter (problem, framework, device, dtype,
status) over all of them, and the CSV — beside the page and embedded in it."""

from __future__ import annotations

import base64
import html

import pandas as pd

from reports.html import FILTER_KEYS, details, table

ANCHOR, TITLE = "data", "Data"

CASE_COLUMNS = ("family", "label", "backend", "compile_mode", "strategy", "dtype", "device", "status")
"""What every table starts with: which case, and its verdict."""

TABLES = {
    "all": (
        "All cases",
        None,
        [
            *CASE_COLUMNS,
            "median_s",
            "dropped",
            "iqr_s",
            "rounds",
            "stable",
            "contended",
            "ratio_to_baseline",
            "compile_s",
            "peak_memory_bytes",
            "grad_rel_err",
            "tolerance",
            "threads",
            "case_id",
        ],
    ),
    "cost": (
        "Cost ratios and memory",
        "ok",
        [
            *CASE_COLUMNS,
            "median_s",
            "loss_median_s",
            "grad_over_loss",
            "over_floor",
            "peak_memory_bytes",
            "xla_temp_bytes",
            "program_ops",
            "n_params",
        ],
    ),
    "correctness": (
        "Correctness",
        "checked",
        [
            *CASE_COLUMNS,
            "grad_rel_err",
            "value_rel_err",
            "tolerance",
            "case_id",
        ],
    ),
    "failures": (
        "Failures and unsupported",
        "bad",
        ["family", "label", "backend", "compile_mode", "strategy", "dtype", "device", "status", "error"],
    ),
}
"""Table id -> (title, which rows, columns)."""

FILTER_NAMES = {
    "problem": "problem",
    "backend": "framework",
    "device": "device",
    "dtype": "dtype",
    "status": "status",
}


def _rows(df: pd.DataFrame, which: str | None) -> pd.DataFrame:
    if which == "ok":
        return df[df["status"] == "ok"]
    if which == "checked":
        return df[df["status"].isin(["ok", "wrong"])].sort_values("status", ascending=False, kind="stable")
    if which == "bad":
        order = {
            "crashed": 0,
            "out of memory": 1,
            "failed": 2,
            "over budget": 3,
            "unsupported": 4,
            "skipped": 5,
        }
        return (
            df[~df["status"].isin(["ok", "wrong"])]
            .assign(_o=lambda d: d["status"].map(order).fillna(9))
            .sort_values("_o", kind="stable")
        )
    return df


def filter_form(df: pd.DataFrame) -> str:
    selects = []
    for key in FILTER_KEYS:
        values = sorted({str(v) for v in df[key].dropna()}) if key in df else []
        options = "<option value=''>all</option>" + "".join(
            f"<option value='{html.escape(v, quote=True)}'>{html.escape(v)}</option>" for v in values
        )
        selects.append(f"<label>{FILTER_NAMES[key]} <select name='{key}'>{options}</select></label>")
    return (
        f"<form class='filter' onsubmit='return false'>Filter every table below: {''.join(selects)}"
        "<button type='reset'>show all</button></form>"
    )


def csv_links(ctx) -> str:
    if ctx.csv_path is None or not ctx.csv_path.exists():
        return ""
    data = base64.b64encode(ctx.csv_path.read_bytes()).decode()
    name = html.escape(ctx.csv_path.name)
    return (
        f"<p>The tidy table, one row per case (columns documented in <code>reports/schema.py</code>): "
        f"<a href='{name}'>{name}</a> beside this page, or "
        f"<a download='{name}' href='data:text/csv;base64,{data}'>download the copy embedded in this page"
        "</a>.</p>"
    )


def render(ctx) -> str | None:
    df = ctx.latest.sort_values("order_key", kind="stable")
    if df.empty:
        return None
    body = csv_links(ctx) + filter_form(df)
    for ident, (title, which, cols) in TABLES.items():
        rows = _rows(df, which)
        if rows.empty:
            continue
        anchor = f"data-{ident}"
        summary = f"{html.escape(title)} (<span id='{anchor}-count'>{len(rows)}</span> rows)"
        body += details(
            summary, f"<div class='scroll'>{table(rows, cols, 'data', anchor=anchor, filterable=True)}</div>"
        )
    return body
