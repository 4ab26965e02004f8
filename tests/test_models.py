"""The model layer: every built-in kind's spec and options, its reference rule against an
independent complex step in x, every exact strategy of both backends against the reference on
every kind, JAX against PyTorch on identical weights, and the `.npz` exchange by each kind's names.

Tiny networks and few points (tracing and compiling dominate); PirateNet's α is set non-zero (at
α = 0, its initialisation, every block is the identity and its weights get no gradient).

The strategy matrix runs its JAX code op by op (`jax_eager`, tests/conftest.py): tracing and
compiling every strategy once per kind and problem cost about twice as much CPU as running it. A
kind only changes `apply`, which every strategy calls: JAX against PyTorch below runs rev-over-rev
jitted on every kind (so `apply` of each kind runs under jit), and every strategy runs jitted on
the MLP in tests/test_activations.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from backends import BACKENDS, get_backend
from bench.cases import params_options
from problems import MODEL_KINDS, BenchInputError, get_problem, model_from_options, save_params
from problems.network import ACTIVATIONS, load_params
from problems.reference import taylor_coefficients

TOLERANCE = 1e-10
"""The issue's contract for exact strategies in float64 (observed ≤ 2e-15 on these nets)."""

KINDS = {
    "mlp": {"layers": "2-5-4-2"},
    "fourier": {"model": "fourier", "layers": "2-5-4-2", "features": 3, "scale": 1.5},
    "modified-mlp": {"model": "modified-mlp", "layers": "2-5-5-2"},
    "pirate": {
        "model": "pirate",
        "layers": "2-5-2",
        "n_blocks": 1,
        "features": 2,
        "scale": 1.0,
        "alpha": 0.4,
    },
    "resnet": {"model": "resnet", "layers": "2-5-2", "n_blocks": 2},
}
"""One tiny instance per kind (non-uniform widths where the kind takes them)."""

ACTIVATION_OF = {"mlp": "rbf", "fourier": "tanh", "modified-mlp": "sin", "pirate": "tanh", "resnet": "rbf"}
"""The activation each kind's strategy test runs with (two or more per framework's jet rules)."""


def _scalar_output(options: dict) -> dict:
    return {**options, "layers": options["layers"].rsplit("-", 1)[0] + "-1"}


def test_every_kind_is_registered_and_tested():
    built_in = {kind for kind, spec in MODEL_KINDS.items() if spec.has_reference}  # torch/jax: your module
    assert built_in == set(KINDS) and set(MODEL_KINDS) - built_in == {"torch", "jax"}


def test_parameter_names_and_shapes_follow_the_issue():
    fourier = model_from_options({**KINDS["fourier"], "activation": "tanh"})
    assert fourier.param_shapes()["B"] == (3, 2) and fourier.param_shapes()["W1"] == (5, 6)
    assert [n for n in fourier.param_names if n != "B"] == ["W1", "W2", "W3", "b1", "b2", "b3"]
    modified = model_from_options({**KINDS["modified-mlp"], "activation": "tanh"})
    assert modified.param_shapes()["Wu"] == (5, 2) and modified.param_shapes()["bv"] == (5,)
    pirate = model_from_options({"model": "pirate", "layers": "3-8-1", "n_blocks": 3, "activation": "tanh"})
    shapes = pirate.param_shapes()
    assert shapes["W3c"] == (3, 8) and shapes["alpha3"] == (1,) and "B" not in shapes
    assert all(
        np.all(v == 0) for k, v in pirate.init_params(0).items() if k.startswith("alpha")
    )  # the paper's
    resnet = model_from_options({**KINDS["resnet"], "activation": "tanh"})
    assert resnet.param_shapes()["W2b"] == (5, 5) and resnet.param_shapes()["Wout"] == (2, 5)
    B = model_from_options(
        {**KINDS["fourier"], "features": 400, "scale": 10.0, "activation": "tanh"}
    ).init_params(0)
    assert 9.0 < np.std(B["B"]) < 11.0  # N(0, s²)


@pytest.mark.parametrize("kind", KINDS)
def test_options_rebuild_the_spec(kind):
    spec = model_from_options({**KINDS[kind], "activation": "tanh"})
    assert model_from_options(spec.options()) == spec
    problem = get_problem("penalty", points=3, activation="tanh", **KINDS[kind])
    assert problem.network == spec and get_problem("penalty", **problem.options) == problem


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"model": "transformer"},
            "valid model kinds: fourier, jax, mlp, modified-mlp, pirate, resnet, torch",
        ),
        ({"model": "fourier", "layers": "2-8-1"}, "needs the option features"),
        ({"model": "fourier", "layers": "2-8-1", "features": 4}, "needs the option scale"),
        ({"model": "modified-mlp", "layers": "2-8-4-1"}, "every hidden width equal"),
        ({"model": "pirate", "layers": "2-8-1"}, "needs the option n_blocks"),
        ({"model": "pirate", "layers": "2-8-8-1", "n_blocks": 2}, "layers as d-h-out"),
        ({"model": "resnet", "layers": "2-8-1", "n_blocks": 0}, "n_blocks must be an integer ≥ 1"),
        ({"layers": "2-8-1", "n_blocks": 2}, "model mlp takes no option n_blocks"),
        ({"model": "fourier", "layers": "2-8-1", "features": 4, "scale": -1.0}, "scale must be a positive"),
    ],
)
def test_a_bad_spec_is_refused_in_one_line(options, message):
    with pytest.raises(BenchInputError, match=message) as info:
        get_problem("penalty", **options)
    assert "\n" not in str(info.value)


def _complex_step_x(params, spec, x, v, order):
    """d/dt of the (order−1)-th Taylor coefficient along v by complex step in x: order·U_order."""
    h = 1e-30
    return np.imag(taylor_coefficients(params, spec, x + 1j * h * v, v, order - 1)[order - 1]) / h


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_reference_rules_agree_with_a_complex_step_in_x(kind, activation):
    """Each coefficient k is the derivative of coefficient k−1 along v divided by k: checked by a
    complex step in x, which shares no series arithmetic with the coefficient it checks."""
    spec = model_from_options({**KINDS[kind], "activation": activation})
    params = spec.init_params(3)
    rng = np.random.default_rng(0)
    x, v = rng.uniform(-1, 1, (4, 2)), rng.standard_normal((4, 2))
    coefficients = taylor_coefficients(params, spec, x, v, 3)
    for k in (1, 2, 3):
        expected = _complex_step_x(params, spec, x, v, k) / k
        np.testing.assert_allclose(coefficients[k], expected, rtol=1e-11, atol=1e-12 * np.abs(expected).max())


def _exact(backend, problem):
    return [s for s in get_backend(backend).strategies(problem) if problem.error_model(s) == "exact"]


PROBLEMS = {
    "penalty": {"points": 5},
    "poisson": {"points": 4},
    "derivative-order": {"points": 4, "order": 2},
}


def _problem(name, kind, activation=None):
    options = KINDS[kind] if name != "poisson" else _scalar_output(KINDS[kind])
    return get_problem(name, activation=activation or ACTIVATION_OF[kind], **options, **PROBLEMS[name])


@pytest.mark.jax_eager
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("kind", [k for k in KINDS if k != "mlp"])
def test_every_exact_strategy_matches_the_reference_on_every_kind(kind, name, backend):
    problem = _problem(name, kind)
    params = problem.init_params(1)
    strategies = _exact(backend, problem)
    assert {"rev-over-rev", "nested-rev"} & set(strategies)
    for strategy in strategies:
        value, grads = get_backend(backend).value_and_grad(problem, strategy)(params)
        value_err, grad_err, _ = problem.compare(params, value, grads)
        assert max(value_err, grad_err) <= TOLERANCE, (strategy, value_err, grad_err)


@pytest.mark.parametrize("kind", KINDS)
def test_jax_and_torch_agree_on_identical_weights(kind):
    problem = _problem("penalty", kind)
    params = problem.init_params(7)
    X = np.random.default_rng(1).uniform(-2, 2, (6, 2))
    values = [get_backend(b).network_values(problem.network, params, X, "float64") for b in BACKENDS]
    np.testing.assert_allclose(values[0], values[1], rtol=1e-13, atol=1e-14)
    (v1, g1), (v2, g2) = (get_backend(b).value_and_grad(problem, "rev-over-rev")(params) for b in BACKENDS)
    assert abs(v1 - v2) <= 1e-12 * abs(v1)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=0, atol=1e-12 * max(np.abs(g1[k]).max(), 1))


def test_the_floor_is_declared_mlp_only():
    for backend in BACKENDS:
        reason = get_backend(backend).unsupported(_problem("penalty", "fourier"))["hand-derived"]
        assert "MLP only" in reason and "fourier" in reason
        assert "hand-derived" in get_backend(backend).strategies(_problem("penalty", "mlp"))


@pytest.mark.parametrize("kind", KINDS)
def test_npz_exchange_uses_each_kinds_names(kind, tmp_path):
    problem = _problem("penalty", kind)
    params = problem.init_params(2)
    path = tmp_path / f"{kind}.npz"
    save_params(path, params)
    loaded = load_params(path, problem.network)
    assert set(np.load(path).files) == set(problem.network.param_names)
    assert all(np.array_equal(loaded[k], params[k]) for k in params)
    if kind != "mlp":
        assert params_options(str(path), {"model": kind}) == {}  # the spec, not the file, sets the widths
        layers = "2-7-2" if kind in ("pirate", "resnet") else "2-7-7-2"
        other = model_from_options({**KINDS[kind], "layers": layers, "activation": "tanh"})
        with pytest.raises(BenchInputError, match="shape"):
            load_params(path, other)
