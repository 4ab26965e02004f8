"""The code behind each verdict (`reports.source`): the functions shown are the ones the backend's
registry builds for that strategy, with the maths they call; a composite problem shows its inner
strategy; a framework that cannot be imported, or a tool measured elsewhere, gives a reason."""

import inspect
import textwrap

from backends import get_backend
from problems import get_problem
from reports.source import code_anchor, strategy_code


def _names(code):
    return [s.name for s in code.snippets]


def test_jax_penalty_code_is_the_registered_build_and_its_maths():
    code = strategy_code("penalty", {"points": 101}, "jax", "fwd-over-rev")
    assert code.error is None
    build = get_backend("jax").registry.builder(get_problem("penalty"), "fwd-over-rev")
    assert code.build.source == textwrap.dedent(inspect.getsource(build)).rstrip()
    assert code.build.source.startswith('@registry.register("penalty", "fwd-over-rev")')
    assert code.build.path == "backends/jax_backend/penalty.py"
    names = _names(code)
    assert {"forward_over_reverse", "input_grad_reverse", "apply_fn", "compile_evaluation"} <= set(names)
    maths = next(s for s in code.snippets if s.name == "forward_over_reverse")
    assert "jax.jvp" in maths.source and maths.role == "strategy"
    assert next(s for s in code.snippets if s.name == "apply_fn").role == "helper"
    assert names.index("forward_over_reverse") < names.index("apply_fn")  # the strategy's module first


def test_a_loop_built_strategy_says_what_its_build_is_bound_to():
    code = strategy_code("penalty", {"points": 101}, "jax", "rev-over-rev")
    assert any("operator = input_grad_reverse" in n and "outer = reverse_outer" in n for n in code.notes)
    assert "input_grad_reverse" in _names(code) and "input_grad_forward" not in _names(code)


def test_the_code_shown_comes_from_declared_parts_not_argument_names():
    """What a strategy is made of is read from its declaration (`StrategyDecl`): declaring another
    operator changes the code and the note; no default argument of a build is read."""
    import dataclasses

    import reports.source as source

    assert "__defaults__" not in inspect.getsource(source) and "__kwdefaults__" not in inspect.getsource(
        source
    )
    registry = get_backend("jax").registry
    decl = registry.declaration(get_problem("penalty", points=101), "rev-over-rev")
    assert decl.operator.__name__ == "input_grad_reverse" and decl.outer.__name__ == "reverse_outer"
    other = dataclasses.replace(
        decl, operator=registry.declaration(get_problem("penalty"), "rev-over-fwd").operator
    )
    names = [s.name for s in source.collect(other.build, other.parts().values())]
    assert "input_grad_forward" in names and "input_grad_reverse" not in names
    assert source.bound_values(other)["operator"] == "input_grad_forward"


def test_torch_and_composite_code():
    torch_code = strategy_code("penalty", {"points": 101}, "torch", "fwd-over-rev")
    assert torch_code.error is None and "make_dual(" in torch_code.build.source  # forward_ad dual numbers
    assert "Setup" in _names(torch_code)
    ude = strategy_code(
        "lv-ude",
        {"ode": "diffrax", "sensitivity": "discretise", "solver": "tsit5", "tol": 6},
        "jax",
        "rev-over-rev",
    )
    assert ude.error is None and ude.build.path == "backends/jax_backend/lv_ude.py"
    (inner,) = ude.inner
    assert inner.problem == "penalty" and "input_grad_reverse" in _names(inner)
    assert any("penalty strategy" in n for n in ude.notes)


def test_unavailable_code_gives_a_reason(monkeypatch):
    assert "outside this suite" in strategy_code("penalty", {"points": 101}, "julia [external]", "x").error
    assert "not available here" in strategy_code("penalty", {"points": 101}, "jax", "rev-over-rev-func").error

    def missing(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr("backends.get_backend", missing)
    code = strategy_code("penalty", {"points": 33}, "torch", "taylor")  # not cached: new options
    assert "cannot be imported here" in code.error and code.snippets == ()
    assert code_anchor("lv-ude", "torch", "rev-over-rev") == "code-torch-lv-ude-rev-over-rev"
