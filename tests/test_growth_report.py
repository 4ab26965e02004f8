"""The order-scaling and PINN report sections, rendered from a small synthetic run: figures, the
findings in words beside them, and the tables (collapsed)."""

import json

import pytest

from reports.render import render


def _record(problem, size, backend, strategy, median_s, status="ok", **extra):
    options = {"order": size, "points": 101, "width": 5, "depth": 4} if problem == "derivative-order" else {
        "dim": size, "width": 64, "depth": 4, "points": 128, "samples": 16}  # fmt: skip
    size_id = ",".join(f"{k}={v}" for k, v in sorted(options.items()))
    compile_mode = "jit" if backend == "jax" else "eager"
    record = {
        "case_id": f"{problem}[{size_id}]-{backend}-{strategy}-{compile_mode}-float64-cpu",
        "problem": problem, **options, "backend": backend, "strategy": strategy, "compile_mode": compile_mode,
        "dtype": "float64", "device": "cpu", "status": status,
        "error": "" if status == "ok" else "exceeded the 60 s budget",
    }  # fmt: skip
    if status == "ok":
        record.update(median_s=median_s, iqr_s=median_s / 10, compile_s=10 * median_s, **extra)
    return record


@pytest.fixture
def run(tmp_path):
    records = []
    for k in range(1, 6):
        order = ("derivative-order", k)
        records.append(_record(*order, "jax", "nested-rev", 1e-4 * 2.0**k, program_ops=300 * 2**k,
                               peak_memory_bytes=1e5 * 2**k))  # fmt: skip
        records.append(_record(*order, "jax", "taylor", 1e-4 * k**2, program_ops=300 * k**2))
        records.append(_record(*order, "torch", "nested-rev", 1e-3 * 3.0**k, autograd_nodes=60 * 2**k))
    records.append(_record("derivative-order", 6, "jax", "nested-rev", None, status="over budget"))
    for d in (2, 8, 32, 128):
        records.append(_record("poisson", d, "jax", "fwd-over-rev", 1e-5 * d**2))
        records.append(_record("poisson", d, "jax", "forward-laplacian", 1e-5 * d))
        records.append(_record("poisson", d, "torch", "hutchinson", 1e-4 * d, estimator_samples=16,
                               estimator_rel_std=0.3, estimator_loss_rel_err=1e-3, grad_rel_err=0.02,
                               tolerance=0.2))  # fmt: skip
    (tmp_path / "results.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return tmp_path


def test_order_scaling_section_shows_plots_statuses_ratios_and_fits(run, tmp_path):
    _, html_path = render([run], tmp_path / "out")
    html = html_path.read_text()
    start = html.index('<section id="order-scaling">')
    section = html[start : html.index("</section>", start)]
    assert section.count("data:image/png;base64,") == 1
    assert "budget" in section  # the over-budget case appears in the status grid
    assert "k→2" in section and "2" in section  # per-order ratios (2.0 for jax nested-rev)
    assert "exponential" in section and "polynomial" in section
    assert "program_size" in section and "peak_memory_bytes" in section
    # the findings in words, next to the figure: growth factor per order from the fit
    assert "JAX nested-rev 2.0×" in section and "PyTorch nested-rev 3.0×" in section


def test_pinn_section_shows_plots_degrees_and_the_estimator(run, tmp_path):
    _, html_path = render([run], tmp_path / "out")
    html = html_path.read_text()
    start = html.index('<section id="pinn">')
    section = html[start : html.index("</section>", start)]
    assert section.count("data:image/png;base64,") == 1
    assert "d=128 median_s" in section and "degree" in section
    assert "<td>2</td>" in section and "<td>1</td>" in section  # fitted degrees of d² and d
    assert "estimator_rel_std" in section
    assert "time grows like forward-laplacian d^1.0 and fwd-over-rev d^2.0" in section


def test_sections_are_absent_without_their_problems(tmp_path):
    record = _record("derivative-order", 1, "jax", "taylor", 1e-4)
    (tmp_path / "results.jsonl").write_text(json.dumps(record) + "\n")
    _, html_path = render([tmp_path], tmp_path / "out")
    html = html_path.read_text()
    assert 'id="order-scaling"' in html and 'id="pinn"' not in html
