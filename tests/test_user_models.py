"""Your own module (`model="torch:..."` / `"jax:..."`): loading, the one-line errors, the float64
consensus that checks its cases, and both examples through `make advise`'s code path."""

from __future__ import annotations

import numpy as np
import pytest

from bench.advise import main as advise
from bench.consensus import ConsensusFailed, ConsensusReference, consensus, directional_check
from bench.results import load_records
from problems import get_problem
from problems.core import freeze
from problems.errors import BenchInputError

TORCH_EXAMPLE = "torch:examples/fourier_pinn.py:make"
JAX_EXAMPLE = "jax:examples/equinox_mlp.py:make"
FACTORIES = "tests/user_model_factories.py"
FAST = ["--no-compile", "--max-time", "0.05", "--threads", "1", "--points", "6", "--no-report"]


@pytest.mark.parametrize(("model", "message"), [
    ("torch:tests/no_such_file.py:make", "no such file"),
    ("torch:no_such_module_for_tests:make", "cannot import 'no_such_module_for_tests': ModuleNotFoundError"),
    (f"torch:{FACTORIES}:missing", "has no factory 'missing'"),
    (f"torch:{FACTORIES}:not_a_module", "returned int, expected a torch.nn.Module"),
    (f"jax:{FACTORIES}:jax_not_a_pair", "returned function, expected a pair (apply, params)"),
    (f"torch:{FACTORIES}:torch_three_inputs", "cannot take a batch of 2 inputs"),
    (f"jax:{FACTORIES}:jax_matrix_output", "to (outputs,) for one point; it returned shape (2, 2)"),
    ("torch:examples/fourier_pinn.py", "a user model is torch:<module or file.py>:<factory>"),
])  # fmt: skip
def test_a_bad_factory_gets_one_error_line(model, message, tmp_path, capsys):
    assert advise(["--model", model, "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "never").exists()


def test_a_module_that_fails_to_import_names_the_error(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy\nraise ImportError('needs a package that is not installed')\n")
    assert advise(["--model", f"torch:{broken}:make", "--out", str(tmp_path / "never")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and "ImportError: needs a package that is not installed" in line


def test_the_problem_needs_a_scalar_output():
    """A PINN's u is scalar: a model with two outputs is refused naming both widths."""
    with pytest.raises(BenchInputError, match="maps 2 inputs to 2 outputs; this problem needs 1"):
        get_problem("poisson", dim=2, model=f"jax:{FACTORIES}:jax_two_outputs")


def test_specs_name_their_parameters_and_keep_their_framework():
    torch_problem = get_problem("penalty", points=4, model=TORCH_EXAMPLE)
    spec = torch_problem.network
    assert not spec.has_reference and spec.d_in == 2 and spec.d_out == 1
    assert spec.param_names[0] == "B" and "mlp.0.weight" in spec.param_names
    assert spec.param_shapes()["B"] == (16, 2)
    np.testing.assert_array_equal(spec.init_params(0)["B"], spec.init_params(0)["B"])
    assert not np.array_equal(spec.init_params(0)["B"], spec.init_params(1)["B"])  # seeded
    jax_spec = get_problem("penalty", points=4, model=JAX_EXAMPLE).network
    assert jax_spec.param_names == tuple(f"layers[{i}].{w}" for i in range(3) for w in ("weight", "bias"))

    from backends import get_backend

    reasons = get_backend("jax").unsupported(torch_problem)
    assert "it runs only in the torch backend" in reasons["rev-over-rev"]
    assert "finite-difference" in get_backend("torch").unsupported(torch_problem)["fd-central"]
    assert "rev-over-rev" in get_backend("torch").strategies(torch_problem)


@pytest.fixture(scope="module")
def jax_problem():
    return get_problem("penalty", points=5, model=JAX_EXAMPLE)


def test_consensus_checks_a_jax_model_and_names_itself(jax_problem):
    params = jax_problem.init_params(0)
    checker = ConsensusReference(jax_problem)
    c = checker.consensus(params)
    assert c.nested == "rev-over-rev" and c.other == "taylor" and c.agreement <= c.agreement_bound
    assert max(c.directional_errors) <= 1.0
    record = checker.record(params)
    assert (
        record["reference"] == "float64 consensus: rev-over-rev vs taylor + 3 directional central differences"
    )
    assert checker.compare(params, c.value, c.grads)[:2] == (0.0, 0.0)
    wrong = {k: v * (1.05 if k.endswith("bias") else 1.0) for k, v in c.grads.items()}
    assert (
        checker.compare(params, c.value, wrong)[1]
        > checker.tolerance_parts("taylor", "float32", params).total
    )


@pytest.mark.parametrize(("factory", "message"), [
    ("torch:torch_inconsistent_function", "rev-over-rev and rev-over-fwd differ by"),
    ("jax:jax_wrong_weight_gradient", "rev-over-rev and taylor differ by"),
])  # fmt: skip
def test_consensus_refuses_wrong_derivatives(factory, message):
    """An autograd.Function whose backward is off by 10 % (its jvp right) splits nested reverse
    from forward mode (jet-for-pytorch cannot trace it, so forward mode is the second strategy); a
    JAX custom_vjp that doubles a weight's cotangent splits nested reverse from Taylor mode."""
    framework, name = factory.split(":")
    problem = get_problem("penalty", points=5, model=f"{framework}:{FACTORIES}:{name}")
    with pytest.raises(ConsensusFailed, match=message):
        consensus(problem, freeze(problem.init_params(0)))


@pytest.mark.parametrize("model", [TORCH_EXAMPLE, JAX_EXAMPLE])
def test_advise_on_your_own_module_prints_a_decision(model, tmp_path, capfd):
    """`make advise MODEL=...`'s code path: its framework only, checked against the consensus."""
    out = tmp_path / "run"
    strategies = "rev-over-rev,taylor"
    assert (
        advise(["--model", model, "--strategies", strategies, "--dtype", "float32", "--out", str(out), *FAST])
        == 0
    )
    records = load_records(out / "results.jsonl")
    framework = model.split(":")[0]
    assert {r["backend"] for r in records} == {framework}
    assert {r["status"] for r in records} == {"ok"}, [r["error"] for r in records]
    assert {r["reference"] for r in records} == {
        "float64 consensus: rev-over-rev vs taylor + 3 directional central differences"
    }
    printed = capfd.readouterr().out  # bench.run and reports.decision are child processes
    assert "decision:" in printed and ": use " in printed[printed.index("decision:") :]


def test_directional_differences_catch_a_gradient_both_strategies_could_share(jax_problem):
    """Check 2 on its own: the loss's central differences along 3 weight directions hold the true
    gradient well inside their bound and refuse one whose biases are off by 0.1 %."""
    from backends import get_backend

    params = jax_problem.init_params(0)
    c = consensus(jax_problem, freeze(params))
    compiled = get_backend("jax").value_and_grad(jax_problem, "rev-over-rev", "float64", "cpu")

    def loss(p):
        return compiled.parts["loss"](compiled.prepare(p))

    assert max(directional_check(jax_problem, loss, params, c.grads, c.agreement_bound)) < 0.5
    wrong = {k: v * (1.001 if k.endswith("bias") else 1.0) for k, v in c.grads.items()}
    assert min(directional_check(jax_problem, loss, params, wrong, c.agreement_bound)) > 1.0
