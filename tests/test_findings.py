"""Findings in words, computed from the data (`reports.findings`, `reports.crossover`): each
sentence is checked against synthetic runs whose answers are known (growth factors, the dimension
from which collapsed Taylor wins, torch.compile's speed-up, the penalty's share of the UDE step,
where the ranking changes with network size)."""

import math

import pandas as pd
import pytest

from reports import findings as f
from reports.crossover import crossovers, winner_grid
from reports.labels import add_labels, label_parts, parse_instance
from reports.runs import load_runs
from reports.verdict import decide
from tests.synthetic import SIZE_MODEL, full_records, n_params, record, size_records, write_run


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    df, _ = load_runs([write_run(tmp_path_factory.mktemp("full"), full_records())])
    return add_labels(df)


@pytest.fixture(scope="module")
def sizes(tmp_path_factory):
    df, _ = load_runs([write_run(tmp_path_factory.mktemp("sizes"), size_records())])
    return add_labels(df)


def _one(sentences, *needles):
    hits = [s for s in sentences if all(n in s for n in needles)]
    assert len(hits) == 1, (needles, sentences)
    return hits[0]


def test_growth_factor_per_order(full):
    sentences = f.order_findings(full)
    growth = _one(sentences, "Time per derivative order")
    assert "JAX nested-rev 2.0×" in growth and "PyTorch nested-fwd 3.0×" in growth
    assert "JAX taylor" in growth and "polynomial, degree 2.0" in growth  # 1e-4·k² fits a power law
    assert _one(sentences, "PyTorch eager:").endswith("fastest taylor at every measured size (k = 1–4).")


def test_collapsed_taylor_wins_from_the_dimension_where_it_starts_winning(full):
    sentences = f.pinn_findings(full)
    assert "collapsed Taylor mode wins from d = 8 on" in _one(sentences, "PyTorch: collapsed")
    assert "fastest taylor at d = 2, collapsed-taylor from d = 8" in _one(sentences, "PyTorch eager: fastest")
    assert "nested-rev d^2.0" in _one(sentences, "JAX: time grows like")


def test_torch_compile_speedup_break_even_and_failures(full):
    sentences = f.compile_findings(full)
    text = _one(sentences, "torch.compile, taylor:")
    assert "8.0× faster at 101 points" in text and "compiling takes 3 s" in text
    # extra compile time / time saved per call: (3 − 0.5) s / 2.1 ms at 10,000 points, / 0.21 ms at 101
    assert f"repaid after {2.5 / 2.1e-3:,.0f}–{2.5 / 2.1e-4:,.0f} calls" in text
    failed = _one(sentences, "torch.compile, rev-over-rev at")
    assert (
        "failed: RuntimeError: torch.compile with aot_autograd does not currently support double backward"
        in failed
    )
    assert "runtime_wrappers" not in failed
    assert "wrong" in _one(sentences, "torch.compile, fd-central at 10,000 points")


def test_penalty_share_of_the_ude_step(full):
    sentences = f.ude_findings(full)
    assert "the penalty takes 25 % of the fastest step" in _one(sentences, "JAX (float64)")
    pytorch = _one(sentences, "PyTorch (float64)")
    assert (
        "the penalty takes 1 % of the fastest step" in pytorch and "over its" not in pytorch
    )  # the same in all
    assert "takes 200× the fastest JAX step" in _one(sentences, "fastest PyTorch step")


def test_overview_correctness_failures_and_penalty(full):
    decisions = decide(full)
    overview = f.overview_findings(decisions)
    recommended = decisions["recommended"].map(lambda v: isinstance(v, str)).sum()
    assert recommended == len(decisions) - 1  # k = 5 ran only over budget
    assert _one(overview, "comparisons have a recommendation").startswith(
        f"{recommended} of {len(decisions)}"
    )
    assert "over budget" in _one(overview, "No recommendation for k-th derivative, k = 5")
    assert "takes 1.6× its time" in _one(overview, "hand-written floor")
    penalty = f.penalty_findings(full)
    assert "fastest fwd-over-rev at every measured size (101–10,000 points)" in _one(
        penalty, "JAX jit, float32"
    )
    assert "fwd-over-fwd" in _one(penalty, "slowest")
    correct = f.correctness_findings(full)
    assert "error 8.5e-04 > tolerance 6.7e-04" in _one(correct, "Wrong (not timed)")
    failures = f.failure_findings(full)
    assert _one(failures, "over budget:").endswith("exceeded the 60 s budget.")


def test_crossover_is_where_the_two_curves_cross():
    rows = pd.DataFrame(
        [
            {"n_params": p, "strategy": s, "median_s": a + b * p * 100}
            for p in (87, 2274)
            for s, (a, b) in SIZE_MODEL.items()
            if s != "hand-derived"
        ]
    )
    (c,) = crossovers(rows, "n_params")
    assert (c.before, c.after, c.x0, c.x1) == ("rev-over-rev", "fwd-over-rev", 87, 2274)
    # log-log interpolation between the two measured sizes; the exact crossing is at 2e5 / 100 = 2000
    assert 87 < c.x < 2274 and abs(math.log(c.x / 2000)) < 0.1
    t_rev = SIZE_MODEL["rev-over-rev"][0] + SIZE_MODEL["rev-over-rev"][1] * c.x * 100
    assert c.time == pytest.approx(t_rev, rel=0.15)


def test_ranking_findings_and_winner_grid(sizes):
    sentences = f.ranking_findings(sizes)
    jax_100 = _one(sentences, "JAX jit, 100 points:")
    assert "fastest rev-over-rev at 87 parameters, fwd-over-rev from 2.27k parameters" in jax_100
    assert "the curves cross at about 1.9k parameters (rev-over-rev → fwd-over-rev)" in jax_100
    seed_net = _one(sentences, "JAX jit, 2-5-5-5-2 (87 parameters)")
    assert "rev-over-rev up to 1,000 points, fwd-over-rev from 10,000 points" in seed_net
    assert (
        "about 2,700 points" in seed_net
    )  # 2e5 / 87 = 2,299; log-log interpolation between 1,000 and 10,000
    ok = sizes[
        (sizes["status"] == "ok") & (sizes["backend"] == "jax") & (sizes["strategy"] != "hand-derived")
    ]
    grid = winner_grid(ok, "points", "n_params")
    assert grid.loc[n_params([2, 5, 5, 5, 2]), 100] == "rev-over-rev"
    assert grid.loc[n_params([2, 512, 512, 512, 2]), 100] == "fwd-over-rev"
    assert f.ranking_findings(pd.DataFrame({"status": ["ok"], "n_params": [None]})) == []


def test_labels_are_readable():
    assert parse_instance("penalty[activation=tanh,layers=2-64-64-2,points=101]") == {
        "activation": "tanh",
        "layers": "2-64-64-2",
        "points": 101,
    }
    assert label_parts("derivative-order", {"depth": 4, "order": 3, "points": 101, "width": 5}) == ["k = 3"]
    assert label_parts("derivative-order", {"depth": 4, "order": 3, "points": 10000, "width": 64}) == [
        "k = 3",
        "10,000 points",
        "width 64",
    ]
    assert label_parts("poisson", {"dim": 8, "width": 64}, varying={"width"}) == ["d = 8", "width 64"]
    assert label_parts("penalty", {"points": 101}) == ["101 points"]


def test_ranking_holds_every_other_option_fixed(tmp_path):
    from reports.crossover import size_contexts, size_frame

    records = [
        record("derivative-order", {"depth": 4, "order": k, "points": 101, "width": w}, "jax", s, t * w * k,
               n_params=n_params([2] + [w] * 3 + [2]))
        for k in (1, 2) for w in (5, 64) for s, t in (("nested-rev", 1e-5), ("taylor", 2e-5))
    ]  # fmt: skip
    df, _ = load_runs([write_run(tmp_path / "run", records)])
    contexts = dict(size_contexts(size_frame(add_labels(df))))
    assert sorted(contexts) == [
        "k-th derivative, k = 1, float64, cpu",
        "k-th derivative, k = 2, float64, cpu",
    ]
    assert set(contexts["k-th derivative, k = 2, float64, cpu"]["network"]) == {
        "width 5, depth 4",
        "width 64, depth 4",
    }
