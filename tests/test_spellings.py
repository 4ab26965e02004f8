"""Named spellings (issue 11): the same maths written another way, kept measurable beside the
strategy (its fastest spelling). The catalogue entries and the registries agree, sweeps leave
spellings out of "all" and add them on request, the spellings set covers every one, and a spelling
inherits its strategy's error model and library conditions. Their correctness against the float64
reference is checked where each problem's strategies are (test_backends, test_derivative_order,
test_pinn)."""

from __future__ import annotations

import pytest

from backends import BACKENDS, get_backend
from backends.base import Compiled
from bench.cases import expand, load_sweep
from problems import CATALOGUES, BenchInputError, Strategy, catalogue, get_problem
from problems.core import spellings

KINDS = sorted(kind for kind, entry in CATALOGUES.items() if not isinstance(entry, str))
INSTANCES = {"penalty": {}, "derivative-order": {"order": 2}, "laplacian": {}, "biharmonic": {},
             "pde": {"equation": "heat"}}  # fmt: skip
PROBLEM_OF_KIND = {"penalty": "penalty", "derivative-order": "derivative-order", "laplacian": "poisson",
                   "biharmonic": "biharmonic", "pde": "pde"}  # fmt: skip


def _spellings(kind):
    strategies = catalogue(kind)
    return [strategies[n] for n in strategies if strategies.is_spelling(n)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_spelling_names_a_strategy_and_shares_its_contract(kind):
    strategies = catalogue(kind)
    assert _spellings(kind), kind
    for spelling in _spellings(kind):
        parent = strategies[spelling.spelling_of]
        assert parent.spelling_of is None and not parent.floor
        assert spelling.name.startswith(parent.name + ":") and spelling.description.strip()
        assert spelling.error == parent.error and spelling.applies is parent.applies
        assert spelling.backends is None or set(spelling.backends) <= set(BACKENDS)
    assert [n for n in strategies.strategies() if strategies.is_spelling(n)] == []
    assert set(strategies.strategies()) | {s.name for s in _spellings(kind)} == set(strategies)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_backend_implements_exactly_the_spellings_that_name_it(kind, backend):
    """Registered where the catalogue says it is spelled, and explained (not an omission) where not."""
    problem = get_problem(PROBLEM_OF_KIND[kind], **INSTANCES[kind])
    b = get_backend(backend)
    for spelling in _spellings(kind):
        registered = (kind, spelling.name) in b.registry._entries
        assert registered == spelling.spelled_by(backend), (backend, spelling.name)
        if not spelling.spelled_by(backend):
            reason = b.unsupported(problem)[spelling.name]
            assert f"spelling of {spelling.spelling_of}" in reason and "/".join(spelling.backends) in reason


def test_a_spelling_must_be_named_after_its_strategy():
    with pytest.raises(ValueError, match="must be named taylor:<how>"):
        Strategy("jets", "x", spelling_of="taylor")
    (entry,) = spellings(Strategy("fd", "x", error="finite-difference"), ("wide", "y", ("jax",)))
    assert (entry.name, entry.error, entry.spelling_of, entry.backends) == ("fd:wide", "finite-difference",
                                                                           "fd", ("jax",))  # fmt: skip


def test_sweeps_leave_spellings_out_of_all_and_add_them_on_request():
    base = {"problem": "penalty", "options": {"points": 101}, "dtypes": "float32"}
    everything = {c.strategy for c in expand({**base, "strategies": "all"})}
    assert everything == set(catalogue("penalty").strategies())
    cases = expand({**base, "strategies": ["taylor"], "spellings": True})
    by_backend = {b: {c.strategy for c in cases if c.backend == b} for b in BACKENDS}
    for backend, names in by_backend.items():
        expected = {"taylor"} | {n for n in catalogue("penalty").spellings_of("taylor")
                                 if catalogue("penalty")[n].spelled_by(backend)}  # fmt: skip
        assert names == expected and len(names) > 1, backend
    named = expand({**base, "strategies": ["rev-over-fwd:jacfwd"]})  # a PyTorch spelling, by name
    assert {(c.backend, c.strategy) for c in named} == {("torch", "rev-over-fwd:jacfwd")}
    with pytest.raises(BenchInputError, match="`spellings` must be true or false"):
        expand({**base, "spellings": "yes"})


def test_the_spellings_set_measures_every_spelling_beside_its_strategy_and_the_baseline():
    cases = load_sweep("spellings")
    groups = {}
    for c in cases:
        groups.setdefault(c.group, set()).add(c.strategy)
    covered = set()
    for (problem, options, backend, *_), names in groups.items():
        strategies = get_problem(problem, **dict(options)).strategies
        assert strategies.baseline in names, (problem, backend)
        for name in names:
            if strategies.is_spelling(name):
                assert strategies[name].spelling_of in names
                covered.add((strategies.kind, backend, name))
    for kind in ("penalty", "derivative-order", "laplacian", "biharmonic"):
        for spelling in _spellings(kind):
            for backend in BACKENDS:
                if spelling.spelled_by(backend):
                    assert (kind, backend, spelling.name) in covered, (kind, backend, spelling.name)


def test_a_spelling_inherits_its_strategys_library_condition():
    """A spelling uses its strategy's library: where the strategy's implementation cannot serve an
    instance (`when=`), neither can the spelling (unless it states its own condition)."""
    problem = get_problem("penalty", points=5)
    registry = get_backend("jax").registry
    entry = registry._entries[("penalty", "taylor")]
    try:
        registry.register("penalty", "taylor", when=lambda p: "no jet rule here")(entry.build)
        assert registry.reason(problem, "taylor:per-point") == "no jet rule here"
        assert registry.reason(problem, "rev-over-rev:batched") is None
    finally:
        registry._entries[("penalty", "taylor")] = entry
    assert registry.reason(problem, "taylor:per-point") is None


def test_a_spelling_builds_like_any_strategy():
    problem = get_problem("penalty", points=7)
    f = get_backend("jax").value_and_grad(problem, "taylor:per-point", dtype="float64")
    assert isinstance(f, Compiled)
    value, grads = f(problem.init_params(0))
    value_err, grad_err, _ = problem.compare(problem.init_params(0), value, grads)
    assert value_err < 1e-12 and grad_err < 1e-12
