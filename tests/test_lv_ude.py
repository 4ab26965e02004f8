"""The Lotka–Volterra UDE problem: its data, options, float64 reference and derived tolerance."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bench.measure import check
from problems import BenchInputError, get_problem
from problems.lv_ude import (
    DATA_PATH,
    LV_PARAMETERS,
    NOISE_FRACTION,
    T_SPAN,
    generate_data,
    load_data,
    lotka_volterra,
    quartic_dense_output,
    save_times,
)
from problems.network import flatten, unflatten


@pytest.fixture(scope="module")
def problem():
    return get_problem("lv-ude")


@pytest.fixture(scope="module")
def params(problem):
    return problem.init_params(0)


@pytest.fixture(scope="module")
def reference(problem, params):
    return problem.reference(params)


REGENERATION_SAFETY = 10.0
"""Margin on the solver's global error for a regeneration on another machine: its step sequence
may differ (DOP853's error norms go through BLAS, whose last bits differ between CPUs), which moves
the result by at most the order of the global error itself."""


def test_data_file_matches_a_regeneration_within_the_solvers_accuracy():
    """The stored data is what `python -m problems.lv_ude` writes on any machine: t and u0 exactly
    (IEEE basic operations on numpy's bit-exact PCG64 stream, no library math), the trajectory
    within the accuracy of the DOP853 solve at rtol = atol = 1e-12 that made it. That accuracy is
    measured, not assumed: the global error of the 1e-12 solve against a solve at scipy's tightest
    tolerance (100·ε), with REGENERATION_SAFETY."""
    regenerated = generate_data()
    with np.load(DATA_PATH) as stored:
        stored = {k: stored[k] for k in stored.files}
    assert set(stored) == set(regenerated)
    for key, value in regenerated.items():
        assert stored[key].dtype == value.dtype and stored[key].shape == value.shape, key
    np.testing.assert_array_equal(stored["t"], regenerated["t"])
    np.testing.assert_array_equal(stored["u0"], regenerated["u0"])
    tight = solve_ivp(lotka_volterra, T_SPAN, regenerated["u0"], method="DOP853", t_eval=save_times(),
                      rtol=100 * np.finfo(float).eps, atol=100 * np.finfo(float).eps).y.T  # fmt: skip
    global_error = np.max(np.abs(regenerated["X_clean"] - tight))
    assert 0 < global_error < 1e-10  # the 1e-12 solve is that accurate, and not trivially exact
    tolerance = REGENERATION_SAFETY * global_error
    np.testing.assert_allclose(stored["X_clean"], regenerated["X_clean"], rtol=0, atol=tolerance)
    # The noise scales with each state's mean, which moves by at most the same tolerance.
    np.testing.assert_allclose(stored["X_noisy"], regenerated["X_noisy"], rtol=0, atol=2 * tolerance)


def test_data_is_the_canonical_setup():
    data = load_data()
    np.testing.assert_array_equal(data["t"], np.arange(21) * 0.25)
    assert np.all((0 <= data["u0"]) & (data["u0"] < 5))
    np.testing.assert_array_equal(data["X_clean"][0], data["u0"])
    # X_clean solves Lotka–Volterra: an independent solve (another method) agrees.
    alpha, beta, gamma, delta = LV_PARAMETERS
    X = data["X_clean"]
    sol = solve_ivp(lambda t, y: [alpha * y[0] - beta * y[0] * y[1], gamma * y[0] * y[1] - delta * y[1]],
                    (0, 5), data["u0"], method="Radau", t_eval=data["t"], rtol=1e-10, atol=1e-10)  # fmt: skip
    np.testing.assert_allclose(X, sol.y.T, rtol=1e-7, atol=1e-7)
    # Noise: 0.5 % of each state's mean; 21 samples per state give the std to about ±30 %.
    noise = (data["X_noisy"] - X) / X.mean(axis=0)
    assert np.all(np.abs(noise.std(axis=0) / NOISE_FRACTION - 1) < 0.5)


def test_defaults_and_sizes_round_trip(problem):
    assert problem.options == {"ode": "auto", "solver": "dopri5", "sensitivity": "discretise", "tol": 6,
                             "points": 101}  # fmt: skip
    assert problem.rtol == problem.atol == 1e-6
    assert get_problem("lv-ude", **problem.options) == problem
    assert problem.penalty == get_problem("penalty")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"ode": "scipy"}, "unknown ode 'scipy'; valid ode libraries: auto, diffrax, torchdiffeq, torchode"),
        ({"solver": "rk4"}, "unknown solver 'rk4'; valid solvers: tsit5, dopri5, dopri8"),
        ({"sensitivity": "backsolve"}, "'backsolve'; valid sensitivities: discretise, adjoint"),
        ({"tol": 2.5}, "tol must be an integer k in 3..12"),
        ({"tol": 1}, "tol must be an integer k in 3..12"),
        ({"tol": True}, "tol must be an integer k in 3..12"),
        ({"points": 1}, "points must be an integer"),
        ({"order": 2}, "valid options: ode, solver, sensitivity, tol, points, network"),
    ],
)
def test_bad_options_are_refused_listing_valid_values(options, message):
    with pytest.raises(BenchInputError, match=message):
        get_problem("lv-ude", **options)


def test_reference_gradient_matches_finite_differences_of_the_reference_loss(problem, params, reference):
    """The complex-step gradient against central differences of the tight real solve's loss."""
    value, grads = reference
    assert np.isclose(value, problem.data_loss(params) + problem.penalty.reference(params)[0], rtol=1e-12)
    g = flatten(grads, problem.network)
    theta = flatten(params, problem.network)
    for m in [int(np.argmax(np.abs(g))), 0, 40, 86]:
        h = 1e-5 * max(1.0, abs(theta[m]))
        loss = []
        for sign in (1, -1):
            t = theta.copy()
            t[m] += sign * h
            p = unflatten(t, problem.network)
            loss.append(problem.data_loss(p) + problem.penalty.reference(p)[0])
        fd = (loss[0] - loss[1]) / (2 * h)
        # Truncation ~h²|L'''| and the tight solve's noise ~1e-12·L / h: both ≲ 1e-7 of max|g| here.
        assert abs(fd - g[m]) <= 1e-6 * np.max(np.abs(g)), (m, fd, g[m])


def test_quartic_dense_output_is_exact_for_quartics():
    c = np.array([0.3, -1.2, 0.7, 2.0, -0.5])
    p = lambda t: sum(ck * t**k for k, ck in enumerate(c))
    dp = lambda t: sum(k * ck * t ** (k - 1) for k, ck in enumerate(c) if k)
    t0, h = 0.4, 0.8
    for x in (0.1, 0.37, 0.9):
        got = quartic_dense_output(p(t0), p(t0 + h), p(t0 + h / 2), dp(t0), dp(t0 + h), h, x)
        assert np.isclose(got, p(t0 + x * h), rtol=1e-13)


def test_tolerance_follows_the_solver_tolerance(params):
    def tol(**options):
        return get_problem("lv-ude", **options).tolerance("rev-over-rev", "float64", params)

    loose, tight = tol(tol=6), tol(tol=10)
    assert 1e-4 < loose < 1e-2  # an error of 1 % (a missing term, a wrong sign) fails
    assert tight < loose / 100
    assert tol(sensitivity="adjoint") > loose
    assert get_problem("lv-ude").tolerance("rev-over-rev", "float32", params) > loose
    assert tol(tol=6, solver="dopri8") > tol(tol=10, solver="dopri8")


def test_check_passes_the_reference_and_fails_a_one_percent_error(problem, params, reference):
    value, grads = reference
    assert check(problem, "rev-over-rev", "float64", value, grads)["status"] == "ok"
    off = {k: v * 1.01 for k, v in grads.items()}
    assert check(problem, "rev-over-rev", "float64", value, off)["status"] == "wrong"
    assert check(problem, "rev-over-rev", "float64", value * 1.01, grads)["status"] == "wrong"


def test_save_times_are_exact_quarters():
    t = save_times()
    assert t.size == 21 and np.all(t * 4 == np.arange(21))
