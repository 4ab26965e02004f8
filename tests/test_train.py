"""Training runs: curves and summaries written, failures recorded, both frameworks' Adam alike."""

import json

import pandas as pd
import pytest

from bench.train import DEFAULT_CONFIGS, TrainConfig, main, run_training

ITERS = 4


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    configs = [
        TrainConfig("jax", "diffrax", "tsit5"),
        TrainConfig("torch", "torchode", "tsit5"),
        TrainConfig("torch", "torchdiffeq", "tsit5"),  # torchdiffeq has no tsit5: recorded, not fatal
    ]
    records = run_training(out, ITERS, configs, log=None)
    return out, records


def test_every_configuration_is_recorded_and_a_failure_does_not_stop_the_others(run):
    out, records = run
    summaries = [json.loads(line) for line in (out / "training.jsonl").read_text().splitlines()]
    assert [s["status"] for s in summaries] == ["ok", "ok", "failed"] == [r["status"] for r in records]
    assert "torchdiffeq has no tsit5" in summaries[2]["error"]
    for s in summaries[:2]:
        assert s["compile_s"] > 0 and s["train_s"] > 0 and s["iters"] == ITERS
        assert s["initial_loss_rel_err"] < 1e-4 and s["final_loss"] < s["initial_loss"]


def test_curves_have_one_row_per_iteration_and_descend(run):
    out, _ = run
    curves = pd.read_csv(out / "training.csv")
    assert sorted(curves["backend"].unique()) == ["jax", "torch"]
    for _, c in curves.groupby("config"):
        assert list(c["iteration"]) == list(range(ITERS))
        assert c["loss"].is_monotonic_decreasing and c["elapsed_s"].is_monotonic_increasing


def test_optax_and_torch_adam_follow_the_same_path(run):
    """Same weights, data and Adam constants: the losses differ only by the solvers' error."""
    out, _ = run
    curves = pd.read_csv(out / "training.csv")
    by = {b: c.sort_values("iteration")["loss"].to_numpy() for b, c in curves.groupby("backend")}
    assert abs(by["jax"] - by["torch"]).max() / by["jax"][0] < 1e-5


def test_a_second_call_skips_recorded_configurations(run):
    out, _ = run
    rows = len(pd.read_csv(out / "training.csv"))
    again = run_training(out, ITERS, [TrainConfig("jax", "diffrax", "tsit5")], log=None)
    assert again == [] and len(pd.read_csv(out / "training.csv")) == rows


def test_default_configurations_cover_both_frameworks_and_torchode():
    assert {c.backend for c in DEFAULT_CONFIGS} == {"jax", "torch"}
    assert "torchode" in {c.ode for c in DEFAULT_CONFIGS}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--iters", "0"], "--iters must be at least 1"),
        (["--config", "jax:diffrax"], "configuration must be backend:ode:solver"),
        (["--backends", "julia"], "unknown backend 'julia'"),
    ],
)
def test_cli_refuses_bad_input(tmp_path, capsys, args, message):
    assert main(["--out", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
