"""The report rendered from a small fixed run: every case present, statuses and numbers shown."""

import re
import shutil
from pathlib import Path

import pandas as pd

from reports.render import main, render
from reports.schema import COLUMNS

FIXTURE = Path(__file__).parent / "fixtures" / "run"


def test_csv_has_one_row_per_case_and_documented_columns(tmp_path):
    csv, _ = render([FIXTURE], tmp_path)
    df = pd.read_csv(csv)
    assert len(df) == 6 and df["case_id"].is_unique
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(df["status"]) == {"ok", "wrong", "unsupported", "failed", "crashed"}
    assert (df["env_id"] == "fixture0001").all()
    ok = df[df["status"] == "ok"]
    assert ok["median_s"].notna().all() and df[df["status"] != "ok"]["median_s"].isna().all()


def test_html_shows_cases_statuses_numbers_and_figure(tmp_path):
    _, html_path = render([FIXTURE], tmp_path)
    html = html_path.read_text()
    assert html.count('<img alt="time per strategy" src="data:image/png;base64,') == 1
    assert "181 µs" in html and "470 µs" in html  # medians formatted with units
    assert "2.00e-02" in html  # the wrong case's error
    assert "does not currently support double backward" in html
    assert 'class="status-wrong"' in html and 'class="status-crashed"' in html
    visible = re.sub(r'src="data:[^"]*"', "", html)
    assert not re.search(r"\b(nan|inf|none)\b", visible, re.IGNORECASE)  # missing shows as —
    assert "Fixture CPU" in html
    assert "http://" not in html and "https://" not in html  # self-contained


def test_merging_runs_keeps_both(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(FIXTURE, other)
    csv, _ = render([FIXTURE, other], tmp_path / "merged")
    df = pd.read_csv(csv)
    assert len(df) == 12 and set(df["run_id"]) == {"run", "other"}


def test_cli_errors(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no results.jsonl" in capsys.readouterr().err
    assert main([str(FIXTURE), str(FIXTURE)]) == 2


def test_external_rows_are_merged_and_labelled(tmp_path):
    csv, html_path = render([FIXTURE], tmp_path, [FIXTURE.parent / "external.csv"])
    df = pd.read_csv(csv)
    ext = df[df["backend"] == "julia-zygote [external]"]
    assert len(ext) == 2 and set(ext["run_id"]) == {"external:external.csv"}
    assert ext["case_id"].str.startswith("penalty[points=101]-julia-zygote [external]").all()
    html = html_path.read_text()
    assert "julia-zygote [external]" in html and "Mutating arrays is not supported" in html


def test_bad_external_csv_is_refused(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("problem,backend\npenalty,julia\n")
    assert main([str(FIXTURE), "--out", str(tmp_path), "--external", str(bad)]) == 2
    assert "lack column(s) strategy, device, dtype, status" in capsys.readouterr().err


def test_export_writes_an_instance_with_its_reference(tmp_path):
    import numpy as np

    from problems import get_problem, load_params
    from problems.export import main as export_main

    assert export_main(["--out", str(tmp_path), "--points", "11"]) == 0
    params = load_params(tmp_path / "params.npz")
    ref = np.load(tmp_path / "reference.npz")
    value, grads = get_problem("penalty", points=11).reference(params)
    assert ref["value"] == value and np.array_equal(ref["grad_W2"], grads["W2"])
    assert np.loadtxt(tmp_path / "points.csv", delimiter=",", skiprows=1).shape == (11, 2)
