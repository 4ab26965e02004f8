"""One verdict, rendered everywhere (`reports.verdict`): the terminal, the HTML decision table and
the README name the same leader for every comparison group of a run, and the terminal decision
loads no plotting library."""

import html
import re
import subprocess
import sys

import pytest

from reports.decision import terminal_table
from reports.results import decision_table as readme_table
from reports.runs import load_runs
from reports.sections import Context
from reports.sections import decision as decision_section
from reports.wording import code_text, where_text
from tests.synthetic import blocks, full_records, record, write_run

DRIFT = [1.0, 1.3, 0.8, 1.1, 0.9, 1.2]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """The synthetic run of every family and status, and a `make advise` run whose answer is a
    spelling (its code is named, not its strategy)."""
    root = tmp_path_factory.mktemp("verdict")
    advise = [
        record("penalty", {"points": 7}, "torch", s, t, block_medians_s=blocks(t, DRIFT))
        for s, t in (("rev-over-rev", 4e-3), ("fwd-over-rev", 1.9e-2), ("fwd-over-rev:func", 1e-3))
    ]
    runs = [write_run(root / "full", full_records()),
            write_run(root / "advise", advise, decision={"spellings_compete": True})]  # fmt: skip
    df, envs = load_runs(runs)
    return Context(df=df, envs=envs, run_dirs=runs)


def _expected(ctx) -> dict:
    """(label, where) -> the code the verdict names (None: no recommendation)."""
    out = {
        (v.label, where_text(v)): (code_text(v.problem, v.leader) if v.leader else None) for v in ctx.verdicts
    }
    assert len(out) == len(ctx.verdicts)  # one key per verdict
    return out


def _terminal(ctx) -> dict:
    out = {}
    for line in terminal_table(ctx.verdicts).splitlines():
        m = re.match(
            r"^  (.+?) · (.+?): (use (.+?)(?: \[approximate: [^]]+\])? \((?=\d)|no recommendation)", line
        )
        if m:
            out[(m[1], m[2])] = m[4]
    return out


def _readme(ctx) -> dict:
    out = {}
    for line in readme_table(ctx.verdicts).splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        dtype, device = cells[3].split(" · ")
        leader = re.match(r"\*\*(.+?)\*\*", cells[4])
        out[(cells[1], f"{cells[2]} · {dtype} {device}")] = leader[1] if leader else None
    return out


def _html(ctx) -> dict:
    out, label = {}, None
    body = decision_section.render(ctx)
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1].split("</tbody>")[0], re.S):
        found = re.search(r"<td class='label'[^>]*>(.*?)</td>", row)
        label = html.unescape(found[1]) if found else label
        where = html.unescape(re.search(r"<td class='fw'>(.*?)</td>", row)[1])
        leader = re.search(r"<td class='use'><a [^>]*>(.*?)</a>", row)
        device = {v.device for v in ctx.verdicts}.pop()  # one device: the row leaves it out
        out[(label, f"{where} {device}")] = html.unescape(leader[1]) if leader else None
    return out


def test_the_terminal_the_html_and_the_readme_name_the_same_leader_for_every_row(ctx):
    expected = _expected(ctx)
    assert any(v is None for v in expected.values()) and sum(v is not None for v in expected.values()) > 20
    assert "fwd-over-rev written as torch.func.jvp over torch.func.grad (`fwd-over-rev:func`)" in set(
        expected.values()
    )
    assert _terminal(ctx) == expected
    assert _html(ctx) == expected
    assert _readme(ctx) == expected


def test_the_terminal_decision_loads_no_plotting_library():
    code = "import sys, reports.decision, reports.wording; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
