"""Renamed names keep their old spelling readable: `variant` is now `compile_mode` in the code, the
command line (`--compile-modes`), sweep files (`compile_modes = [...]`), the set name
(`compile-modes`) and the records, and each old spelling (on the lines marked `# old spelling`)
still means the same: old runs, such as the committed example and baseline, read unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cases import load_sweep, read_cases
from bench.results import load_records
from bench.run import parse_args, select_cases
from problems import BenchInputError
from reports.external import load_external

ROOT = Path(__file__).resolve().parent.parent
OLD_RUN = ROOT / "reports" / "example" / "cpu-2026-11-25"
OLD_BASELINE = ROOT / "bench" / "baseline" / "ci"
ENTRY = '[[sweep]]\nproblem = "penalty"\noptions = { points = [101] }\nbackends = ["torch"]\n'


def _sweep(tmp_path: Path, name: str, key_line: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(ENTRY + key_line + "\n")
    return str(path)


def test_a_sweeps_old_key_means_the_new_one(tmp_path):
    new = load_sweep(_sweep(tmp_path, "new", 'compile_modes = ["compile"]'))
    old = load_sweep(_sweep(tmp_path, "old", 'variants = ["compile"]'))  # old spelling
    assert new == old and {c.compile_mode for c in new} == {"compile"}
    assert {c.compile_mode for c in load_sweep(_sweep(tmp_path, "none", ""))} == {"eager"}  # the default
    both = _sweep(tmp_path, "both", 'compile_modes = ["compile"]\nvariants = ["eager"]')  # old spelling
    with pytest.raises(BenchInputError, match="older name"):
        load_sweep(both)


def test_the_old_command_line_flag_and_set_name_mean_the_new_ones():
    new = parse_args(["--set", "compile-modes", "--compile-modes", "compile", "--backends", "torch"])
    old = parse_args(["--set", "variants", "--variants", "compile", "--backends", "torch"])  # old spelling
    assert new.compile_modes == old.compile_modes == "compile"
    cases = select_cases(new)
    assert cases == select_cases(old) and cases and {c.compile_mode for c in cases} == {"compile"}


def test_committed_old_runs_read_in_todays_names():
    """The example run and the CI baseline were written with the old field name; their records
    and cases come back under the name now, with the same values."""
    for run in (OLD_RUN, OLD_BASELINE):
        records = load_records(run / "results.jsonl")
        assert records and all(r["compile_mode"] in ("jit", "eager", "compile") for r in records)
        assert all(r["case_id"].split("-")[-3] == r["compile_mode"] for r in records)
    cases = read_cases(OLD_BASELINE / "cases.json")
    assert cases and {c.compile_mode for c in cases} <= {"jit", "eager", "compile"}


def test_an_external_csv_with_the_old_column_reads_the_same(tmp_path):
    rows = "problem,points,backend,strategy,device,dtype,status,median_s,{column}\n" + (
        "penalty,101,julia,rev-over-rev,cpu,float64,ok,0.001,compiled\n"
    )
    new, old = tmp_path / "new.csv", tmp_path / "old.csv"
    new.write_text(rows.format(column="compile_mode"))
    old.write_text(rows.format(column="variant"))  # old spelling
    assert (
        load_external(new)["compile_mode"].tolist()
        == load_external(old)["compile_mode"].tolist()
        == ["compiled"]
    )
