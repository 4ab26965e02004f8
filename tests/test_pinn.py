"""PINN operators: the strategies against closed forms and the float64 reference, finite differences
within their predicted error, the stochastic estimator exact for its directions and unbiased."""

import numpy as np
import pytest

from backends import BACKENDS, get_backend
from bench.measure import params_in_dtype
from bench.rounding import tolerance_for
from problems import BenchInputError, get_problem
from problems.reference import batched, compare_gradient

W = np.array([0.7, -0.4, 0.9])
C = np.array([0.3, 0.5, -0.2])
POINTS = np.array([[0.1, 0.2, 0.3], [0.5, -0.3, 0.8], [-0.6, 0.4, 0.05]])
SMALL = {"dim": 3, "width": 8, "depth": 3, "points": 8}


def closed_form(order: int) -> np.ndarray:
    """u = sin(w·x) + exp(c·x): Δu = −|w|² sin + |c|² exp, Δ²u = |w|⁴ sin + |c|⁴ exp."""
    s, e = np.sin(POINTS @ W), np.exp(POINTS @ C)
    p = order // 2
    return (-1) ** p * (W @ W) ** p * s + (C @ C) ** p * e


def jax_operators(kind):
    import jax.numpy as jnp

    from backends.jax_backend.pinn import OPERATORS

    u = lambda params, x: jnp.sin(jnp.asarray(W) @ x) + jnp.exp(jnp.asarray(C) @ x)
    return {name: (lambda op: lambda X: np.array([op(None, jnp.asarray(x)) for x in X]))(make(u))
            for name, make in OPERATORS[kind].items()}  # fmt: skip


def torch_operators(kind):
    import torch

    from backends.torch_backend.pinn import OPERATORS

    w, c = torch.tensor(W), torch.tensor(C)
    f = lambda x: torch.sin((w * x).sum(-1, keepdim=True)) + torch.exp((c * x).sum(-1, keepdim=True))
    X = torch.tensor(POINTS)
    return {name: (lambda op: lambda _: op(X).detach().numpy().reshape(-1))(make(f, X[0]))
            for name, make in OPERATORS[kind].items()}  # fmt: skip


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("kind, order", [("laplacian", 2), ("biharmonic", 4)])
def test_exact_operators_match_closed_forms(backend, kind, order):
    operators = jax_operators(kind) if backend == "jax" else torch_operators(kind)
    assert len(operators) == 5
    for name, op in operators.items():
        np.testing.assert_allclose(op(POINTS), closed_form(order), rtol=1e-12, err_msg=name)


# -- the reference ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["poisson", "biharmonic"])
def test_reference_operator_and_truncation_predict_the_finite_difference(name):
    """(stencil − reference operator) / predicted truncation → 1 as h → 0: checks the reference's
    Δ and Δ² (polarisation) and the truncation formulas (for Δ² via sixth derivatives) at once."""
    problem = get_problem(name, **SMALL)
    params = problem.init_params(0)
    spec, X = problem.network, problem.grid()
    from problems.reference import taylor_coefficients

    u = lambda Y: taylor_coefficients(params, spec, Y, np.zeros_like(Y), 0)[0][:, 0]
    exact = problem.operator(batched(params))[0]

    def discrete_laplacian(f, h):
        E = np.eye(problem.dim) * h
        return lambda Y: (sum(f(Y + e) + f(Y - e) for e in E) - 2 * problem.dim * f(Y)) / h**2

    for h in [2e-3, 1e-3] if name == "poisson" else [4e-2, 2e-2]:
        lap = discrete_laplacian(u, h)
        stencil = lap(X) if name == "poisson" else discrete_laplacian(lap, h)(X)
        predicted = problem.truncation(batched(params), h)[0]
        np.testing.assert_allclose((stencil - exact) / predicted, 1.0, atol=0.02)


def test_sources_vanish_on_the_known_solution():
    for name, order in [("poisson", 2), ("biharmonic", 4)]:
        problem = get_problem(name, dim=3, points=5)
        X = problem.grid()
        operator_of_solution = (-1) ** (order // 2) * np.pi**order * np.sin(np.pi * X).sum(axis=1)
        np.testing.assert_allclose(operator_of_solution + problem.source(), 0, atol=1e-12)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("poisson", {"dim": 0}, "dim must be an integer in 1 … 256, got 0"),
        ("poisson", {"dim": -3}, "got -3"),
        ("poisson", {"dim": 2.5}, "got 2.5"),
        ("poisson", {"dim": "8"}, "got '8'"),
        ("poisson", {"dim": 300}, "got 300"),
        ("biharmonic", {"dim": 17}, "dim must be an integer in 1 … 16, got 17"),
        ("poisson", {"samples": 1}, "samples must be an integer ≥ 2"),
        ("poisson", {"points": 0}, "points must be an integer ≥ 1"),
        ("biharmonic", {"order": 4}, "valid options: dim, width, depth, points, samples"),
    ],
)
def test_bad_options_are_refused_listing_valid_values(name, options, message):
    with pytest.raises(BenchInputError, match=message):
        get_problem(name, **options)


# -- strategies on the MLP --------------------------------------------------------------------------
def _check(problem, backend, strategy, dtype="float64"):
    params = problem.init_params(0)
    b = get_backend(backend)
    value, grads = b.value_and_grad(problem, strategy, dtype=dtype)(params)
    ref_params = params_in_dtype(params, dtype)
    value_err, grad_err, _ = problem.compare(ref_params, value, grads)
    tolerance = tolerance_for(b, problem, strategy, dtype, params, result=(value, grads)).total
    return value, grads, value_err, grad_err, tolerance


@pytest.fixture(scope="module")
def small():
    return {name: get_problem(name, **SMALL) for name in ("poisson", "biharmonic")}


EXACT = ["nested-rev", "nested-fwd", "fwd-over-rev", "taylor", "collapsed-taylor", "forward-laplacian"]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name", ["poisson", "biharmonic"])
def test_exact_strategies_match_the_reference(backend, name, small):
    problem = small[name]
    assert problem.full_gradient
    b = get_backend(backend)
    strategies = [s for s in EXACT if s in b.strategies(problem)]
    assert len(strategies) == 5  # one of collapsed-taylor / forward-laplacian is the other's
    for strategy in strategies:
        *_, value_err, grad_err, tol = _check(problem, backend, strategy)
        assert tol == 1e-9 and grad_err <= tol and value_err <= tol, (strategy, grad_err, value_err)


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_float32_and_directional_check_on_a_realistic_net(backend):
    problem = get_problem("poisson", dim=8, points=16)  # width 64: 4,865 parameters, directional
    assert not problem.full_gradient
    strategy = "forward-laplacian" if backend == "jax" else "collapsed-taylor"
    for dtype in ("float64", "float32"):
        *_, value_err, grad_err, tol = _check(problem, backend, strategy, dtype)
        assert grad_err <= tol and value_err <= tol, (dtype, grad_err, tol)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name", ["poisson", "biharmonic"])
def test_fd_stencil_error_is_real_but_within_its_predicted_bound(backend, name, small):
    *_, value_err, grad_err, tol = _check(small[name], backend, "fd-stencil")
    assert 1e-13 < grad_err <= tol and value_err <= tol, (grad_err, tol)
    assert tol < 100 * grad_err


# -- the stochastic estimator -------------------------------------------------------------------------
@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name", ["poisson", "biharmonic"])
def test_hutchinson_computes_exactly_the_estimator_of_its_directions(backend, name):
    """Against the reference estimator with the same directions (value, and complex-step directional
    derivatives of its gradient): the implementation is exact; only the directions make it approximate."""
    problem = get_problem(name, dim=3, width=16, depth=3, points=64)  # enough samples to verify
    value, grads, value_err, grad_err, tol = _check(problem, backend, "hutchinson")
    params = problem.init_params(0)
    est_value_err, est_grad_err, _ = compare_gradient(problem.estimator_loss, params, problem.network, value,
                                                      grads, full=False)  # fmt: skip
    assert est_value_err < 1e-12 and est_grad_err < 1e-9
    assert grad_err <= tol and value_err <= tol  # the statistical bound holds for the exact loss


@pytest.mark.parametrize("name", ["poisson", "biharmonic"])
def test_hutchinson_estimator_is_unbiased(name):
    """Mean of R independent estimates at each point against the exact operator: |mean − exact| within
    4.5 standard errors (fixed seeds, so the test is deterministic; a biased estimator with bias
    above ~0.3 σ/√S would fail). The spread is real: the estimates are not exact."""
    problem = get_problem(name, dim=3, width=8, depth=3, points=8, samples=4)
    params = batched(problem.init_params(0))
    exact = problem.operator(params)[0]
    directions = [problem.hutchinson_directions(seed) for seed in range(400)]
    estimates = np.array([problem.operator_samples(params, v)[0].mean(axis=-1) for v in directions])
    standard_error = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(np.abs(estimates.mean(axis=0) - exact) <= 4.5 * standard_error)
    assert np.all(estimates.std(axis=0) > 1e-3 * np.abs(exact))


def test_hutchinson_too_noisy_to_verify_is_refused():
    problem = get_problem("biharmonic", dim=3, width=8, depth=3, points=2, samples=2)
    with pytest.raises(BenchInputError, match="predicted relative error .* > 0.5.*raise samples"):
        problem.tolerance("hutchinson", "float64", problem.init_params(0))


# -- named spellings ----------------------------------------------------------------------------------
def _named_spellings(kind):
    from problems import catalogue

    strategies = catalogue(kind)
    return [strategies[n] for n in strategies if strategies.is_spelling(n)]


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("kind, order", [("laplacian", 2), ("biharmonic", 4)])
def test_batched_operator_spellings_match_closed_forms(backend, kind, order):
    """The batched spellings of the exact operators (points in one batch inside the derivative) on
    the closed-form function, every point at once."""
    if backend == "jax":
        import jax.numpy as jnp

        from backends.jax_backend.pinn import BATCHED_OPERATORS

        U = lambda params, X: jnp.sin(X @ jnp.asarray(W)) + jnp.exp(X @ jnp.asarray(C))
        operators = {n: make(U)(None, jnp.asarray(POINTS)) for n, make in BATCHED_OPERATORS[kind].items()}
    else:
        import torch

        from backends.torch_backend.pinn import SPELLINGS

        w, c = torch.tensor(W), torch.tensor(C)
        f = lambda X: (torch.sin(X @ w) + torch.exp(X @ c))[:, None]
        X = torch.tensor(POINTS)
        operators = {n: make(f, X[0])(X).detach()[:, 0] for n, make in SPELLINGS[kind].items()}
    assert len(operators) >= 3
    for name, values in operators.items():
        np.testing.assert_allclose(np.asarray(values), closed_form(order), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize(
    "name, dtype", [("poisson", "float64"), ("biharmonic", "float64"), ("poisson", "float32")]
)
def test_named_spellings_match_the_reference(backend, name, dtype, small):
    """Every exact and finite-difference spelling on the small nets, float64, and float32 for Δ
    (as the strategies; the stochastic ones: below, with enough samples to be verifiable)."""
    problem = small[name]
    spellings = [s for s in _named_spellings(problem.kind)
                 if s.spelled_by(backend) and s.error != "stochastic"]  # fmt: skip
    assert spellings
    for spelling in spellings:
        *_, value_err, grad_err, tol = _check(problem, backend, spelling.name, dtype)
        assert grad_err <= tol and value_err <= tol, (spelling.name, grad_err, value_err, tol)
        if dtype == "float64" and spelling.error == "exact":
            assert tol == 1e-9


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("name", ["poisson", "biharmonic"])
def test_hutchinson_spellings_compute_exactly_the_estimator_of_their_directions(backend, name):
    problem = get_problem(name, dim=3, width=16, depth=3, points=64)
    params = problem.init_params(0)
    spellings = [s.name for s in _named_spellings(problem.kind)
                 if s.spelled_by(backend) and s.error == "stochastic"]  # fmt: skip
    assert spellings
    for spelling in spellings:
        value, grads, value_err, grad_err, tol = _check(problem, backend, spelling)
        est_value_err, est_grad_err, _ = compare_gradient(
            problem.estimator_loss, params, problem.network, value, grads, full=False
        )
        assert est_value_err < 1e-12 and est_grad_err < 1e-9, spelling
        assert grad_err <= tol and value_err <= tol, spelling
