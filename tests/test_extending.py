"""The extension points of CONTRIBUTING.md, used as a newcomer would: a new problem with its
catalogue, implemented in both backends through the public registration call, then listed, built,
checked against its reference by the harness, and removed again."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import pytest
import torch

from backends import get_backend, register_strategy, unregister_strategy
from backends.jax_backend.core import compile_evaluation, point_network
from backends.torch_backend.core import Setup, batch_network, reverse_outer
from bench.cases import Case
from bench.measure import measure
from problems import CATALOGUES, PROBLEMS, Catalogue, Problem, Strategy, get_problem, register_problem
from problems.core import Tolerance, check_int_option
from problems.network import MLPSpec
from problems.reference import ComplexStepReference, taylor_coefficients
from problems.tolerances import rounding_bound


@dataclass(frozen=True)
class SquaredOutput(ComplexStepReference, Problem):
    """L(θ) = Σₓ U₁(x)²: no input derivative at all, the smallest problem the contract allows."""

    points: int = 11
    name = "test-squared-output"
    kind = "test-squared-output"

    def __post_init__(self):
        check_int_option("points", self.points, "an integer ≥ 1")

    @property
    def network(self) -> MLPSpec:
        return MLPSpec((2, 4, 1), "tanh")

    def grid(self):
        import numpy as np

        return np.stack([np.linspace(-1, 1, self.points), np.ones(self.points)], axis=1)

    def loss(self, params):
        x = self.grid()
        return (taylor_coefficients(params, self.network, x, x * 0, 0)[0][..., 0] ** 2).sum(axis=-1)

    def tolerance_parts(self, strategy, dtype, params, measured_rounding=None):
        return Tolerance(1e-12 if dtype == "float64" else rounding_bound(20 + self.points, dtype))


def _jax_build(problem, dtype, device, compile_mode):
    u = point_network(problem.network)

    def loss(params, X):
        return (jax.vmap(u, in_axes=(None, 0))(params, X) ** 2).sum()

    return compile_evaluation(problem, dtype, device, compile_mode, jax.value_and_grad(loss), loss=loss)


def _torch_build(problem, dtype, device, compile_mode):
    s = Setup(problem, dtype, device, compile_mode)
    u = batch_network(s.spec)
    loss = lambda params: (u(params, s.X) ** 2).sum()

    def loss_only(params):
        with torch.no_grad():
            return loss(params)

    return s.compiled(reverse_outer(loss), loss=loss_only)


@pytest.fixture
def extended(monkeypatch):
    monkeypatch.setitem(PROBLEMS, SquaredOutput.name, SquaredOutput)
    monkeypatch.setitem(CATALOGUES, SquaredOutput.kind, Catalogue(SquaredOutput.kind, [
        Strategy("reverse", "the plain reverse-mode gradient of Σ U₁²"),
    ]))  # fmt: skip
    register_strategy("jax", SquaredOutput.kind, "reverse", _jax_build)
    register_strategy("torch", SquaredOutput.kind, "reverse", _torch_build)
    yield
    for backend in ("jax", "torch"):
        unregister_strategy(backend, SquaredOutput.kind, "reverse", catalogue_entry=False)


def test_a_new_problem_and_strategy_run_through_the_harness(extended):
    assert register_problem(SquaredOutput) is SquaredOutput  # the decorator returns the class
    problem = get_problem("test-squared-output", points=7)
    for backend in ("jax", "torch"):
        assert get_backend(backend).strategies(problem) == ["reverse"]
        for dtype in ("float64", "float32"):
            case = Case(problem.name, (("points", 7),), backend, "reverse",
                        get_backend(backend).compile_modes[0], dtype, "cpu")  # fmt: skip
            record = measure(case)
            assert record["status"] == "ok", record
            assert record["grad_rel_err"] <= record["tolerance"]


def test_a_plugin_strategy_can_be_declared_for_some_instances_only(extended):
    odd_only = lambda p: None if p.points % 2 else "defined for an odd number of points"
    register_strategy("jax", SquaredOutput.kind, "only-odd", _jax_build, when=odd_only)
    try:
        jax_backend = get_backend("jax")
        assert "only-odd" in jax_backend.strategies(get_problem("test-squared-output", points=7))
        reasons = jax_backend.unsupported(get_problem("test-squared-output", points=8))
        assert reasons["only-odd"] == "defined for an odd number of points"
        assert (
            "has no implementation"
            in get_backend("torch").unsupported(get_problem("test-squared-output", points=7))["only-odd"]
        )
    finally:
        unregister_strategy("jax", SquaredOutput.kind, "only-odd")
    assert "only-odd" not in CATALOGUES[SquaredOutput.kind]
