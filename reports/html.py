"""HTML building blocks shared by the report sections: tables, embedded figures, findings,
collapsed details, formatting, and the page's only script (the data filter). Everything is
inline: the page opens offline, with no CDN and no network."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from reports.text import format_bytes, format_seconds  # noqa: E402

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1360px;
  padding:0 16px 2em;color:#222}
h1{font-size:21px;margin:10px 0 0} h2{font-size:19px;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
h3{font-size:16px;margin:1.1em 0 .3em} h4{font-size:14px;margin:.9em 0 .3em}
.sub{color:#555;margin:2px 0 4px;font-size:13px}
nav{font-size:13px;margin:2px 0 6px;line-height:1.6} nav a{margin-right:.9em;display:inline-block}
table{border-collapse:collapse;font-size:13px;margin:.6em 0}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
td.text,th.text{text-align:left;white-space:normal;max-width:60em}
th{background:#f0f0f0;position:sticky;top:0}
tr.status-wrong td,tr.status-crashed td,tr.status-out-of-memory td{background:#fdd}
tr.status-failed td,tr.status-over-budget td{background:#ffe9cc}
tr.status-unsupported td,tr.status-skipped td{color:#888}
td.best{font-weight:bold;background:#e4f5e4}
td.slow{color:#a33}
.figure{margin:.6em 0} img{max-width:100%;border:1px solid #eee}
.note{color:#555;font-size:13px;max-width:80em}
.scroll{overflow-x:auto;max-width:100%}
ul.findings{margin:.4em 0 .8em;padding-left:1.3em;max-width:85em} ul.findings li{margin:.15em 0}
details{margin:.4em 0} details>summary{cursor:pointer;font-weight:600}
details.code pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:8px;overflow-x:auto;font-size:12px;
  line-height:1.35}
details.code details{margin-left:1em}
.filter{font-size:13px;background:#f6f6f6;border:1px solid #ddd;padding:6px 8px;margin:.5em 0}
.filter label{margin-right:1em}
table.decision{width:100%;font-size:13px;margin-top:.3em}
table.decision td,table.decision th{padding:2px 6px}
table.decision tr.family th{text-align:left;background:#e8eef6;font-size:14px}
table.decision td.label{text-align:left;white-space:nowrap}
table.decision td.fw{text-align:left}
table.decision td.use{text-align:left;font-weight:600;white-space:normal;min-width:10em}
table.decision td.use .warn{font-weight:normal;font-size:12px}
table.decision td.margin,table.decision td.speedup{white-space:normal;min-width:8em}
table.decision td.avoid{text-align:left;white-space:normal;font-size:12px;color:#733;min-width:12em}
table.decision td.norec{text-align:left;white-space:normal;color:#a33}
table.decision .spread{color:#666;font-size:12px}
table.decision .noise{color:#8a6d00}
.warn{color:#b35900;cursor:help}
"""

FILTER_SCRIPT = """
<script>
(function () {
  function apply(form) {
    var want = {};
    form.querySelectorAll('select').forEach(function (s) { if (s.value) want[s.name] = s.value; });
    document.querySelectorAll('table.filterable').forEach(function (t) {
      var shown = 0, rows = t.tBodies[0] ? t.tBodies[0].rows : [];
      Array.prototype.forEach.call(rows, function (r) {
        var keep = Object.keys(want).every(function (k) { return r.dataset[k] === want[k]; });
        r.hidden = !keep; if (keep) shown++;
      });
      var count = document.getElementById(t.id + '-count');
      if (count) count.textContent = shown + ' of ' + rows.length;
    });
  }
  document.querySelectorAll('form.filter').forEach(function (form) {
    form.addEventListener('change', function () { apply(form); });
    form.addEventListener('reset', function () { setTimeout(function () { apply(form); }, 0); });
  });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    for (var e = el; e; e = e.parentElement) { if (e.tagName === 'DETAILS') e.open = true; }
    if (el) el.scrollIntoView();
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
})();
</script>
"""
"""Plain JavaScript, inline: the data filter (rows of every `table.filterable` keep those whose
data-* attributes match the selected values) and opening the <details> an anchor points into."""

TEXT_COLUMNS = {
    "case_id",
    "dropped",
    "error",
    "strategy",
    "problem",
    "backend",
    "status",
    "compile_mode",
    "message",
    "label",
    "family",
    "series",
    "config",
    "instance",
}
FILTER_KEYS = ("problem", "backend", "device", "dtype", "status")


def figure_png(fig) -> str:
    """Encode a matplotlib figure as base64 PNG (the report must open offline) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def img(png: str, alt: str) -> str:
    return f'<div class="figure"><img alt="{html.escape(alt)}" src="data:image/png;base64,{png}"></div>'


def figure(fig, alt: str) -> str:
    """A matplotlib figure embedded as an <img> (None or no figure: nothing)."""
    return img(figure_png(fig), alt) if fig is not None else ""


def findings(sentences: list[str], title: str = "") -> str:
    """Findings computed from the data, as a list next to their figure."""
    if not sentences:
        return ""
    head = f"<h4>{html.escape(title)}</h4>" if title else ""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences)
    return f'{head}<ul class="findings">{items}</ul>'


def details(summary: str, body: str, css_class: str = "", anchor: str = "", open_: bool = False) -> str:
    """A collapsed block (data on demand); `summary` is HTML."""
    attrs = (f' id="{anchor}"' if anchor else "") + (f' class="{css_class}"' if css_class else "")
    return f"<details{attrs}{' open' if open_ else ''}><summary>{summary}</summary>{body}</details>"


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
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, col) for v in value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)


def table(
    df: pd.DataFrame,
    cols: list[str],
    css_class: str = "",
    cell_class=None,
    anchor: str = "",
    filterable: bool = False,
) -> str:
    """An HTML table of `cols`; rows get `status-<status>` classes; `cell_class(row, col)` adds
    per-cell classes (e.g. highlighting the best). `filterable`: rows carry data-* attributes of
    FILTER_KEYS for the page's filter, and the table joins `table.filterable`."""
    cols = [c for c in cols if c in df.columns]
    head = "".join(f'<th class="{"text" if c in TEXT_COLUMNS else ""}">{html.escape(c)}</th>' for c in cols)
    rows = []
    for _, row in df.iterrows():
        status = str(row.get("status", "") or "")
        attrs = f' class="status-{status.replace(" ", "-")}"' if status else ""
        if filterable:
            attrs += "".join(f' data-{k}="{html.escape(str(row.get(k, "") or ""))}"' for k in FILTER_KEYS)
        cells = []
        for c in cols:
            classes = ["text"] if c in TEXT_COLUMNS else []
            if cell_class is not None:
                extra = cell_class(row, c)
                if extra:
                    classes.append(extra)
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(fmt(row[c], c))}</td>")
        rows.append(f"<tr{attrs}>{''.join(cells)}</tr>")
    classes = " ".join(c for c in (css_class, "filterable" if filterable else "") if c)
    ident = f' id="{anchor}"' if anchor else ""
    return (
        f'<table{ident} class="{classes}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'
