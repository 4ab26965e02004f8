"""The network options through the harness: sweep TOML, the command line, a parameter file whose
widths set `layers`, and the records (canonical `layers`, `n_params`)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.cases import Case, load_sweep, params_options
from bench.measure import base_record
from bench.run import parse_args, select_cases
from problems import BenchInputError, MLPSpec, get_problem, init_params, save_params


def _sweep(tmp_path, body: str):
    path = tmp_path / "sweep.toml"
    path.write_text(body)
    return str(path)


def test_toml_lists_of_networks_and_activations(tmp_path):
    sweep = _sweep(
        tmp_path,
        """
[[sweep]]
problem = "penalty"
options = { points = 11, layers = ["2-64-64-2", [3, 16, 8, 1]], activation = ["tanh", "sin"] }
backends = ["jax"]
strategies = ["rev-over-rev"]
dtypes = ["float64"]

[[sweep]]
problem = "poisson"
options = { layers = [50, 768, 768, 512, 512, 1], activation = "tanh", points = 8 }
backends = ["torch"]
strategies = ["taylor"]
dtypes = ["float64"]
""",
    )
    cases = load_sweep(sweep)
    instances = sorted({c.instance for c in cases})
    assert instances == [
        "penalty[activation=sin,layers=2-64-64-2,points=11]",
        "penalty[activation=sin,layers=3-16-8-1,points=11]",
        "penalty[activation=tanh,layers=2-64-64-2,points=11]",
        "penalty[activation=tanh,layers=3-16-8-1,points=11]",
        "poisson[activation=tanh,layers=50-768-768-512-512-1,points=8]",
    ]
    assert {c.n_params for c in cases if c.problem == "poisson"} == {1_286_657}
    record = base_record(next(c for c in cases if "3-16-8-1" in c.id))
    assert record["layers"] == "3-16-8-1" and record["n_params"] == MLPSpec((3, 16, 8, 1)).n_params
    assert Case.from_dict(cases[0].to_dict()) == cases[0]


def test_command_line_options_set_the_network():
    args = parse_args(["--set", "smoke", "--options", "layers=2-32-16-2,4-8-1;activation=gelu",
                       "--strategies", "rev-over-rev"])  # fmt: skip
    cases = select_cases(args)
    assert {c.options_dict()["layers"] for c in cases} == {"2-32-16-2", "4-8-1"}
    assert {c.options_dict()["activation"] for c in cases} == {"gelu"}
    with pytest.raises(BenchInputError, match="valid activations"):
        select_cases(parse_args(["--set", "smoke", "--options", "activation=relu"]))
    with pytest.raises(BenchInputError, match='e.g. "2-64-64-2"'):
        select_cases(parse_args(["--set", "smoke", "--options", "layers=2x64"]))


def test_a_parameter_file_sets_the_layers(tmp_path):
    path = tmp_path / "w.npz"
    save_params(path, init_params(MLPSpec((2, 12, 7, 2)), seed=3))
    assert params_options(str(path), None) == {"layers": ["2-12-7-2"]}
    assert params_options(str(path), {"layers": ["2-12-7-2"]}) == {"layers": ["2-12-7-2"]}
    with pytest.raises(BenchInputError, match="holds a 2-12-7-2 network; the options ask for layers"):
        params_options(str(path), {"layers": ["2-64-64-2"]})
    with pytest.raises(BenchInputError, match="no such file"):
        params_options(str(tmp_path / "nope.npz"), None)

    # width/depth of the sweep are replaced by the file's layers; the activation stays an option.
    cases = select_cases(parse_args(["--set", "orders-quick", "--params", str(path), "--backends", "jax",
                                     "--options", "activation=sin"]))  # fmt: skip
    assert {c.instance for c in cases} == {
        f"derivative-order[activation=sin,layers=2-12-7-2,order={k},points=101]" for k in (1, 2, 3, 4)
    }
    # A set whose problems have no `layers` option (the UDE) keeps its own network.
    assert select_cases(parse_args(["--set", "ude-quick", "--params", str(path)]))


def test_a_parameter_file_that_cannot_be_the_network_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    save_params(path, init_params(MLPSpec((3, 12, 2)), seed=3))
    with pytest.raises(BenchInputError, match="contradicts 1 output"):
        select_cases(parse_args(["--set", "pinn-quick", "--params", str(path)]))


def test_penalty_reference_on_a_wide_net_uses_directions():
    """Above 1,000 parameters `compare` checks directional derivatives; a 1 % error is caught."""
    problem = get_problem("penalty", points=50, layers="2-40-30-2", activation="silu")
    assert not problem.full_gradient
    params = problem.init_params(0)
    value, grads = problem.reference(params)
    value_err, grad_err, _ = problem.compare(params, value, grads)
    assert value_err < 1e-14 and grad_err < 1e-12
    wrong = {k: v * (1.01 if k == "W2" else 1.0) for k, v in grads.items()}
    assert problem.compare(params, value, wrong)[1] > 1e-4
    # one evaluation of the per-point terms serves the comparison and the summation condition
    from problems.reference import reference_check, summation_condition

    direct = reference_check(problem.loss, params, problem.network, full=False)
    assert direct.compare(problem.network, value, grads)[1] < 1e-12
    standalone = summation_condition(problem.point_losses, params, problem.network, False)
    assert np.isclose(problem.summation_condition(params), standalone, rtol=1e-12)
    pinn = get_problem("poisson", points=6, layers="3-40-30-1")  # loss = the mean of the terms
    pinn_params = pinn.init_params(0)
    pinn_value, pinn_grads = pinn.reference(pinn_params)
    assert max(pinn.compare(pinn_params, pinn_value, pinn_grads)[:2]) < 1e-12
    from problems.core import freeze
    from problems.penalty import fd_truncation

    assert 0 < fd_truncation(problem, "float32", freeze(params)) < 1e-2  # directional, affordable
    assert 0 < problem.tolerance("rev-over-rev", "float32", params) < 1e-3
