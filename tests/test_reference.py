"""The reference is checked against things that are not the reference: closed forms and
finite differences, so that it can serve as ground truth for the strategies."""

import math

import mpmath
import numpy as np
import pytest

from problems.network import ACTIVATIONS, MLPSpec, init_params
from problems.reference import ACTIVATION_FUNCTIONS, COMPLEX_STEP, complex_step_gradient, taylor_coefficients


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


# -- every activation's Taylor rule --------------------------------------------------------------
MP_ACTIVATIONS = {
    "rbf": lambda z: mpmath.exp(-(z**2)),
    "tanh": mpmath.tanh,
    "sin": mpmath.sin,
    "softplus": lambda z: mpmath.log(1 + mpmath.exp(z)),
    "silu": lambda z: z / (1 + mpmath.exp(-z)),
    "gelu": lambda z: z * (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2,
}
"""The activations at 30 significant digits, differentiated by mpmath (no Taylor recurrence)."""


def _unit(name):
    """U(x) = σ(a·x + c) for one input and one hidden unit: coefficient k·k! = aᵏσ⁽ᵏ⁾(a·x + c)."""
    spec = MLPSpec(sizes=(1, 1, 1), activation=name)
    a, c = 0.8, -0.3
    params = {"W1": np.array([[a]]), "b1": np.array([c]), "W2": np.ones((1, 1)), "b2": np.zeros(1)}
    return spec, params, a, c


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_taylor_rule_matches_high_precision_derivatives(name):
    """Orders 0 … 6 at points from −4 to 5, against mpmath's numerical differentiation at 30 digits."""
    mpmath.mp.dps = 30
    spec, params, a, c = _unit(name)
    xs = np.array([[-4.0], [-1.1], [0.0], [0.35], [2.2], [5.0]])
    coeffs = taylor_coefficients(params, spec, xs, np.ones_like(xs), 6)
    for k, coeff in enumerate(coeffs):
        for x, got in zip(xs[:, 0], coeff[:, 0]):
            exact = float(a**k * mpmath.diff(MP_ACTIVATIONS[name], a * x + c, k))
            scale = max(1.0, abs(exact))
            assert abs(got * math.factorial(k) - exact) <= 1e-12 * scale, (name, k, x, got, exact)


def test_closed_forms_of_the_new_activations():
    """sin⁽ᵏ⁾ = sin(z + kπ/2); softplus' = sigmoid, softplus'' = s(1 − s); silu' = s + z·s(1 − s);
    gelu' = Φ + zφ, gelu'' = (2 − z²)φ."""
    z = np.array([[-2.5], [-0.4], [0.0], [0.9], [3.1]])
    one = np.ones_like(z)

    def derivs(name, order):
        spec = MLPSpec(sizes=(1, 1, 1), activation=name)
        params = {"W1": np.ones((1, 1)), "b1": np.zeros(1), "W2": np.ones((1, 1)), "b2": np.zeros(1)}
        cs = taylor_coefficients(params, spec, z, one, order)
        return [c[:, 0] * math.factorial(k) for k, c in enumerate(cs)]

    x = z[:, 0]
    for k, d in enumerate(derivs("sin", 5)):
        np.testing.assert_allclose(d, np.sin(x + k * np.pi / 2), rtol=1e-13, atol=1e-15)
    s = 1 / (1 + np.exp(-x))
    sp = derivs("softplus", 2)
    np.testing.assert_allclose(sp[0], np.log1p(np.exp(x)), rtol=1e-14)
    np.testing.assert_allclose(sp[1], s, rtol=1e-14)
    np.testing.assert_allclose(sp[2], s * (1 - s), rtol=1e-13)
    np.testing.assert_allclose(derivs("silu", 1)[1], s + x * s * (1 - s), rtol=1e-13, atol=1e-15)
    pdf = np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi)
    cdf = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    gelu = derivs("gelu", 2)
    np.testing.assert_allclose(gelu[0], x * cdf, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(gelu[1], cdf + x * pdf, rtol=1e-13)
    np.testing.assert_allclose(gelu[2], (2 - x**2) * pdf, rtol=1e-13)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_functions_are_complex_step_safe(name):
    """Im σ(z + ih)/h = σ'(z) exactly where a naive formula would overflow (|z| = 800), and the
    primal keeps its float64 value; the complex step through a whole network matches central
    differences in the weights."""
    sigma = ACTIVATION_FUNCTIONS[name]
    z = np.array([-800.0, -30.0, -1.0, 0.5, 30.0, 800.0])
    with np.errstate(over="raise", invalid="raise", under="ignore"):
        value = sigma(z + 1j * COMPLEX_STEP) if name in ("softplus", "silu", "gelu") else None
    if value is not None:
        assert np.all(np.isfinite(value))
        derivative = np.imag(value) / COMPLEX_STEP
        assert np.allclose(derivative[[0, -1]], {"softplus": [0, 1], "silu": [0, 1], "gelu": [0, 1]}[name])
        assert np.isclose(np.real(value[-1]), 800.0, rtol=1e-15)
    spec = MLPSpec(sizes=(2, 4, 3, 1), activation=name)
    params = init_params(spec, seed=6)
    x = np.array([[0.3, -0.7], [1.5, 0.2]])

    def objective(p):
        return np.sum(taylor_coefficients(p, spec, x, np.array([[1.0, 0.5]] * 2), 2)[2] ** 2, axis=(-1, -2))

    grads = complex_step_gradient(objective, params, spec)
    h = 1e-6
    for key, idx in [("W1", (2, 1)), ("b2", (0,)), ("W3", (0, 1))]:
        plus = {k: v.copy() for k, v in params.items()}
        minus = {k: v.copy() for k, v in params.items()}
        plus[key][idx] += h
        minus[key][idx] -= h
        fd = (objective(plus) - objective(minus)) / (2 * h)
        assert np.isclose(grads[key][idx], fd, rtol=1e-6, atol=1e-10), (name, key)


def test_directions_share_the_primal_and_points_are_chunked(monkeypatch):
    """R directions per point (x (N, 1, d), v (1, R, d)) give the same coefficients as one direction
    per row, and chunked propagation (forced by a tiny chunk budget) the same as unchunked."""
    import problems.reference as reference

    spec = MLPSpec(sizes=(3, 7, 5, 2), activation="silu")
    params = init_params(spec, seed=2)
    X = np.random.default_rng(0).normal(size=(9, 3))
    V = np.eye(3)
    shared = taylor_coefficients(params, spec, X[:, None, :], V[None], 3)
    for j in range(3):
        single = taylor_coefficients(params, spec, X, np.broadcast_to(V[j], X.shape), 3)
        for k in range(4):
            np.testing.assert_allclose(np.broadcast_to(shared[k], (9, 3, 2))[:, j], single[k], rtol=1e-14)
    monkeypatch.setattr(reference, "TAYLOR_CHUNK_ELEMENTS", 20)
    chunked = taylor_coefficients(params, spec, X[:, None, :], V[None], 3)
    for a, b in zip(shared, chunked):
        np.testing.assert_allclose(np.broadcast_to(a, b.shape), b, rtol=1e-13, atol=1e-16)
