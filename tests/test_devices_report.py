"""The CPU-versus-GPU section and the collapsed-Taylor paper's comparison, from synthetic runs whose
device field differs (tests/synthetic.py `device_records`: test data, never a result)."""

from __future__ import annotations

import pytest

from reports.runs import load_runs
from reports.sections import SECTION_MODULES, Context
from reports.sections import devices as devices_section
from reports.sections import paper as paper_section
from reports.sections import pinn as pinn_section
from tests.synthetic import device_records, write_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("devices")
    cpu = write_run(root / "cpu", device_records("cpu"), {"env_id": "cpu-env"})
    gpu = write_run(root / "gpu", device_records("cuda"), {"env_id": "gpu-env", "gpu": "Synthetic GPU"})
    return cpu, gpu


def _context(*run_dirs) -> Context:
    df, envs = load_runs(list(run_dirs))
    return Context(df, envs, list(run_dirs))


def test_ranking_changes_are_found_per_comparison(runs):
    pairs = devices_section.device_pairs(_context(*runs).ok)
    assert set(pairs["device"]) == {"cpu", "cuda"}
    assert "hand-derived" not in set(pairs["strategy"])  # the floor is never ranked
    torch_cuda = pairs[(pairs["backend"] == "torch") & (pairs["device"] == "cuda")].sort_values("rank")
    assert list(torch_cuda["strategy"]) == ["taylor", "fd-central", "rev-over-rev"]
    taylor = torch_cuda.set_index("strategy").loc["taylor"]
    assert taylor["speedup"] == pytest.approx(6.4e-3 / 6.0e-4)
    sentences = devices_section.device_findings(pairs)
    torch_text = next(s for s in sentences if "PyTorch" in s)
    jax_text = next(s for s in sentences if "JAX" in s)
    assert "the winner changes (fastest on cpu: rev-over-rev, on cuda: taylor)" in torch_text
    assert "taylor gains most (11× faster)" in torch_text
    assert "the same order (rev-over-rev first)" in jax_text


def test_nothing_with_one_device_and_a_figure_with_two(runs):
    cpu, gpu = runs
    assert devices_section.render(_context(cpu)) is None
    assert devices_section.render(_context(gpu)) is None
    body = devices_section.render(_context(cpu, gpu))
    assert "<img" in body and "the winner changes" in body


def test_paper_comparison_uses_measured_ratios_only(runs):
    cpu, gpu = runs
    assert paper_section.render(_context(cpu)) is None  # no case of the paper's network
    rows = paper_section.paper_rows(_context(gpu).ok).set_index("strategy")
    assert rows.loc["collapsed-taylor", "speedup"] == pytest.approx(2.5)
    assert rows.loc["forward-laplacian", "speedup"] == pytest.approx(1.6)
    body = paper_section.render(_context(gpu))
    assert "2.5× the speed of nested-rev here; the paper reports ≈ 2.1×" in body
    assert "cuda (Synthetic GPU)" in body


def test_sections_are_registered_and_a_pinn_net_given_by_layers_renders(runs):
    assert {"reports.sections.devices", "reports.sections.paper"} <= set(SECTION_MODULES)
    _, gpu = runs
    ctx = _context(gpu)
    assert set(ctx.latest.loc[ctx.latest["problem"] == "poisson", "dim"]) == {50}  # from its layers
    assert "d = 50" in pinn_section.render(ctx)  # it raised before `dim` was derived from `layers`
