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
