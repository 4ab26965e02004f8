"""The report rendered from small runs: the decision first (readable labels, the floor never
recommended, what to avoid), every case present in the data on demand, numbers formatted, the code
behind each verdict, the CSV linked and embedded, sections present only with their data."""

import base64
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reports.render import main, render
from reports.schema import COLUMNS
from tests.synthetic import blocks, record, size_records, write_run

FIXTURE = Path(__file__).parent / "fixtures" / "run"


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start : html.index("</section>", start)]


def _visible(html: str) -> str:
    """The page's text a reader sees: without style, script, embedded data and source code."""
    for pattern in (
        r"<style>.*?</style>",
        r"<script>.*?</script>",
        r"<pre>.*?</pre>",
        r'(src|href)="data:[^"]*"',
        r"(src|href)='data:[^']*'",
    ):
        html = re.sub(pattern, "", html, flags=re.S)
    return html


@pytest.fixture(scope="module")
def fixture_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixture")
    csv, html_path = render([FIXTURE], out)
    return csv, html_path.read_text()


@pytest.fixture(scope="module")
def full_report(full_report_run):
    _, csv, html_path = full_report_run
    return csv, html_path.read_text()


def test_csv_has_one_row_per_case_and_documented_columns(fixture_report):
    csv, _ = fixture_report
    df = pd.read_csv(csv)
    assert len(df) == 6 and df["case_id"].is_unique
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(df["status"]) == {"ok", "wrong", "unsupported", "failed", "crashed"}
    assert (df["env_id"] == "fixture0001").all()
    ok = df[df["status"] == "ok"]
    assert ok["median_s"].notna().all() and df[df["status"] != "ok"]["median_s"].isna().all()


def test_decision_comes_first_with_readable_labels_and_code_links(fixture_report):
    _, html = fixture_report
    assert html.index('<section id="decision">') < html.index("<section", html.index("<nav>")) + 1
    decision = _section(html, "decision")
    assert "Seed penalty" in decision and "101 points" in decision and "penalty[points=101]" not in decision
    assert "<a href='#code-jax-penalty-rev-over-rev'" in decision  # the verdict links to its code
    assert "no recommendation: no AD strategy passed the reference check (1 failed)" in decision
    assert (
        "title='wrong: error 2.0e-02 &gt; tolerance 5.6e-04" in decision
        and "fd-central (wrong: error 2.0e-02 &gt; tolerance 5.6e-04)" in decision  # the terminal's words
    )
    assert "181 µs" in decision and "470 µs" in decision  # medians formatted with units
    code = _section(html, "code")
    assert 'id="code-jax-penalty-rev-over-rev"' in code and "def input_grad_reverse" in code


def test_data_on_demand_filter_csv_and_statuses(fixture_report):
    _, html = fixture_report
    data = _section(html, "data")
    assert (
        "<form class='filter'" in data
        and "<select name='backend'>" in data
        and "<select name='status'>" in data
    )
    assert "<details><summary>All cases" in data  # collapsed by default
    assert data.count('class="data filterable"') == 4
    assert 'data-backend="torch" data-device="cpu" data-dtype="float32" data-status="wrong"' in data
    assert "href='results.csv'" in data
    embedded = re.search(r"href='data:text/csv;base64,([^']*)'", data).group(1)
    assert base64.b64decode(embedded).decode().startswith("run_id,case_id,problem")
    assert "2.00e-02" in data and "does not currently support double backward" in data
    assert 'class="status-wrong"' in data and 'class="status-crashed"' in data
    visible = _visible(html)
    assert not re.search(r"\b(nan|inf|none)\b", visible, re.IGNORECASE)  # missing shows as —
    assert "Fixture CPU" in html
    assert "http://" not in html and "https://" not in html  # self-contained


def test_every_family_gets_its_glance_and_findings(full_report):
    _, html = full_report
    assert [m for m in re.findall(r'<section id="([^"]+)">', html)] == [
        "decision",
        "at-a-glance",
        "penalty",
        "compile-modes",
        "ude",
        "order-scaling",
        "pinn",
        "cost",
        "correctness",
        "code",
        "data",
        "environment",
    ]
    overview = _section(html, "at-a-glance")
    assert overview.count("data:image/png;base64,") == 4  # penalty, UDE, k-th derivative, Poisson
    for anchor in ("penalty", "compile-modes", "ude", "order-scaling", "pinn"):
        assert '<ul class="findings">' in _section(html, anchor), anchor
    assert "collapsed Taylor mode wins from d = 8 on" in _section(html, "pinn")
    assert "hand-derived" not in re.findall(r"<td class='use'>(.*?)</td>", _section(html, "decision"))


def test_ranking_section_only_with_network_sizes(tmp_path, full_report):
    _, html = full_report
    assert 'id="ranking"' not in html
    run = write_run(tmp_path / "sizes", size_records())
    _, html_path = render([run], run)
    ranking = _section(html_path.read_text(), "ranking")
    assert ranking.count("data:image/png;base64,") == 2
    assert "the curves cross at about 1.9k parameters (rev-over-rev → fwd-over-rev)" in ranking
    assert "Fastest in each cell: JAX jit" in ranking and "2-512-512-512-2 (528k parameters)" in ranking


def test_records_from_the_interleaved_harness(tmp_path):
    drift = [1.0, 1.2, 0.9, 1.1]
    records = [
        record(
            "penalty",
            {"points": 101},
            "jax",
            s,
            t,
            block_medians_s=blocks(t, drift),
            ratio_to_baseline=t / 1e-4,
            ratio_to_baseline_lo=0.95 * t / 1e-4,
            ratio_to_baseline_hi=1.05 * t / 1e-4,
            baseline_strategy="rev-over-rev",
            contended=s == "taylor",
            load_note="steal time 12 %",
        )
        for s, t in (("rev-over-rev", 1e-4), ("taylor", 0.8e-4))
    ]
    run = write_run(tmp_path / "run", records)
    csv, html_path = render([run], run)
    df = pd.read_csv(csv)
    assert json.loads(df.loc[df["strategy"] == "taylor", "block_medians_s"].iloc[0]) == pytest.approx(
        blocks(0.8e-4, drift)
    )
    decision = _section(html_path.read_text(), "decision")
    assert "1.25× <span class='spread'>(1.19–1.32)</span>" in decision  # 1 / (0.8 · 1.05) … 1 / (0.8 · 0.95)
    assert "measured under competing load (steal time 12 %)" in decision


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


def test_a_render_started_early_renders_once_told_and_not_otherwise(tmp_path):
    """`make advise` starts the renderer before its run (`--when-told`): it renders only on `go`."""
    import subprocess
    import sys

    runs = {name: tmp_path / name for name in ("told", "not-told")}
    procs = {}
    for name, run in runs.items():
        shutil.copytree(FIXTURE, run)
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "reports.render", str(run), "--when-told"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1],
        )  # fmt: skip
    told, _ = procs["told"].communicate("go\n")
    not_told, _ = procs["not-told"].communicate("")
    assert procs["told"].returncode == 0 and str(runs["told"] / "report.html") in told
    assert (runs["told"] / "report.html").exists() and (runs["told"] / "results.csv").exists()
    assert procs["not-told"].returncode == 0 and not_told == ""
    assert not (runs["not-told"] / "report.html").exists()
