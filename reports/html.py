"""HTML building blocks shared by the report sections: tables, embedded figures, formatting."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
h1{margin-bottom:0} .sub{color:#666;margin-top:.2em}
nav a{margin-right:1em}
table{border-collapse:collapse;font-size:13px;margin:.8em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
td.text,th.text{text-align:left;white-space:normal;max-width:60em}
th{background:#f0f0f0;position:sticky;top:0}
tr.status-wrong td,tr.status-crashed td{background:#fdd}
tr.status-failed td,tr.status-over-budget td,tr.status-out-of-memory td{background:#ffe9cc}
tr.status-unsupported td,tr.status-skipped td{color:#888}
td.best{font-weight:bold;background:#e4f5e4}
td.slow{color:#a33}
.figure{margin:1em 0} img{max-width:100%;border:1px solid #eee}
.note{color:#555;font-size:13px;max-width:80em}
.scroll{overflow-x:auto;max-width:100%}
"""

TEXT_COLUMNS = {"case_id", "error", "strategy", "problem", "backend", "status", "variant", "message"}


def figure_png(fig) -> str:
    """Encode a matplotlib figure as base64 PNG (the report must open offline)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def img(png: str, alt: str) -> str:
    return f'<div class="figure"><img alt="{html.escape(alt)}" src="data:image/png;base64,{png}"></div>'


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA


def fmt(value, col: str = "") -> str:
    """Human formatting by column kind; missing values (None/NaN) show as an em dash."""
    if is_missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if col.endswith("_s") and col != "compile_s" and isinstance(value, (int, float)):
        return format_seconds(value)
    if col == "compile_s":
        return f"{value:.3g} s"
    if (col.endswith("_bytes") or col == "peak_memory_bytes") and isinstance(value, (int, float)):
        return format_bytes(value)
    if (col.endswith("rel_err") or col == "tolerance") and isinstance(value, (int, float)):
        return f"{value:.2e}"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} GiB"


def table(df: pd.DataFrame, cols: list[str], css_class: str = "", cell_class=None) -> str:
    """An HTML table of `cols`; rows get `status-<status>` classes; `cell_class(row, col)` adds
    per-cell classes (e.g. highlighting the best)."""
    cols = [c for c in cols if c in df.columns]
    head = "".join(f'<th class="{"text" if c in TEXT_COLUMNS else ""}">{html.escape(c)}</th>' for c in cols)
    rows = []
    for _, row in df.iterrows():
        status = str(row.get("status", "") or "")
        cls = f' class="status-{status.replace(" ", "-")}"' if status else ""
        cells = []
        for c in cols:
            classes = ["text"] if c in TEXT_COLUMNS else []
            if cell_class is not None:
                extra = cell_class(row, c)
                if extra:
                    classes.append(extra)
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(fmt(row[c], c))}</td>")
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'
