"""Compare two runs: `python -m reports.compare RUN_A RUN_B [--out DIR] [--fail-on-correctness]`.

Environments: each run's environment.json says where it ran. When the two differ (their
`env_id`: host, CPU model, cores, threads, GPU, library versions), the differences are printed
and timing changes are reported as "not comparable" (a different CPU or library is not a
regression), while the correctness comparison applies as always.

Timing, within one environment: a case's change is flagged only when it exceeds the measured
noise: the 95 % confidence notches of the two medians (median ± 1.57·IQR/√n over the case's
block medians, or over its rounds for runs without blocks) do not overlap *and* the ratio
differs from 1 by more than `--min-change` (default 10 %, because run-to-run spread on a shared
machine exceeds the within-run notch); a case timed under competing load (`contended`) in
either run is not judged. Correctness: any case whose status got worse (ok → wrong /
failed / crashed / over budget, or a new case that is not ok/unsupported/skipped) is a regression.
pytest-benchmark's own `compare` table of the raw session JSONs is printed as well.

Decisions: each comparison group's recommendation (`reports.verdict`) in A and in B, matched by
instance, framework, compile mode, dtype and device (not the environment, so a re-run elsewhere or
in another timing mode is compared too): "same leader", "tie" (the leaders differ but are the same
two strategies, within noise of each other in either run), "tie of 3+" (the leaders are not the
same top two, but each run's leader is within noise of the other run's leader in both runs: three
or more strategies the group cannot tell apart), or "differ".
`--fail-on-correctness` exits 1 on a correctness regression and never on timing (CI machines are
noisy), which is how CI checks a quick subset against the committed baseline.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from bench.results import load_records
from bench.timing import median_halfwidth
from reports.html import STYLE, section, table
from reports.runs import load_runs
from reports.text import format_seconds
from reports.verdict import decide, flag, pairwise_ratio

GOOD = {"ok", "unsupported", "skipped"}


def _frame(run: Path) -> pd.DataFrame:
    records = load_records(Path(run) / "results.jsonl")
    if not records:
        raise SystemExit(f"error: no results.jsonl records in {run}")
    return pd.DataFrame(records).drop_duplicates("case_id", keep="last").set_index("case_id")


ENV_FIELDS = ("hostname", "cpu", "cores", "threads", "gpu", "python")


def environment(run: Path) -> dict | None:
    """The run's environment.json, or None if it has none."""
    try:
        return json.loads((Path(run) / "environment.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def environment_differences(env_a: dict | None, env_b: dict | None) -> list[str]:
    """What differs between the environments of A and B (empty: the same environment)."""
    if env_a is None or env_b is None:
        missing = " and ".join(name for name, env in (("A", env_a), ("B", env_b)) if env is None)
        return [f"no environment.json for {missing}: where it ran is unknown"]
    if env_a.get("env_id") and env_a.get("env_id") == env_b.get("env_id"):
        return []
    diffs = [f"{k} {env_a.get(k)!r} → {env_b.get(k)!r}" for k in ENV_FIELDS if env_a.get(k) != env_b.get(k)]
    libs_a, libs_b = env_a.get("libraries", {}), env_b.get("libraries", {})
    diffs += [f"{lib} {libs_a.get(lib)} → {libs_b.get(lib)}" for lib in sorted(set(libs_a) | set(libs_b))
              if libs_a.get(lib) != libs_b.get(lib)]  # fmt: skip
    return diffs or [f"env_id {env_a.get('env_id')} → {env_b.get('env_id')}"]


def _halfwidth(row, prefix: str) -> float:
    """95 % half-width of the median: from the block medians where the run has them (their spread
    includes the drift within the run, which back-to-back rounds hide), else from the rounds."""
    blocks = row.get(f"block_medians_s{prefix}")
    if isinstance(blocks, list) and len(blocks) > 1:
        return median_halfwidth(blocks)
    iqr, rounds = row.get(f"iqr_s{prefix}"), row.get(f"rounds{prefix}")
    if iqr is None or rounds is None or pd.isna(iqr) or pd.isna(rounds) or rounds < 1:
        return float("nan")
    return 1.57 * iqr / math.sqrt(rounds)


NOT_COMPARABLE = "not comparable (different environments)"
CONTENDED = "not judged (competing load in A or B)"


def compare(
    a: pd.DataFrame, b: pd.DataFrame, min_change: float = 0.10, comparable: bool = True
) -> pd.DataFrame:
    """One row per case in either run: statuses, medians, ratio, verdict. With `comparable`
    False (A and B ran in different environments) no timing change is judged."""
    joined = a.add_suffix("_a").join(b.add_suffix("_b"), how="outer")
    rows = []
    for case_id, r in joined.iterrows():
        sa, sb = r.get("status_a"), r.get("status_b")
        row = {"case_id": case_id, "status_a": sa, "status_b": sb,
               "median_a_s": r.get("median_s_a"), "median_b_s": r.get("median_s_b"),
               "ratio_to_baseline_a": r.get("ratio_to_baseline_a"),
               "ratio_to_baseline_b": r.get("ratio_to_baseline_b")}  # fmt: skip
        verdict = ""
        if isinstance(sb, str) and sb not in GOOD and (sa in GOOD or not isinstance(sa, str)):
            verdict = f"REGRESSION: {sa if isinstance(sa, str) else 'new'} → {sb}"
        elif isinstance(sa, str) and not isinstance(sb, str):
            verdict = "missing in B"
        elif isinstance(sa, str) and sa not in GOOD and sb in GOOD:
            verdict = f"fixed: {sa} → {sb}"
        elif sa == "ok" and sb == "ok":
            ma, mb = r["median_s_a"], r["median_s_b"]
            ratio = mb / ma
            row["ratio"] = ratio
            notches_apart = abs(mb - ma) > _halfwidth(r, "_a") + _halfwidth(r, "_b")
            if not comparable:
                verdict = NOT_COMPARABLE
            elif r.get("contended_a") is True or r.get("contended_b") is True:
                verdict = CONTENDED
            elif notches_apart and abs(ratio - 1) > min_change:
                verdict = "slower" if ratio > 1 else "faster"
            else:
                verdict = "within noise"
        row["verdict"] = verdict
        row["error_b"] = r.get("error_b") if isinstance(r.get("error_b"), str) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def spread(df: pd.DataFrame) -> dict:
    """Run-to-run spread over cases timed in both runs: quantiles of |B/A − 1|."""
    ratios = df["ratio"].dropna() if "ratio" in df else pd.Series(dtype=float)
    if ratios.empty:
        return {}
    dev = (ratios - 1).abs()
    return {"cases": int(len(dev)), "median": float(dev.median()), "p90": float(dev.quantile(0.9)),
            "max": float(dev.max()), "geomean_ratio": float(ratios.prod() ** (1 / len(ratios)))}  # fmt: skip


DECISION_KEY = ["instance", "backend", "compile_mode", "dtype", "device"]
NEAR_TIE = "tie of 3+"
"""The verdict where the leaders differ and are not the same top two, but each run's leader is within
noise of the other run's leader in both runs: three or more strategies the group cannot tell apart
(the 101-point JAX penalty: fwd-over-rev, rev-over-rev and fd-central, in every run)."""


def _leader(row) -> str:
    """ "rev-over-rev (1.44× over fwd-over-rev)" or "rev-over-rev (≈ taylor)" from a decision row."""
    if not isinstance(row.get("recommended"), str):
        return "none"
    if not isinstance(row.get("runner_up"), str):
        return row["recommended"]
    sign = "≈ " if flag(row.get("within_noise")) else f"{row['margin']:.2f}× over "
    return f"{row['recommended']} ({sign}{row['runner_up']})"


def within_noise_in(frame: pd.DataFrame, key: tuple, slow: str, fast: str) -> bool:
    """Whether strategy `slow` cannot be told from `fast` in the run `frame`'s group `key` (their
    per-block ratio's lower bound reaches 1, `reports.verdict.pairwise_ratio`); False if either
    has no timed record there."""
    group = frame[(frame[DECISION_KEY] == pd.Series(key, index=DECISION_KEY)).all(axis=1)]
    group = group[group["status"] == "ok"]
    slow_rows, fast_rows = group[group["strategy"] == slow], group[group["strategy"] == fast]
    if slow_rows.empty or fast_rows.empty:
        return False
    return pairwise_ratio(slow_rows.iloc[0], fast_rows.iloc[0]).within_noise is True


def compare_decisions(run_a: Path, run_b: Path) -> pd.DataFrame:
    """One row per decision group in either run: A's and B's leader and the verdict."""
    frame_a, frame_b = (load_runs([run])[0] for run in (run_a, run_b))
    a, b = (decide(frame).set_index(DECISION_KEY) for frame in (frame_a, frame_b))
    rows = []
    for key in list(a.index) + [k for k in b.index if k not in a.index]:
        ra = a.loc[key] if key in a.index else None
        rb = b.loc[key] if key in b.index else None
        label = (ra if ra is not None else rb)["label"]
        where = f"{label} · {key[1]} {key[2]} · {key[3]} {key[4]}"
        if ra is None or rb is None:
            verdict = "only in B" if ra is None else "only in A"
        elif ra["recommended"] == rb["recommended"]:
            verdict = "same leader"
        elif {ra["recommended"], ra.get("runner_up")} == {rb["recommended"], rb.get("runner_up")} and (
            flag(ra.get("within_noise")) or flag(rb.get("within_noise"))
        ):
            verdict = "tie"
        elif within_noise_in(frame_a, key, rb["recommended"], ra["recommended"]) and within_noise_in(
            frame_b, key, ra["recommended"], rb["recommended"]
        ):
            verdict = NEAR_TIE
        else:
            verdict = "differ"
        rows.append({"group": where, "a": _leader(ra) if ra is not None else "—",
                     "b": _leader(rb) if rb is not None else "—", "verdict": verdict})  # fmt: skip
    return pd.DataFrame(rows, columns=["group", "a", "b", "verdict"])


def decisions_table(df: pd.DataFrame) -> str:
    """The decisions side by side, then "decisions: N same leader, N tie, N differ"."""
    width = max([len(g) for g in df["group"]] + [5])
    lines = [f"{'group':<{width}}  {'A':<44} {'B':<44} verdict"]
    lines += [f"{r.group:<{width}}  {r.a:<44} {r.b:<44} {r.verdict}" for r in df.itertuples()]
    counts = df["verdict"].value_counts()
    order = ["same leader", "tie", NEAR_TIE, "differ", "only in A", "only in B"]
    lines.append("decisions: " + ", ".join(f"{counts[v]} {v}" for v in order if v in counts))
    return "\n".join(lines)


def terminal_table(df: pd.DataFrame) -> str:
    lines = [f"{'case':<70} {'A':>10} {'B':>10} {'B/A':>7}  verdict"]
    for _, r in df.iterrows():
        a = format_seconds(r["median_a_s"]) if pd.notna(r["median_a_s"]) else str(r["status_a"])
        b = format_seconds(r["median_b_s"]) if pd.notna(r["median_b_s"]) else str(r["status_b"])
        ratio = f"{r['ratio']:.2f}" if "ratio" in r and pd.notna(r.get("ratio")) else "—"
        lines.append(f"{r['case_id'][:70]:<70} {a:>10} {b:>10} {ratio:>7}  {r['verdict']}")
    return "\n".join(lines)


def pytest_benchmark_table(run_a: Path, run_b: Path) -> str:
    """pytest-benchmark's own comparison of the two runs' raw session JSONs (if both have one)."""
    files = [f for run in (run_a, run_b) for f in sorted(Path(run, "raw").glob("benchmark-*.json"))]
    if len(files) < 2:
        return ""
    exe = Path(sys.executable).with_name("pytest-benchmark")
    cmd = [str(exe) if exe.exists() else "pytest-benchmark", "compare", *map(str, files),
           "--group-by=param:case", "--columns=median,iqr,rounds", "--sort=name"]  # fmt: skip
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"(pytest-benchmark compare unavailable: {exc})"


def environment_note(differences: list[str]) -> str:
    """One paragraph: whether A and B ran in the same environment, and what differs."""
    if not differences:
        return "A and B ran in the same environment: timing changes are judged against the noise."
    what = "; ".join(differences)
    return (f"A and B come from different environments ({what}): timing deltas between them are "
            "not comparable and are not judged; correctness is compared.")  # fmt: skip


def html_page(df: pd.DataFrame, run_a: Path, run_b: Path, min_change: float, differences: list[str]) -> str:
    counts = df["verdict"].replace("", "—").value_counts().to_dict()
    summary = ", ".join(f"{v} {html.escape(k)}" for k, v in sorted(counts.items()))

    def row_status(verdict: str) -> str:
        return "wrong" if verdict.startswith("REGRESSION") else ("failed" if verdict == "slower" else "")

    shown = df.assign(status=df["verdict"].map(row_status))
    body = (f"<p>A = {html.escape(str(run_a))}, B = {html.escape(str(run_b))}. {summary}.</p>"
            f"<p class='note'>{html.escape(environment_note(differences))} "
            f"Flagged when the medians' 95 % notches (from block medians) do not overlap and the "
            f"change exceeds {min_change:.0%}.</p>")  # fmt: skip
    body += table(shown, ["case_id", "status_a", "status_b", "median_a_s", "median_b_s", "ratio",
                          "ratio_to_baseline_a", "ratio_to_baseline_b", "verdict", "error_b"],
                  "compare")  # fmt: skip
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>compare</title>"
            f"<style>{STYLE}</style></head><body><h1>Run comparison</h1>"
            f"{section('changes', 'Changes', body)}</body></html>")  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reports.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--out", type=Path, help="directory for compare.html (default: RUN_B)")
    p.add_argument("--min-change", type=float, default=0.10, help="smallest relative change flagged")
    p.add_argument("--fail-on-correctness", action="store_true", help="exit 1 on a status regression")
    args = p.parse_args(argv)
    differences = environment_differences(environment(args.run_a), environment(args.run_b))
    df = compare(_frame(args.run_a), _frame(args.run_b), args.min_change, comparable=not differences)
    print(environment_note(differences) + "\n")
    print(terminal_table(df))
    bench_table = pytest_benchmark_table(args.run_a, args.run_b)
    if bench_table:
        caveat = " (different environments: not comparable)" if differences else ""
        print(f"\npytest-benchmark compare{caveat}:\n" + bench_table)
    out = args.out or args.run_b
    out.mkdir(parents=True, exist_ok=True)
    page = html_page(df, args.run_a, args.run_b, args.min_change, differences)
    (out / "compare.html").write_text(page, encoding="utf-8")
    print(f"\ncomparison page: {out / 'compare.html'}")
    regressions = df[df["verdict"].str.startswith("REGRESSION") | (df["verdict"] == "missing in B")]
    if len(regressions):
        print(f"\n{len(regressions)} correctness regression(s):\n" + terminal_table(regressions))
    timing = df[df["verdict"].isin(["slower", "faster"])]
    if differences:
        print("timing: not comparable (different environments; reported, never failing)")
    else:
        loaded = int((df["verdict"] == CONTENDED).sum())
        not_judged = f"; {loaded} case(s) not judged: competing load" if loaded else ""
        print(f"timing: {len(timing)} change(s) beyond noise{not_judged} (reported, never failing)")
    if s := spread(df):
        print(
            f"spread over {s['cases']} cases timed in both: |B/A − 1| median {s['median']:.1%}, "
            f"90th percentile {s['p90']:.1%}, max {s['max']:.1%}; "
            f"geometric-mean B/A {s['geomean_ratio']:.3f}"
        )
    decisions = compare_decisions(args.run_a, args.run_b)
    if len(decisions):
        print("\nDecisions (the recommended strategy per group; A then B):\n" + decisions_table(decisions))
    return 1 if args.fail_on_correctness and len(regressions) else 0


if __name__ == "__main__":
    sys.exit(main())
