"""Any MLP, any activation: every exact strategy of both backends against the float64 reference on
small non-uniform networks, JAX against PyTorch on identical weights, and the `unsupported`
declarations (a library without a rule for an activation) checked against what the libraries do.

Kept fast (JAX tracing and compiling dominates, not the net's size): the penalty, derivative-order
at k = 2 (where every exact strategy applies) and Poisson run every exact strategy in both
frameworks; k = 4 runs Taylor mode (the libraries' higher-order jet rules). The biharmonic
operator composes the same rules, so its JAX part runs only the strategy whose library path is its
own, folx's nested forward Laplacian; PyTorch runs all of it.

JAX runs op by op (`jax_eager`, tests/conftest.py) for every activation but tanh: tracing and
compiling each strategy once per activation cost about twice as much CPU as running it, and the
activation only changes the primitives, not the strategy's code. With tanh every strategy of the
matrix runs jitted, as the benchmark times it; the `unsupported` declarations are checked jitted
(some libraries fail only when traced under jit).
"""

from __future__ import annotations

import numpy as np
import pytest

from backends import BACKENDS, DEFAULT_COMPILE_MODE, get_backend
from problems import get_problem
from problems.network import ACTIVATIONS

TOLERANCE = 1e-10
"""The issue's contract for exact strategies in float64 (observed ≤ 1e-14 on these nets)."""

INSTANCES = {
    "penalty": {"points": 7, "layers": "3-6-4-2"},
    "derivative-order": {"order": 2, "points": 7, "layers": "3-6-4-2"},
    "poisson": {"points": 5, "layers": "3-6-4-1"},
    "biharmonic": {"points": 4, "layers": "2-5-3-1"},
}
"""One small non-uniform instance per problem."""

CASES = [(name, None) for name in INSTANCES if name != "biharmonic"] + [
    ("derivative-order-4", {"torch": ["taylor"], "jax": ["taylor"]}),
    ("biharmonic", {"torch": None, "jax": ["forward-laplacian"]}),
]
"""(problem, strategies per backend or None for every exact one)."""


def _instance(name, activation, **extra):
    if name == "derivative-order-4":
        name, extra = "derivative-order", {"order": 4, **extra}
    return get_problem(name, **{**INSTANCES[name], "activation": activation, **extra})


def _exact(problem, backend):
    b = get_backend(backend)
    return [s for s in b.strategies(problem) if problem.error_model(s) == "exact"]


def _check(problem, backend, strategy, params):
    value, grads = get_backend(backend).value_and_grad(problem, strategy)(params)
    value_err, grad_err, _ = problem.compare(params, value, grads)
    assert value_err <= TOLERANCE and grad_err <= TOLERANCE, (strategy, value_err, grad_err)
    return value, grads


JITTED_ACTIVATION = "tanh"
"""The activation whose JAX strategies run jitted here; the others run op by op."""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "activation",
    [pytest.param(a, marks=() if a == JITTED_ACTIVATION else pytest.mark.jax_eager) for a in ACTIVATIONS],
)
@pytest.mark.parametrize("name, only", CASES, ids=[name for name, _ in CASES])
def test_every_exact_strategy_matches_the_reference(name, only, activation, backend):
    problem = _instance(name, activation)
    params = problem.init_params(1)
    strategies = _exact(problem, backend)
    if only and only[backend] is not None:
        strategies = [s for s in strategies if s in only[backend]]
    else:
        assert {"nested-rev", "rev-over-rev"} & set(strategies), "nested AD builds for every activation"
    for strategy in strategies:
        _check(problem, backend, strategy, params)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_jax_and_torch_agree_on_identical_weights(activation):
    problem = _instance("penalty", activation)
    params = problem.init_params(7)
    out = {b: get_backend(b).value_and_grad(problem, "rev-over-rev")(params) for b in BACKENDS}
    (v1, g1), (v2, g2) = out["jax"], out["torch"]
    assert abs(v1 - v2) <= 1e-12 * abs(v1)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=0, atol=1e-12 * max(np.abs(g1[k]).max(), 1))


def _declared(backend, problem):
    """Strategies this backend declares unsupported for this instance because of its activation:
    unsupported here, supported for the same network with tanh."""
    b = get_backend(backend)
    same_net_tanh = get_problem(problem.name, **{**problem.options, "activation": "tanh"})
    return {s: r for s, r in b.unsupported(problem).items() if s not in b.unsupported(same_net_tanh)}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", INSTANCES)
def test_unsupported_declarations_are_what_the_libraries_do(name, backend):
    """Every activation-specific `unsupported` declaration fails when built anyway (the library
    really lacks the rule), and every strategy not declared builds (checked against the reference
    above): the declarations are found by trying, and a library that gains a rule shows up here."""
    b = get_backend(backend)
    seen = 0
    for activation in ACTIVATIONS:
        problem = _instance(name, activation)
        params = problem.init_params(0)
        for strategy, reason in _declared(backend, problem).items():
            seen += 1
            assert activation in reason or "activation" in reason or "jet" in reason, reason
            build = b.registry.builder(problem, strategy)
            with pytest.raises(Exception):  # noqa: B017 - whatever the library raises
                build(problem, "float64", "cpu", DEFAULT_COMPILE_MODE[backend])(params)
    if backend == "torch" or name != "biharmonic":
        assert seen, "softplus has no Taylor-mode rule in either framework's jet"


def test_unsupported_reasons_name_the_library():
    jax_reason = get_backend("jax").unsupported(_instance("penalty", "softplus"))["taylor"]
    assert "jax.experimental.jet" in jax_reason and "softplus" in jax_reason
    torch_reasons = get_backend("torch").unsupported(_instance("poisson", "silu"))
    assert {"taylor", "collapsed-taylor", "hutchinson"} <= set(torch_reasons)
    assert "jet-for-pytorch" in torch_reasons["taylor"] and "aten.silu" in torch_reasons["taylor"]
    assert "forward-laplacian" in get_backend("jax").unsupported(
        _instance("biharmonic", "silu", layers="2-4-1")
    )
