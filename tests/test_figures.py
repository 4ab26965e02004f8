"""Every figure of the report is readable: no two rendered text boxes overlap (tick labels, axis
labels, titles, legends, annotations, measured with matplotlib's renderer), no facet is empty,
every axis is labelled, time axes are logarithmic where the data spans decades, and a strategy
has the same colour in every figure."""

import matplotlib
import matplotlib.pyplot as plt
import pytest

from reports.figures import empty_axes, overlapping_texts, seconds_label, unlabelled_axes
from reports.findings import compile_pairs
from reports.palette import COLOURS, strategy_colour
from reports.runs import load_runs
from reports.sections import (
    Context,
    compile_modes,
    cost,
    order_scaling,
    overview,
    penalty,
    pinn,
    ranking,
    ude,
)
from tests.synthetic import full_records, size_records, write_run

matplotlib.use("Agg")


def _context(tmp_path_factory, name, records):
    run = write_run(tmp_path_factory.mktemp(name), records)
    df, envs = load_runs([run])
    return Context(df=df, envs=envs, run_dirs=[run])


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return _context(tmp_path_factory, "full", full_records())


@pytest.fixture(scope="module")
def sizes(tmp_path_factory):
    return _context(tmp_path_factory, "sizes", size_records())


def _figures(full, sizes):
    """(name, figure) for every figure function of the report, on the synthetic runs."""
    latest, ok = full.latest, full.ok
    families = latest.sort_values("order_key", kind="stable").groupby("family", sort=False)
    for fam, rows in families:
        yield f"overview {fam}", overview.family_figure(rows)
        yield f"memory {fam}", cost.memory_figure(rows)
    pen = ok[ok["problem"] == "penalty"]
    yield "penalty time", penalty.time_figure(pen)
    yield "penalty scaling", penalty.scaling_figure(pen)
    yield "compile speed-up", compile_modes.speedup_figure(compile_pairs(latest))
    ude_ok = ok[ok["problem"] == "lv-ude"].assign(label=lambda d: ude._config_label(d))
    yield "ude split", ude.split_figure(ude_ok.sort_values("median_s").drop_duplicates("label"))
    orders = order_scaling.series_frame(ok[ok["problem"] == "derivative-order"], "order")
    yield "order panels", order_scaling.log_panels(orders, "order", "derivative order k", logx=False)
    dims = order_scaling.series_frame(ok[ok["problem"] == "poisson"], "dim")
    yield "pinn panels", pinn.log_panels(dims, "dim", "input dimension d (log)", logx=True)
    from reports.crossover import size_contexts, size_frame

    for title, g in size_contexts(size_frame(sizes.latest)):
        yield f"ranking params {title}", ranking.size_figure(g, "n_params")
        yield f"ranking points {title}", ranking.size_figure(g, "points")


def test_every_figure_is_readable(full, sizes):
    names = []
    for name, fig in _figures(full, sizes):
        assert fig is not None, f"{name}: no figure from data that should give one"
        assert overlapping_texts(fig) == [], f"{name}: overlapping text boxes"
        assert empty_axes(fig) == [], f"{name}: empty facets"
        assert unlabelled_axes(fig) == [], f"{name}: unlabelled axes"
        names.append(name)
        plt.close(fig)
    assert len(names) >= 14


def test_training_curves_are_readable(tmp_path):
    import pandas as pd

    rows = []
    for config, backend in (
        ("jax diffrax tsit5 discretise rev-over-rev", "jax"),
        ("torch torchode tsit5 discretise rev-over-rev", "torch"),
    ):
        for i in range(20):
            rows.append(
                {
                    "config": config,
                    "backend": backend,
                    "iteration": i,
                    "loss": 1e5 * 0.97**i,
                    "elapsed_s": 2.0 + 0.01 * i,
                    "run_id": "r",
                }
            )
    fig = ude.training_figure(pd.DataFrame(rows))
    assert overlapping_texts(fig) == [] and unlabelled_axes(fig) == []


def test_the_overlap_check_detects_overlap():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x [s]")
    ax.set_ylabel("y [s]")
    ax.text(0.5, 0.5, "a long annotation")
    ax.text(0.52, 0.5, "another long annotation")
    assert overlapping_texts(fig)
    empty = plt.subplots(1, 2)[0]
    empty.axes[0].plot([1], [1])
    assert len(empty_axes(empty)) == 1 and len(unlabelled_axes(empty)) == 4
    plt.close("all")


def test_time_axes_are_logarithmic_with_units_in_the_ticks(full):
    ok = full.ok[full.ok["problem"] == "penalty"]
    fig = penalty.scaling_figure(ok)
    for ax in fig.axes:
        assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
        fig.canvas.draw()
        ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
        assert ticks and all(t.endswith(("s", "ms", "µs")) for t in ticks), ticks
    plt.close(fig)
    assert seconds_label(1e-4) == "100 µs" and seconds_label(0.002) == "2 ms" and seconds_label(3) == "3 s"


def test_one_colour_per_strategy_in_every_figure(full):
    from problems import CATALOGUES, catalogue

    names = {
        n
        for k, e in CATALOGUES.items()
        if not isinstance(e, str)
        for n, s in catalogue(k).items()
        if not s.floor and s.spelling_of is None
    }
    colours = {strategy_colour(n) for n in names}
    assert len(colours) == len(names) <= len(COLOURS)  # distinct while the palette lasts
    ok = full.ok
    orders = order_scaling.series_frame(ok[ok["problem"] == "derivative-order"], "order")
    dims = order_scaling.series_frame(ok[ok["problem"] == "poisson"], "dim")
    seen = {}
    for fig in (
        order_scaling.log_panels(orders, "order", "k", False),
        pinn.log_panels(dims, "dim", "d", True),
        penalty.scaling_figure(ok[ok["problem"] == "penalty"]),
    ):
        for ax in fig.axes:
            for line in ax.get_lines():
                label = line.get_label()
                strategy = label.split()[-1] if not label.startswith("_") else None
                if strategy in names:
                    seen.setdefault(strategy, set()).add(matplotlib.colors.to_hex(line.get_color()))
        plt.close(fig)
    assert {"taylor", "nested-rev", "fwd-over-rev"} <= set(seen)
    assert all(c == {strategy_colour(s).lower()} for s, c in seen.items()), seen
