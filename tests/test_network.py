import numpy as np
import pytest

from problems import BenchInputError, get_problem, load_params, save_params, validate_params
from problems.network import (
    SEED_NETWORK,
    MLPSpec,
    flatten,
    infer_layers,
    init_params,
    layers_of_file,
    parse_layers,
    unflatten,
)


def test_seed_architecture():
    assert SEED_NETWORK.sizes == (2, 5, 5, 5, 2)
    assert SEED_NETWORK.activation == "rbf"
    assert SEED_NETWORK.n_params == 87
    assert SEED_NETWORK.param_shapes()["W1"] == (5, 2)  # (out, in)
    assert SEED_NETWORK.param_shapes()["W4"] == (2, 5)


def test_init_is_deterministic_glorot_with_nonzero_biases():
    a, b = init_params(seed=3), init_params(seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(init_params(seed=4)["W1"], a["W1"])
    for i, (fan_in, fan_out) in enumerate(zip(SEED_NETWORK.sizes[:-1], SEED_NETWORK.sizes[1:]), 1):
        assert np.all(np.abs(a[f"W{i}"]) <= np.sqrt(6 / (fan_in + fan_out)))
        assert np.all(a[f"b{i}"] != 0) and np.all(np.abs(a[f"b{i}"]) <= 0.1)


def test_npz_round_trip(tmp_path):
    params = init_params(seed=1)
    save_params(tmp_path / "p.npz", params)
    loaded = load_params(tmp_path / "p.npz")
    assert set(loaded) == set(SEED_NETWORK.param_names)
    assert all(np.array_equal(loaded[k], params[k]) for k in params)


def test_flatten_round_trip():
    params = init_params()
    theta = flatten(params)
    assert theta.shape == (87,)
    back = unflatten(theta)
    assert all(np.array_equal(back[k], params[k]) for k in params)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.pop("W1"), "missing \\['W1'\\]"),
        (lambda p: p.update(W9=np.zeros(2)), "unexpected \\['W9'\\]"),
        (lambda p: p.update(W2=np.zeros((5, 4))), "W2 has shape \\(5, 4\\), expected \\(5, 5\\)"),
        (lambda p: p["b3"].__setitem__(0, np.nan), "b3 contains NaN"),
    ],
)
def test_malformed_parameters_are_refused(mutate, message):
    params = init_params()
    mutate(params)
    with pytest.raises(BenchInputError, match=message):
        validate_params(params)


def test_unreadable_parameter_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not an npz")
    with pytest.raises(BenchInputError, match="cannot read parameter file"):
        load_params(bad)


def test_invalid_specs():
    with pytest.raises(BenchInputError, match="valid activations: rbf, tanh, sin, softplus, silu, gelu"):
        MLPSpec(activation="relu")
    with pytest.raises(BenchInputError, match="positive integers"):
        MLPSpec(sizes=(2, 0, 1))


# -- any MLP: the layers option -------------------------------------------------------------------
@pytest.mark.parametrize("value", ["2-64-32-1", [2, 64, 32, 1], (2, 64, 32, 1), " 2-64-32-1 "])
def test_layers_accept_a_string_list_or_tuple(value):
    assert parse_layers(value) == (2, 64, 32, 1)
    problem = get_problem("penalty", layers=value, activation="sin")
    assert problem.layers == "2-64-32-1" and problem.network == MLPSpec((2, 64, 32, 1), "sin")
    assert problem == get_problem("penalty", layers="2-64-32-1", activation="sin")


@pytest.mark.parametrize("value", ["2-64", "2-0-1", "2-x-1", "2--1", [2, 64.0, 1], [2, True, 1], 64, None])
def test_bad_layers_are_refused_with_an_example(value):
    with pytest.raises(BenchInputError, match='layers must be .* e.g. "2-64-64-2"'):
        parse_layers(value)


def test_default_instances_are_the_seed_instances():
    """The defaults are today's instances: the seed net for the penalty and derivative-order, the
    tanh 2-64-64-64-1 net for the PINN problems; width/depth and layers name the same network."""
    assert get_problem("penalty").network == SEED_NETWORK
    assert get_problem("derivative-order").network == SEED_NETWORK
    assert get_problem("derivative-order") == get_problem("derivative-order", width=5, depth=4)
    assert get_problem("derivative-order", layers="2-5-5-5-2") == get_problem("derivative-order")
    assert get_problem("poisson").network == MLPSpec((2, 64, 64, 64, 1), "tanh")
    assert get_problem("biharmonic", dim=4).network == MLPSpec((4, 64, 64, 64, 1), "tanh")
    wide = get_problem("derivative-order", width=64, depth=4)
    assert wide.layers == "2-64-64-64-2" and wide.network.n_params == 8642


def test_options_rebuild_the_same_instance():
    for problem in [
        get_problem("poisson", layers=[50, 768, 768, 512, 512, 1]),
        get_problem("biharmonic", dim=3, width=16, depth=3, activation="sin"),
        get_problem("derivative-order", order=3, layers="3-8-4-1", activation="gelu"),
        get_problem("penalty", layers="4-7-2", activation="silu"),
    ]:
        assert get_problem(problem.name, **problem.options) == problem
    pinn = get_problem("poisson", layers="50-768-768-512-512-1")
    assert (pinn.dim, pinn.width, pinn.depth, pinn.network.n_params) == (50, None, 5, 1_286_657)


@pytest.mark.parametrize(
    "problem, options, message",
    [
        ("derivative-order", {"layers": "2-8-8-2", "width": 16}, "layers=2-8-8-2 contradicts width=16"),
        ("derivative-order", {"layers": "2-8-8-2", "depth": 4}, "contradicts depth=4"),
        ("poisson", {"layers": "3-8-1", "dim": 2}, "contradicts 2 inputs"),
        ("poisson", {"layers": "3-8-2"}, "contradicts 1 output"),
        ("biharmonic", {"layers": "40-8-1"}, r"dim \(the input width of layers\) must be .* 1 … 16"),
        ("penalty", {"activation": "relu"}, "valid activations: rbf, tanh, sin, softplus, silu, gelu"),
        ("penalty", {"network": SEED_NETWORK}, "valid options: points, layers, activation"),
    ],
)
def test_conflicting_or_unknown_network_options(problem, options, message):
    with pytest.raises(BenchInputError, match=message):
        get_problem(problem, **options)


def test_penalty_grid_for_any_input_width():
    """x₁ sweeps 0:10, every other input is 1.0 (one input: the grid is x alone)."""
    grid = get_problem("penalty", points=11, layers="4-8-2").grid()
    assert grid.shape == (11, 4)
    np.testing.assert_allclose(grid[:, 0], np.arange(11))
    assert np.all(grid[:, 1:] == 1.0)
    assert get_problem("penalty", points=3, layers="1-8-1").grid().tolist() == [[0.0], [5.0], [10.0]]


# -- your own weights: the layers of a parameter file ---------------------------------------------
def test_layers_are_inferred_from_any_consistent_parameters(tmp_path):
    spec = MLPSpec((50, 768, 512, 1), "tanh")
    params = {k: np.zeros(s) for k, s in spec.param_shapes().items()}
    assert infer_layers(params) == (50, 768, 512, 1)
    save_params(tmp_path / "w.npz", init_params(MLPSpec((3, 9, 4, 2)), seed=1))
    assert layers_of_file(tmp_path / "w.npz") == "3-9-4-2"


def _shapes(*sizes):
    spec = MLPSpec(tuple(sizes))
    return {k: np.ones(s) for k, s in spec.param_shapes().items()}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.update(W2=np.ones((4, 5))), r"W2 has 5 columns \(inputs\) but layer 1 has 6 outputs"),
        (lambda p: p.update(b1=np.ones(5)), "b1 has 5 entries but W1 has 6 rows"),
        (lambda p: p.pop("W3"), "b3 without W3"),
        (lambda p: p.pop("b2"), "W2 without b2"),
        (lambda p: p.update(W5=np.ones((1, 2)), b5=np.ones(1)), r"layer 4 is missing \(no W4, b4\)"),
        (lambda p: p.update(extra=np.ones(1)), r"unexpected parameter key\(s\) extra"),
        (lambda p: p.update(W1=np.ones(6)), r"W1 must be a 2-D \(out, in\) matrix"),
        (lambda p: p.update(b2=np.ones((4, 1))), "b2 must be a vector"),
        (lambda p: p["W2"].__setitem__((0, 0), np.inf), "W2 contains NaN or Inf"),
        (lambda p: p.clear(), "no parameters"),
    ],
)
def test_inconsistent_parameters_name_what_is_wrong(mutate, message):
    params = _shapes(3, 6, 4, 2)
    mutate(params)
    with pytest.raises(BenchInputError, match=message):
        infer_layers(params)


def test_a_bad_parameter_file_names_the_file(tmp_path):
    params = _shapes(3, 6, 4, 2)
    params.pop("b3")
    save_params(tmp_path / "bad.npz", params)
    with pytest.raises(BenchInputError, match="bad.npz.*W3 without b3"):
        layers_of_file(tmp_path / "bad.npz")
    with pytest.raises(BenchInputError, match="cannot read parameter file"):
        layers_of_file(tmp_path / "missing.npz")
