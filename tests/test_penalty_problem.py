import numpy as np
import pytest

from backends import get_backend
from bench.rounding import tolerance_for
from problems import PROBLEMS, BenchInputError, get_problem
from problems.penalty import fd_step


def test_canonical_grid_is_0_to_10_step_0_1(seed_problem):
    grid = seed_problem.grid()
    assert grid.shape == (101, 2)
    np.testing.assert_allclose(grid[:, 0], np.arange(101) / 10, atol=1e-12)
    assert np.all(grid[:, 1] == 1.0)


def test_points_option():
    assert get_problem("penalty", points=10_000).grid().shape == (10_000, 2)


@pytest.mark.parametrize("points", [-5, 0, 1, 2.5, "10", True])
def test_invalid_points_are_refused(points):
    with pytest.raises(BenchInputError, match="points must be an integer"):
        get_problem("penalty", points=points)


def test_unknown_problem_lists_valid_names():
    with pytest.raises(
        BenchInputError, match="unknown problem 'nope'; valid problems: " + ", ".join(sorted(PROBLEMS))
    ):
        get_problem("nope")


def test_unknown_option_lists_valid_options():
    with pytest.raises(BenchInputError, match="valid options: points"):
        get_problem("penalty", order=3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fd_step_is_exactly_representable_and_scaled(dtype):
    x = np.array([0.0, 1.0, 10.0, 3.3], dtype=dtype)
    h = fd_step(x, dtype)
    assert h.dtype == np.dtype(dtype)
    np.testing.assert_array_equal((x + h) - x, h)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(h, np.cbrt(eps) * np.maximum(1, np.abs(x)), rtol=1e-2)


def test_reference_value_is_the_defining_sum(seed_problem, seed_params, seed_reference):
    # Direct evaluation of the definition by central differences in x (h = 1e-5, error ~1e-10).
    from problems.reference import taylor_coefficients

    X = seed_problem.grid()
    h = 1e-5
    total = 0.0
    for j in range(2):
        e = np.zeros_like(X)
        e[:, j] = h
        up = taylor_coefficients(seed_params, seed_problem.network, X + e, e, 0)[0][:, 0]
        dn = taylor_coefficients(seed_params, seed_problem.network, X - e, e, 0)[0][:, 0]
        total += np.sum(((up - dn) / (2 * h)) ** 2)
    assert np.isclose(seed_reference[0], total, rtol=1e-8)


def test_tolerances(seed_problem, seed_params):
    assert seed_problem.tolerance("rev-over-rev", "float64", seed_params) == 1e-10
    t32 = seed_problem.tolerance("rev-over-rev", "float32", seed_params)
    assert np.finfo(np.float32).eps < t32 < 1e-4
    fd64 = tolerance_for(get_backend("jax"), seed_problem, "fd-central", "float64", seed_params)
    assert fd64.truncation > 0 and fd64.stencil_rounding > 0 and fd64.measurement.relative > 0
    assert 1e-10 < fd64.total < 1e-8  # truncation h² ~ ε^(2/3) ~ 4e-11 plus rounding ε/h, relative
    with pytest.raises(ValueError, match="needs its measured rounding"):
        seed_problem.tolerance("fd-central", "float64", seed_params)
    with pytest.raises(BenchInputError, match="valid dtypes: float32, float64"):
        seed_problem.tolerance("rev-over-rev", "float16", seed_params)
