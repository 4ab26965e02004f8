"""The README's results section is generated from a run (`reports.results`): it replaces exactly
the text between the markers, is idempotent, and refuses a README without markers."""

from pathlib import Path

from reports.results import RESULTS_END, RESULTS_START, main
from tests.synthetic import full_records, write_run

README = Path(__file__).parents[1] / "README.md"


def _readme(tmp_path, middle="old numbers typed by hand"):
    path = tmp_path / "README.md"
    path.write_text(f"# Title\n\nintro\n\n{RESULTS_START}\n{middle}\n{RESULTS_END}\n\n## After\nkept\n")
    return path


def test_readme_section_is_generated_between_the_markers(tmp_path, capsys):
    run = write_run(tmp_path / "run", full_records())
    readme = _readme(tmp_path)
    assert main([str(run), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith(f"{RESULTS_END}\n\n## After\nkept\n")
    assert "old numbers typed by hand" not in text
    section = text[text.index(RESULTS_START) : text.index(RESULTS_END)]
    assert f"make results RUN={run}" in section
    assert "| Seed penalty | 101 points | JAX jit | float32 · cpu | **fwd-over-rev** |" in section
    assert "#### Seed penalty, float32: median time per loss + weight gradient" in section
    assert "hand-derived (floor)" in section and "**Compile modes: what compiling changes**" in section
    # the same topics as the page, from the same inputs: the correctness section's references too
    assert "Reference: independent float64" in section
    assert "collapsed Taylor mode wins from d = 8 on" in section
    assert main([str(run), "--readme", str(readme)]) == 0
    assert readme.read_text() == text  # idempotent
    out = tmp_path / "RESULTS.md"
    assert main([str(run), "--out", str(out)]) == 0
    assert out.read_text() in text


def test_errors(tmp_path, capsys):
    run = write_run(tmp_path / "run", full_records())
    no_markers = tmp_path / "plain.md"
    no_markers.write_text("# no markers\n")
    assert main([str(run), "--readme", str(no_markers)]) == 2
    assert "has no results markers" in capsys.readouterr().err
    assert no_markers.read_text() == "# no markers\n"
    assert main([str(tmp_path / "nothing")]) == 2
    assert "no results.jsonl" in capsys.readouterr().err


def test_the_committed_readme_has_the_markers_once():
    text = README.read_text()
    assert text.count(RESULTS_START) == 1 and text.count(RESULTS_END) == 1
    assert text.index(RESULTS_START) < text.index(RESULTS_END)
