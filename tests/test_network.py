import numpy as np
import pytest

from problems import BenchInputError, load_params, save_params, validate_params
from problems.network import SEED_NETWORK, MLPSpec, flatten, init_params, unflatten


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
    with pytest.raises(BenchInputError, match="valid: rbf, tanh"):
        MLPSpec(activation="relu")
    with pytest.raises(BenchInputError, match="positive integers"):
        MLPSpec(sizes=(2, 0, 1))
