"""External results: rows measured elsewhere (another framework, Julia, another machine's
tool) merged into a report and labelled `[external]`.

CSV schema (one row per case; UTF-8, header required):

| column | required | meaning |
|---|---|---|
| problem | yes | problem name as in `get_problem` (e.g. penalty) |
| backend | yes | the tool, e.g. `julia-zygote`; shown as `<backend> [external]` |
| strategy | yes | strategy name (free text; the suite's names make rows comparable) |
| device | yes | cpu or cuda |
| dtype | yes | float32 or float64 |
| status | yes | ok / wrong / failed / unsupported / over budget / out of memory / crashed / skipped |
| median_s | if ok | median seconds per loss+gradient evaluation |
| points, order, dim, … | no | the problem's options; they form the instance, e.g. penalty[points=101] |
| compile_mode, iqr_s, min_s, rounds, compile_s | no | as in results.csv |
| peak_memory_bytes, grad_rel_err, value_rel_err, error | no | as in results.csv |
| source | no | where the row came from (tool, version, machine) |

Export the instance for the external tool with `python -m problems.export` (parameters as
`.npz` W1..Wn/b1..bn with weights (out, in), the points, and the reference value and gradient),
so its `grad_rel_err` can be computed against the same reference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.cases import Case
from bench.results import RENAMED_FIELDS, STATUSES
from problems import PROBLEMS, problem_options
from problems.errors import BenchInputError, unknown_name

REQUIRED = ("problem", "backend", "strategy", "device", "dtype", "status")


def load_external(path: str | Path) -> pd.DataFrame:
    """Validated external rows, labelled, with case ids and instances like the suite's own."""
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise BenchInputError(f"cannot read external results {path}: {exc}") from exc
    df = df.rename(columns={old: new for old, new in RENAMED_FIELDS.items() if old in df and new not in df})
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise BenchInputError(
            f"external results {path} lack column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)}"
        )
    bad = sorted(set(df["status"]) - set(STATUSES))
    if bad:
        raise BenchInputError(f"external results {path}: unknown status {bad}; valid: {', '.join(STATUSES)}")
    if "median_s" not in df or df.loc[df["status"] == "ok", "median_s"].isna().any():
        raise BenchInputError(f"external results {path}: every ok row needs median_s")
    unknown = sorted(set(df["problem"]) - set(PROBLEMS))
    if unknown:
        raise BenchInputError(f"external results {path}: {unknown_name('problem', unknown[0], PROBLEMS)}")
    df = df.copy()
    df["backend"] = df["backend"].astype(str) + " [external]"
    df["compile_mode"] = df["compile_mode"] if "compile_mode" in df else "external"
    df["error"] = df["error"].fillna("") if "error" in df else ""

    def case(row) -> Case:
        names = [c for c in problem_options(row["problem"]) if c in row and pd.notna(row[c])]
        options = tuple(sorted((c, _plain(row[c])) for c in names))
        return Case(
            row["problem"],
            options,
            row["backend"],
            row["strategy"],
            row["compile_mode"],
            row["dtype"],
            row["device"],
        )

    cases = df.apply(case, axis=1)
    df["instance"] = [c.instance for c in cases]
    df["case_id"] = [c.id for c in cases]
    df["run_id"] = f"external:{path.name}"
    df["env_id"] = f"external:{path.stem}"
    df["external"] = True
    return df


def _plain(value):
    return int(value) if isinstance(value, float) and value.is_integer() else value
