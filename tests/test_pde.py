"""The PDE problem: mixed-partial interpolation and the reference against closed forms and finite
differences, every exact strategy of both backends against the reference on every equation, a
user residual against its built-in twin, and bad residuals refused with one line."""

import math

import numpy as np
import pytest

from backends import get_backend
from problems import BenchInputError, get_problem
from problems.partials import DerivativePlan, interpolation
from problems.reference import batched, taylor_coefficients

TINY = {"width": 6, "depth": 3, "points": 8}
EQUATIONS = [
    {"equation": "burgers"},
    {"equation": "kdv"},
    {"equation": "heat", "dim": 2},
    {"equation": "allen-cahn", "dim": 3},
    {"equation": "navier-stokes"},
    {"residual": "u_tx + u*u_xxt - u_tt*sin(x)"},  # mixed partials of orders 2 and 3
]
EXACT = ("nested-rev", "nested-fwd", "fwd-over-rev", "taylor", "forward-laplacian", "collapsed-taylor")


@pytest.mark.parametrize("alpha", [(1, 1), (2, 1), (1, 2), (3, 1), (2, 2), (1, 1, 1), (2, 0, 1), (0, 4, 0)])
def test_interpolation_recovers_mixed_partials_of_an_exponential(alpha):
    """f = exp(a·x): ∂^α f = aᵅ f and D^k_p f = (a·p)^k f, so Σ c·(a·p)^k must equal aᵅ."""
    a = np.array([0.7, -1.3, 0.4][: len(alpha)])
    k = sum(alpha)
    combined = sum(float(c) * (a @ np.array(p)) ** k for p, c in interpolation(alpha))
    assert combined == pytest.approx(np.prod(a ** np.array(alpha)), rel=1e-12)


def test_plan_shares_directions_and_nesting_prefixes():
    """u_x, u_xx, u_xxx share one jet along eₓ; the nesting tree holds each prefix once."""
    plan = DerivativePlan(2, ((0, 1), (0, 2), (0, 3), (1, 0)))
    assert plan.directions == (((0, 1), 3), ((1, 0), 1))
    assert [len(level) for level in plan.levels] == [1, 2, 1, 1]


def _tanh_net_derivatives(params, X):
    """u = w₂·tanh(W₁x + b₁) + b₂ (one hidden layer): u_tx and u_xxx in closed form."""
    W1, b1, w2 = params["W1"], params["b1"], params["W2"][0]
    t = np.tanh(X @ W1.T + b1)
    d2 = -2 * t * (1 - t**2)
    d3 = (6 * t**2 - 2) * (1 - t**2)
    return (d2 * W1[:, 0] * W1[:, 1]) @ w2, (d3 * W1[:, 1] ** 3) @ w2


def test_reference_partials_match_closed_forms_and_finite_differences():
    problem = get_problem("pde", residual="u_tx + u_xxx + u_tt", layers="2-5-1", points=6)
    params = problem.init_params(3)
    values = {k: v[0, :, 0] for k, v in problem.derivative_values(batched(params)).items()}
    u_tx, u_xxx = _tanh_net_derivatives(params, problem.grid())
    np.testing.assert_allclose(values[(1, 1)], u_tx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(values[(0, 3)], u_xxx, rtol=1e-12, atol=1e-14)

    def u(X):
        return taylor_coefficients(params, problem.network, X, np.zeros_like(X), 0)[0][:, 0]

    h, X = 1e-3, problem.grid()
    e_t, e_x = np.array([h, 0.0]), np.array([0.0, h])
    fd_tt = (u(X + e_t) - 2 * u(X) + u(X - e_t)) / h**2
    np.testing.assert_allclose(values[(2, 0)], fd_tt, rtol=1e-5, atol=1e-7)
    fd_tx = (u(X + e_t + e_x) - u(X + e_t - e_x) - u(X - e_t + e_x) + u(X - e_t - e_x)) / (4 * h**2)
    np.testing.assert_allclose(values[(1, 1)], fd_tx, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def cases():
    """Each equation's tiny instance, parameters and reference (computed once)."""
    out = []
    for options in EQUATIONS:
        problem = get_problem("pde", **TINY, **options)
        params = problem.init_params(0)
        out.append((problem, params))
    return out


def _check_loss_and_gradient(b, problem, params):
    built = [s for s in EXACT if s in b.strategies(problem)]
    assert "nested-rev" in built and "taylor" in built
    for strategy in built:
        value, grads = b.value_and_grad(problem, strategy)(params)
        value_err, grad_err, _ = problem.compare(params, value, grads)
        assert max(value_err, grad_err) <= 1e-10, (b.name, problem.options, strategy, value_err, grad_err)


def test_every_exact_torch_strategy_matches_the_reference_on_every_equation(cases):
    for problem, params in cases:
        _check_loss_and_gradient(get_backend("torch"), problem, params)


def test_every_exact_jax_strategy_matches_the_reference_on_every_equation(cases):
    """Every JAX strategy's derivative values (u, each ∂^α u, Δu) on every equation, one jit per
    equation (each value_and_grad compiles for seconds); the loss and weight gradient of every
    strategy on Navier–Stokes, where all five apply (the gradient code is shared by the rest)."""
    import jax

    from backends.jax_backend.core import apply_fn
    from backends.jax_backend.pde import STRATEGIES

    b = get_backend("jax")
    for problem, params in cases:
        names = [s for s in EXACT if s in b.strategies(problem)]
        plan, f = problem.parsed_residual.plan, apply_fn(problem.network)
        keyed = lambda values: lambda p, x: {str(k): v for k, v in values(p, x).items()}
        per_point = {s: keyed(STRATEGIES[s](f, plan)) for s in names}
        evaluate = lambda p, X, per_point=per_point: {
            s: jax.vmap(v, in_axes=(None, 0))(p, X) for s, v in per_point.items()
        }
        out = jax.jit(evaluate)(params, problem.grid())
        for key, reference in problem.derivative_values(batched(params)).items():
            scale = np.max(np.abs(reference))
            for s in names:
                error = np.max(np.abs(np.asarray(out[s][str(key)]) - reference[0])) / scale
                assert error <= 1e-10, (problem.options, s, key, error)
    _check_loss_and_gradient(b, *next(c for c in cases if c[0].equation == "navier-stokes"))


@pytest.mark.parametrize(
    "backend, equations",
    [("torch", ("burgers", "kdv", "navier-stokes", "custom")), ("jax", ("navier-stokes",))],
)
def test_fd_stencil_is_approximate_and_within_its_derived_tolerance(backend, equations, cases):
    """fd-stencil (first to third order, mixed partials, Δ, three outputs): its error is not zero
    (an approximation) and stays within its tolerance, the truncation predicted from the
    reference plus the rounding measured and modelled by the harness (`tolerance_for`)."""
    from bench.rounding import tolerance_for

    b = get_backend(backend)
    for problem, params in (c for c in cases if c[0].equation in equations):
        value, grads = b.value_and_grad(problem, "fd-stencil")(params)
        error = max(problem.compare(params, value, grads)[:2])
        tolerance = tolerance_for(b, problem, "fd-stencil", "float64", params)
        assert tolerance.truncation > 0 and tolerance.stencil_rounding > 0
        assert 0 < error <= tolerance.total, (problem.options, error, tolerance)


def test_fd_stencil_columns_are_exact_on_polynomials():
    """Each column of the product stencil reproduces ∂^α of a polynomial of degree αᵢ + 1 in each
    coordinate exactly (symmetric central stencils), so only rounding remains."""
    problem = get_problem("pde", residual="u_t + u_x + u_tx + u_xxt + lap(u)", input_names="t,x", **TINY)
    offsets, weights = problem.stencil("float64")
    t, x = 0.3, -0.7
    f = lambda o: (t + o[:, 0]) ** 3 * (x + o[:, 1]) ** 4
    exact = {(0, 0): t**3 * x**4, (0, 1): 4 * t**3 * x**3, (1, 0): 3 * t**2 * x**4,
             (1, 1): 12 * t**2 * x**3, (1, 2): 36 * t**2 * x**2, "lap": 12 * t**3 * x**2}  # fmt: skip
    columns = f(offsets) @ weights
    assert list(problem.stencil_keys) == list(exact)
    np.testing.assert_allclose(columns, list(exact.values()), rtol=1e-4)


def test_strategies_declare_why_they_do_not_apply(cases):
    jax_backend = get_backend("jax")
    kdv = next(p for p, _ in cases if p.equation == "kdv")
    assert "order 3" in jax_backend.unsupported(kdv)["fwd-over-rev"]
    assert "no Laplacian" in jax_backend.unsupported(kdv)["forward-laplacian"]
    heat = next(p for p, _ in cases if p.equation == "heat")
    assert "forward-laplacian" in jax_backend.strategies(heat)
    assert "folx is JAX-only" in get_backend("torch").unsupported(heat)["forward-laplacian"]


def test_a_user_residual_matches_its_built_in_twin():
    """Burgers written out equals the built-in equation (same inputs, domain and network)."""
    built_in = get_problem("pde", equation="burgers", **TINY)
    written = get_problem("pde", residual="u_t + u*u_x - 0.01/pi*u_xx", input_names="t, x", **TINY)
    params = built_in.init_params(1)
    np.testing.assert_allclose(written.grid(), built_in.grid())
    v_ref, g_ref = built_in.reference(params)
    v, g = get_backend("torch").value_and_grad(written, "taylor")(params)
    assert written.compare(params, v, g)[:2] <= (1e-10, 1e-10)
    assert v == pytest.approx(v_ref, rel=1e-12)
    lap = get_problem("pde", residual="u_t - lap(u)", input_names="t,x1,x2", **TINY)
    sums = get_problem("pde", residual="u_t - u_x1x1 - u_x2x2", input_names="t,x1,x2", **TINY)
    params = lap.init_params(2)
    assert lap.reference(params)[0] == pytest.approx(sums.reference(params)[0], rel=1e-12)
    assert math.isfinite(v)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"residual": "u_t + u*"}, "does not parse"),
        ({"residual": "u_t + w_x"}, "unknown name 'w_x'"),
        ({"residual": "u_z"}, "unknown name 'u_z'"),
        ({"residual": "abs(u_x)"}, "unsupported operation"),
        ({"residual": "u**u_x"}, "unsupported operation"),
        ({"residual": "lap(t)"}, "lap() takes one output name"),
        ({"residual": "t*x"}, "does not involve the network"),
        ({"residual": "u_x", "input_names": "t,t"}, "input_names must be distinct"),
        ({"equation": "wave"}, "valid equations: burgers"),
        ({"equation": "kdv", "dim": 3}, "dim is an option of heat and allen-cahn"),
    ],
)
def test_bad_residuals_are_refused_with_one_line(options, message):
    with pytest.raises(BenchInputError) as raised:
        get_problem("pde", **options)
    assert message in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "backend, strategies, options",
    [
        ("torch", ("hutchinson", "stde"), {"equation": "navier-stokes"}),
        ("jax", ("stde",), {"equation": "heat"}),
    ],
)
def test_estimators_are_exact_for_their_directions(backend, strategies, options):
    """hutchinson / stde compute exactly the loss with Δ replaced by the mean over the problem's
    fixed directions: value and complex-step gradient of `estimator_loss`."""
    from problems.reference import complex_step_gradient, relative_error

    problem = get_problem("pde", width=4, depth=3, points=8, samples=4, **options)
    params = problem.init_params(0)
    for strategy in strategies:
        V = problem.estimator_directions(strategy)
        value, grads = get_backend(backend).value_and_grad(problem, strategy)(params)
        ref_value = float(problem.estimator_loss(batched(params), V)[0])
        ref_grads = complex_step_gradient(
            lambda p, V=V: problem.estimator_loss(p, V), params, problem.network
        )
        assert max(relative_error(value, grads, ref_value, ref_grads)) <= 1e-10, strategy


def test_estimator_stays_within_its_derived_statistical_tolerance():
    problem = get_problem("pde", equation="heat", dim=3, width=6, depth=3, points=64, samples=8)
    params = problem.init_params(0)
    value, grads = get_backend("torch").value_and_grad(problem, "hutchinson")(params)
    error = max(problem.compare(params, value, grads)[:2])
    assert 0 < error <= problem.tolerance("hutchinson", "float64", params)
    with pytest.raises(BenchInputError, match="raise samples or points"):
        problem.tolerance("stde", "float64", params)  # a bound above 0.5 is refused, not used


def test_report_keeps_fd_stencil_out_of_the_exact_ranking():
    """The report's choice table ranks exact strategies only; fd-stencil gets its own ratio."""
    import pandas as pd

    from reports.sections.pde import choice_table

    rows = [("fd-stencil", 1.0), ("taylor", 2.0), ("nested-rev", 3.0), ("stde", 1.5)]
    ok = pd.DataFrame(
        [
            {
                "pde_instance": "burgers",
                "backend": "jax",
                "compile_mode": "jit",
                "dtype": "float64",
                "strategy": s,
                "median_s": t,
                "grad_rel_err": 0.01,
            }
            for s, t in rows
        ]
    )
    row = choice_table(ok).iloc[0]
    assert (row["fastest exact"], row["runner-up"], row["stochastic"]) == ("taylor", "nested-rev", "stde")
    assert row["fd-stencil ×"] == pytest.approx(0.5) and row["runner-up ×"] == pytest.approx(1.5)
