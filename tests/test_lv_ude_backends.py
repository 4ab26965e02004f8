"""The UDE loss+gradient in both backends: agreement, finite differences, parts, counts.

A configuration's build (diffrax's solve traced and compiled once) is shared by the tests that use
it (`_built`): the finite-difference check and the evaluation counts read the same one."""

import functools

import numpy as np
import pytest

from backends import BACKENDS, UnsupportedStrategy, get_backend
from bench.cases import Case
from bench.measure import measure
from bench.rounding import tolerance_for
from bench.timing import TimingPolicy
from problems import catalogue, get_problem
from problems.network import flatten, unflatten
from problems.reference import relative_error

TIGHT = 10
"""rtol = atol = 1e-10 for the cross-framework comparison."""

JAX_DOPRI5, JAX_TSIT5 = ("jax", "diffrax", "dopri5"), ("jax", "diffrax", "tsit5")
PAIRS = {
    "dopri5-discretise": ((*JAX_DOPRI5, "discretise"), ("torch", "torchdiffeq", "dopri5", "discretise")),
    "dopri5-adjoint": ((*JAX_DOPRI5, "adjoint"), ("torch", "torchdiffeq", "dopri5", "adjoint")),
    "tsit5-discretise": ((*JAX_TSIT5, "discretise"), ("torch", "torchode", "tsit5", "discretise")),
}
"""Same method, same sensitivity, one configuration per framework (torchdiffeq has no tsit5)."""


def _problem(ode, solver, sensitivity, tol=6):
    return get_problem("lv-ude", ode=ode, solver=solver, sensitivity=sensitivity, tol=tol)


@functools.cache
def _built(backend, ode, solver, sensitivity, strategy="rev-over-rev"):
    """The compiled loss+gradient of one configuration at the default tolerance (built once)."""
    return get_backend(backend).value_and_grad(_problem(ode, solver, sensitivity), strategy)


@pytest.fixture(scope="module")
def params():
    return get_problem("lv-ude").init_params(0)


@pytest.fixture(scope="module")
def tight_results(params):
    """Loss and gradient of every configuration in PAIRS at rtol = atol = 1e-10."""
    out = {}
    for pair in PAIRS.values():
        for backend, *options in pair:
            problem = _problem(*options, tol=TIGHT)
            out[(backend, *options)] = get_backend(backend).value_and_grad(problem, "rev-over-rev")(params)
    return out


def test_every_strategy_is_implemented_or_explained():
    problem = get_problem("lv-ude")
    for backend in BACKENDS:
        b = get_backend(backend)
        assert set(b.strategies(problem)) | set(b.unsupported(problem)) == set(catalogue("lv-ude"))
        assert set(b.unsupported(problem)) == set(b.unsupported(get_problem("penalty")))


@pytest.mark.parametrize(
    "backend, options, reason",
    [
        ("jax", {"ode": "torchode"}, "'torchode' is a PyTorch library; JAX uses diffrax"),
        ("torch", {"ode": "diffrax"}, "'diffrax' is a JAX library; PyTorch uses torchdiffeq, torchode"),
        ("torch", {"ode": "torchdiffeq", "solver": "tsit5"}, "torchdiffeq has no tsit5"),
        ("torch", {"ode": "torchode", "solver": "dopri8"}, "torchode has no dopri8"),
    ],
)
def test_library_and_solver_pairs_a_backend_lacks_say_why(backend, options, reason):
    with pytest.raises(UnsupportedStrategy, match=reason):
        get_backend(backend).value_and_grad(get_problem("lv-ude", **options), "rev-over-rev")


@pytest.mark.parametrize("pair", list(PAIRS))
def test_jax_and_torch_agree_at_tight_tolerance(pair, tight_results):
    jax_key, torch_key = PAIRS[pair]
    value_err, grad_err = relative_error(*tight_results[jax_key], *tight_results[torch_key])
    assert value_err < 1e-8 and grad_err < 1e-8, (value_err, grad_err)


@pytest.mark.parametrize("key", [k for pair in PAIRS.values() for k in pair])
def test_tight_solves_meet_their_derived_tolerance(key, tight_results, params):
    problem = _problem(*key[1:], tol=TIGHT)
    value_err, grad_err = relative_error(*tight_results[key], *problem.reference(params))
    tolerance = problem.tolerance("rev-over-rev", "float64", params)
    assert tolerance < 1e-5 and value_err <= tolerance and grad_err <= tolerance, (value_err, grad_err)


def _fd_loss(problem, params, m, h):
    """Central difference of the reference loss (tight real solve + penalty) in parameter m."""
    theta = flatten(params, problem.network)
    values = []
    for sign in (1, -1):
        t = theta.copy()
        t[m] += sign * h
        p = unflatten(t, problem.network)
        values.append(problem.data_loss(p) + problem.penalty.reference(p)[0])
    return (values[0] - values[1]) / (2 * h)


@pytest.mark.parametrize(
    "backend, options",
    [("jax", ("diffrax", "tsit5", "discretise")), ("torch", ("torchdiffeq", "dopri5", "adjoint")),
     ("torch", ("torchode", "tsit5", "discretise"))],
)  # fmt: skip
def test_default_tolerance_gradient_matches_finite_differences(backend, options, params):
    """g at rtol = atol = 1e-6 against central differences of the loss, within the bound derived
    from the solver tolerance plus the difference quotient's own error (Richardson estimate)."""
    problem = _problem(*options)
    _, grads = _built(backend, *options)(params)
    g = flatten(grads, problem.network)
    bound = problem.tolerance("rev-over-rev", "float64", params) * np.max(np.abs(g))
    theta = flatten(params, problem.network)
    for m in [int(np.argmax(np.abs(g))), 3, 33, 80]:
        h = 1e-5 * max(1.0, abs(theta[m]))
        fd, fd2 = _fd_loss(problem, params, m, h), _fd_loss(problem, params, m, 2 * h)
        assert abs(g[m] - fd) <= bound + abs(fd - fd2), (m, g[m], fd, bound)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("strategy", ["rev-over-rev", "fd-central"])
def test_whole_step_is_ode_part_plus_the_named_penalty_strategy(backend, strategy, params):
    problem = _problem("auto", "dopri5", "discretise")
    compiled = get_backend(backend).value_and_grad(problem, strategy)
    native = compiled.prepare(params)
    value, grads = compiled.to_numpy(compiled.run(native))
    ode_value, ode_grads = compiled.to_numpy(compiled.parts["ode"](native))
    pen_value, pen_grads = compiled.to_numpy(compiled.parts["penalty"](native))
    assert np.isclose(value, ode_value + pen_value, rtol=1e-13)
    for k in grads:
        np.testing.assert_allclose(grads[k], ode_grads[k] + pen_grads[k], rtol=1e-12, atol=1e-9)
    # The penalty part is the named strategy's: exact to rounding, or carrying the FD error.
    penalty = problem.penalty
    _, pen_err = relative_error(pen_value, pen_grads, *penalty.reference(params))
    assert pen_err <= tolerance_for(get_backend(backend), penalty, strategy, "float64", params).total
    assert (pen_err > 1e-13) == (strategy == "fd-central"), pen_err


def test_rhs_evaluation_counts(params):
    jax_tsit5 = _built("jax", "diffrax", "tsit5", "discretise")
    m = jax_tsit5.metrics(jax_tsit5.prepare(params))
    assert m["rhs_evals"] == 6 * m["steps"] + 1  # FSAL: 6 new stages per step, 1 to start
    assert m["rhs_evals_grad"] >= 2 * m["rhs_evals"]  # the backward pass re-evaluates the field
    torchode = _built("torch", "torchode", "tsit5", "discretise")
    m = torchode.metrics(torchode.prepare(params))
    assert m["rhs_evals"] == m["rhs_evals_reported"] > 6 * m["accepted_steps"]
    adjoint = _built("torch", "torchdiffeq", "dopri5", "adjoint")
    m = adjoint.metrics(adjoint.prepare(params))
    assert m["rhs_evals_grad"] > 2 * m["rhs_evals"]  # the adjoint's backward solve


def test_measure_records_the_time_split_and_counts():
    from bench.config import HarnessConfig

    fast = HarnessConfig(policy=TimingPolicy(min_rounds=2, max_time=0.05))

    class Benchmark:
        def pedantic(self, fn, rounds, iterations):
            pass

    sizes = (("ode", "diffrax"), ("sensitivity", "discretise"), ("solver", "tsit5"), ("tol", 6))
    record = measure(Case("lv-ude", sizes, "jax", "fwd-over-rev", "jit", "float64", "cpu"), Benchmark(), fast)
    assert record["status"] == "ok", record["error"]
    for part in ("ode", "penalty", "solve", "loss"):
        assert 0 < record[f"{part}_median_s"] < 10 * record["median_s"], part
    assert record["rhs_evals"] > 0 and record["steps"] > 0 and record["ode_library"] == "diffrax"
