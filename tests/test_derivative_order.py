"""The k-th derivative loss: its reference, stencils and tolerances, and every strategy of both
backends against the independent float64 reference for k = 1 … 6.

From k = 4 on, the exact strategies' JAX code runs op by op (`jax_eager`, tests/conftest.py):
tracing and compiling k nested levels is what costs there (k = 6 nested-rev took 16 CPU-s jitted),
and the nesting is the same code at every k. At k = 1 … 3 (and in the spellings, float32 and
stencil tests) every strategy runs jitted, as the benchmark times it."""

import math
from fractions import Fraction

import numpy as np
import pytest

from backends import BACKENDS, UnsupportedStrategy, get_backend
from bench.measure import params_in_dtype
from bench.rounding import tolerance_for
from problems import BenchInputError, catalogue, get_problem
from problems.network import SEED_NETWORK
from problems.reference import taylor_coefficients
from problems.stencils import central_stencil

EXACT = ["nested-rev", "nested-fwd", "taylor"]
SMALL = {"points": 11}  # the seed net on 11 grid points: compile time, not the grid, dominates


@pytest.fixture(scope="module")
def problems():
    return {k: get_problem("derivative-order", order=k, **SMALL) for k in range(1, 9)}


def _check(problem, strategy, backend, dtype="float64", params=None):
    params = problem.init_params(0) if params is None else params
    b = get_backend(backend)
    value, grads = b.value_and_grad(problem, strategy, dtype=dtype)(params)
    ref_params = params_in_dtype(params, dtype)
    value_err, grad_err, _ = problem.compare(ref_params, value, grads)
    return (
        value_err,
        grad_err,
        tolerance_for(b, problem, strategy, dtype, params, result=(value, grads)).total,
    )


# -- the problem ---------------------------------------------------------------------------------
def test_default_instance_follows_the_foundation_api():
    problem = get_problem("derivative-order", order=3)
    assert problem.network == SEED_NETWORK and problem.grid().shape == (101, 2)
    np.testing.assert_allclose(problem.grid()[:, 0], np.arange(101) / 10, atol=1e-12)
    value, grads = get_backend("jax").value_and_grad(problem, "taylor")(problem.init_params(0))
    assert set(grads) == set(SEED_NETWORK.param_names)
    assert all(grads[k].shape == s for k, s in SEED_NETWORK.param_shapes().items())
    assert isinstance(value, float)


@pytest.mark.parametrize("k", [1, 4, 8])
def test_reference_derivative_matches_the_cauchy_integral(k):
    """d^k U/dx^k = k!/(2πi) ∮ U(z)/(z − x)^(k+1) dz: the trapezoid rule on a circle of radius r
    through the complex network converges geometrically — no Taylor recurrence involved."""
    problem = get_problem("derivative-order", order=k, points=5)
    params = problem.init_params(0)
    X = problem.grid()
    r, m = 0.5, 64
    omega = np.exp(2j * np.pi * np.arange(m) / m)
    values = []
    for w in omega:
        shifted = X.astype(complex)
        shifted[:, 0] += r * w
        values.append(
            taylor_coefficients(params, problem.network, shifted, np.zeros_like(shifted), 0)[0][:, 0]
        )
    cauchy = math.factorial(k) * np.mean(np.array(values) * omega[:, None] ** (-k), axis=0).real / r**k
    reference = problem.derivatives(params)[-1]
    np.testing.assert_allclose(reference, cauchy, rtol=1e-9, atol=1e-12 * np.max(np.abs(reference)))


def test_central_stencils_are_the_textbook_ones():
    assert central_stencil(1)[1] == (Fraction(-1, 2), 0, Fraction(1, 2))
    assert central_stencil(2)[1] == (1, -2, 1)
    assert central_stencil(4)[1] == (1, -4, 6, -4, 1)
    assert central_stencil(1)[2] == Fraction(1, 6) and central_stencil(2)[2] == Fraction(1, 12)


@pytest.mark.parametrize("k", range(1, 9))
def test_stencil_moments_vanish_up_to_order_k_plus_one(k):
    nodes, weights, mu = central_stencil(k)
    for n in range(k + 2):
        moment = sum(c * Fraction(j) ** n for c, j in zip(weights, nodes)) / math.factorial(n)
        assert moment == (1 if n == k else 0), n
    assert mu != 0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"order": 0}, "order must be an integer in 1, 2, 3, 4, 5, 6, 7, 8, got 0"),
        ({"order": -2}, "order must be an integer in 1, 2"),
        ({"order": 9}, "got 9"),
        ({"order": 2.5}, "got 2.5"),
        ({"order": "3"}, "got '3'"),
        ({"order": True}, "got True"),
        ({"points": 1}, "points must be an integer ≥ 2"),
        ({"width": 0}, "width must be an integer ≥ 1"),
        ({"depth": 1}, "depth must be an integer ≥ 2"),
        ({"degree": 3}, "valid options: order, points, width, depth"),
    ],
)
def test_bad_options_are_refused_listing_valid_values(options, message):
    with pytest.raises(BenchInputError, match=message):
        get_problem("derivative-order", **options)


# -- strategies ------------------------------------------------------------------------------------
INSTANCES = [("derivative-order", {"order": 2}), ("derivative-order", {"order": 3}), ("poisson", {}),
             ("biharmonic", {})]  # fmt: skip


@pytest.mark.parametrize("name, options", INSTANCES)
def test_every_pair_is_implemented_or_explained(name, options):
    problem = get_problem(name, **options)
    for backend in BACKENDS:
        b = get_backend(backend)
        assert b.registry.names(problem.kind) == set(catalogue(problem.kind)), (backend, problem.kind)
        supported = set(b.strategies(problem))
        reasons = b.unsupported(problem)
        assert supported | set(reasons) == set(catalogue(problem.kind)), (backend, problem.kind)
        assert all(reason.strip() for reason in reasons.values())


ORDERS = [*range(1, 4), *(pytest.param(k, marks=pytest.mark.jax_eager) for k in range(4, 7))]
"""k = 1 … 6; the JAX strategies run op by op from k = 4 on (see the module docstring)."""


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("strategy", EXACT)
@pytest.mark.parametrize("k", ORDERS)
def test_exact_strategies_match_the_reference(k, strategy, backend, problems):
    value_err, grad_err, tol = _check(problems[k], strategy, backend)
    assert tol == 1e-9
    assert grad_err <= tol and value_err <= tol, (grad_err, value_err)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_forward_over_reverse_is_second_order_only(backend, problems):
    value_err, grad_err, tol = _check(problems[2], "fwd-over-rev", backend)
    assert grad_err <= tol and value_err <= tol
    with pytest.raises(UnsupportedStrategy, match="mixed second-order mode"):
        get_backend(backend).value_and_grad(problems[3], "fwd-over-rev")


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_float32_within_the_rounding_bound(backend, problems):
    value_err, grad_err, tol = _check(problems[3], "taylor", backend, dtype="float32")
    assert grad_err <= tol and value_err <= tol
    assert tol < 1e-4


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_fd_stencil_error_is_real_but_within_its_predicted_bound(k, backend, problems):
    value_err, grad_err, tol = _check(problems[k], "fd-stencil", backend)
    assert 1e-13 < grad_err <= tol, (grad_err, tol)
    assert tol < 100 * grad_err  # a prediction (worst-case rounding sums at small k), not a blanket


def test_fd_stencil_too_inaccurate_to_verify_is_refused(problems):
    params = params_in_dtype(problems[8].init_params(0), "float32")
    with pytest.raises(BenchInputError, match="predicted relative error .* > 0.5"):
        problems[8].tolerance("fd-stencil", "float32", params)


def test_directional_check_on_a_wide_net_accepts_right_and_catches_wrong_gradients():
    problem = get_problem("derivative-order", order=2, points=11, width=64)
    assert not problem.full_gradient and problem.network.n_params == 8642
    params = problem.init_params(0)
    value, grads = get_backend("jax").value_and_grad(problem, "taylor")(params)
    value_err, grad_err, _ = problem.compare(params, value, grads)
    assert grad_err < 1e-12 and value_err < 1e-12
    nudged = {k: v.copy() for k, v in grads.items()}
    nudged["W2"][3, 7] += 1e-4 * np.max(np.abs(grads["W2"]))
    assert problem.compare(params, value, nudged)[1] > 1e-9


SPELLINGS = [n for n in catalogue("derivative-order") if catalogue("derivative-order").is_spelling(n)]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_named_spellings_match_the_reference(spelling, backend, dtype, problems):
    """Every named spelling (batched, torch.func, interpreted jets, ...) like its strategy: at k = 3
    (k = 2 for the second-order-only fwd-over-rev), float64 and float32."""
    entry = catalogue("derivative-order")[spelling]
    if not entry.spelled_by(backend):
        pytest.skip(f"{spelling} is a {'/'.join(entry.backends)} spelling")
    problem = problems[2 if spelling.startswith("fwd-over-rev") else 3]
    value_err, grad_err, tol = _check(problem, spelling, backend, dtype)
    assert grad_err <= tol and value_err <= tol, (grad_err, value_err, tol)
    if dtype == "float64" and entry.error == "exact":
        assert tol == 1e-9
