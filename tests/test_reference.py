"""The reference is checked against things that are not the reference: closed forms and
finite differences, so that it can serve as ground truth for the strategies."""

import math

import numpy as np

from problems.network import MLPSpec, init_params
from problems.reference import complex_step_gradient, taylor_coefficients


def _u(params, spec, x):
    return taylor_coefficients(params, spec, x, np.zeros_like(x), 1)[0]


def test_taylor_coefficients_of_single_rbf_unit_match_closed_form():
    # U(x) = exp(-(a x)²) with a scalar weight: coefficients of exp(-a² (x + t)²) in t.
    spec = MLPSpec(sizes=(1, 1, 1))
    a = 0.7
    params = {"W1": np.array([[a]]), "b1": np.zeros(1), "W2": np.ones((1, 1)), "b2": np.zeros(1)}
    x = np.array([[0.3]])
    coeffs = taylor_coefficients(params, spec, x, np.ones_like(x), 4)
    z = a * 0.3
    f = math.exp(-(z**2))
    expected_derivs = [
        f,
        -2 * a * z * f,
        a**2 * (4 * z**2 - 2) * f,
        a**3 * (-8 * z**3 + 12 * z) * f,
        a**4 * (16 * z**4 - 48 * z**2 + 12) * f,
    ]  # Hermite polynomials: d^k/dx^k exp(-x²) = (-1)^k H_k(x) exp(-x²)
    for k, c in enumerate(coeffs):
        assert np.isclose(c[0, 0] * math.factorial(k), expected_derivs[k], rtol=1e-13)


def test_tanh_series_matches_closed_form_derivatives():
    spec = MLPSpec(sizes=(1, 1, 1), activation="tanh")
    params = {"W1": np.ones((1, 1)), "b1": np.zeros(1), "W2": np.ones((1, 1)), "b2": np.zeros(1)}
    x = np.array([[0.4]])
    c = taylor_coefficients(params, spec, x, np.ones_like(x), 3)
    t = math.tanh(0.4)
    s = 1 - t**2
    assert np.isclose(c[1][0, 0], s, rtol=1e-14)
    assert np.isclose(2 * c[2][0, 0], -2 * t * s, rtol=1e-14)
    assert np.isclose(6 * c[3][0, 0], s * (6 * t**2 - 2), rtol=1e-13)


def test_first_coefficient_matches_central_difference_of_network():
    spec = MLPSpec()
    params = init_params(spec, seed=2)
    x = np.array([[1.3, 1.0], [7.2, 1.0]])
    v = np.array([[0.6, -0.8], [1.0, 0.0]])
    c1 = taylor_coefficients(params, spec, x, v, 1)[1]
    h = 1e-5
    fd = (_u(params, spec, x + h * v) - _u(params, spec, x - h * v)) / (2 * h)
    np.testing.assert_allclose(c1, fd, rtol=1e-8, atol=1e-10)


def test_complex_step_matches_central_difference_in_weights():
    spec = MLPSpec()
    params = init_params(spec, seed=5)
    x = np.array([[2.0, 1.0]])

    def objective(p):
        return np.sum(taylor_coefficients(p, spec, x, np.array([[1.0, 0.0]]), 1)[1] ** 2, axis=(-1, -2))

    grads = complex_step_gradient(objective, params, spec)
    h = 1e-6
    for name, idx in [("W1", (3, 0)), ("b2", (1,)), ("W4", (0, 2))]:
        plus = {k: v.copy() for k, v in params.items()}
        minus = {k: v.copy() for k, v in params.items()}
        plus[name][idx] += h
        minus[name][idx] -= h
        fd = (objective(plus) - objective(minus)) / (2 * h)
        assert np.isclose(grads[name][idx], fd, rtol=1e-6, atol=1e-10)
