"""Accuracy contracts (problems/tolerances.py): their parts, their derivations, and that they still
catch wrong gradients when the rounding part is measured."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backends import Compiled, get_backend, register_strategy, unregister_strategy
from bench.cases import Case
from bench.measure import measure
from bench.rounding import stencil_rounding
from problems import BenchInputError, get_problem
from problems.core import RoundingMeasurement, Tolerance
from problems.tolerances import (
    EXTRAPOLATION_SAFETY,
    LINEAR_REGIME,
    STENCIL_ROUNDING_SAFETY,
    accumulation_bound,
    path_operations,
    stencil_tolerance,
)


def test_parts_add_up_and_are_recorded():
    measurement = RoundingMeasurement(1.5e-4, 102.0)
    t = Tolerance(1e-6, truncation=2e-5, stencil_rounding=3e-4, statistical=4e-3, measurement=measurement)
    assert t.total == pytest.approx(1e-6 + 2e-5 + 3e-4 + 4e-3)
    assert t.record() == {
        "tolerance": t.total, "tolerance_rounding": 1e-6, "tolerance_truncation": 2e-5,
        "tolerance_stencil_rounding": 3e-4, "measured_rounding": 1.5e-4, "measured_amplification": 102.0,
        "tolerance_statistical": 4e-3,
    }  # fmt: skip
    assert Tolerance(1e-10).record() == {"tolerance": 1e-10, "tolerance_rounding": 1e-10}


def test_accumulation_bound_is_gamma_n():
    u = np.finfo(np.float32).eps / 2
    assert accumulation_bound(10_000, "float32") == pytest.approx(10_000 * u / (1 - 10_000 * u))
    assert accumulation_bound(1, "float64") == pytest.approx(np.finfo(np.float64).eps / 2)


def test_path_operations_follow_the_network():
    seed = get_problem("penalty").network  # fan-ins 2, 5, 5, 5
    assert path_operations(seed, 1) == (2 + 4) + 3 * (5 + 4)
    assert path_operations(seed, 3) == 3 * path_operations(seed, 1)


def test_exact_float64_tolerance_is_the_contract_and_float32_grows_with_points():
    small, large = get_problem("penalty"), get_problem("penalty", points=10_000)
    assert small.tolerance("rev-over-rev", "float64", small.init_params(0)) == 1e-10
    t101 = small.tolerance("rev-over-rev", "float32", small.init_params(0))
    t10k = large.tolerance("rev-over-rev", "float32", large.init_params(0))
    assert 1e-5 < t101 < 1e-4 < t10k < 1e-3  # γ_N takes over from the per-point path's rounding


def test_stencil_tolerance_uses_the_measurement_and_extrapolates_or_models_float64():
    problem = get_problem("penalty")
    params = problem.init_params(0)
    a32 = problem.stencil_amplification("float32")
    t32 = stencil_tolerance(1e-6, 1e-5, RoundingMeasurement(2e-4, a32), "fd-central", problem, "float32")
    assert t32.stencil_rounding == STENCIL_ROUNDING_SAFETY * 2e-4 and t32.measurement.relative == 2e-4
    amplification = problem.stencil_amplification("float64") / a32
    eps_ratio = np.finfo(np.float64).eps / np.finfo(np.float32).eps
    assert 100 < amplification < 2000  # h ∝ ε^(1/3): (ε₃₂/ε₆₄)^(1/3) ≈ 812
    # Beyond the first-order regime there is no extrapolation: the propagated model stands alone.
    model = stencil_tolerance(1e-10, 1e-10, RoundingMeasurement(2 * LINEAR_REGIME, a32, 1.0), "fd-central",
                              problem, "float64", params).stencil_rounding  # fmt: skip
    assert model > 0
    doubled = stencil_tolerance(1e-10, 1e-10, RoundingMeasurement(2 * LINEAR_REGIME, a32, 2.0), "fd-central",
                                problem, "float64", params).stencil_rounding  # fmt: skip
    assert doubled == pytest.approx(2 * model)  # the model scales with the measured evaluation ulps
    at_the_limit = RoundingMeasurement(LINEAR_REGIME, a32, 1.0)
    t64 = stencil_tolerance(1e-10, 1e-10, at_the_limit, "fd-central", problem, "float64", params)
    extrapolated = EXTRAPOLATION_SAFETY * LINEAR_REGIME * eps_ratio * amplification
    assert t64.stencil_rounding == pytest.approx(max(extrapolated, model))
    with pytest.raises(ValueError, match="needs its measured rounding"):
        stencil_tolerance(1e-6, 1e-5, None, "fd-central", problem, "float32")
    with pytest.raises(BenchInputError, match="would accept any gradient"):
        stencil_tolerance(1e-6, 0.6, None, "fd-central", problem, "float32")  # refused before measuring
    with pytest.raises(BenchInputError, match="would accept any gradient"):
        stencil_tolerance(1e-6, 1e-3, RoundingMeasurement(0.3, a32), "fd-central", problem, "float32")


def test_measured_rounding_is_the_float32_error_of_the_computation_itself():
    """The measurement compares float32 with float64 on identical float32 inputs: it is the rounding
    of that computation, so it scales with ε (float32: ≫ ε₆₄, ≪ 1) and it is what separates the
    strategy's float32 result from its float64 twin; a float64 case also gets one network
    evaluation's measured rounding (a few ulps of the output's magnitude, never exactly zero)."""
    problem = get_problem("penalty")
    params = problem.init_params(0)
    for backend in ("jax", "torch"):
        b = get_backend(backend)
        measured = stencil_rounding(b, problem, "fd-central", "float32", "cpu", b.compile_modes[0], params)
        assert np.finfo(np.float32).eps < measured.relative < LINEAR_REGIME, (backend, measured)
        assert measured.amplification == problem.stencil_amplification("float32")
        assert measured.evaluation_ulps is None  # measured for float64 cases only
        ulps = stencil_rounding(
            b, problem, "fd-central", "float64", "cpu", b.compile_modes[0], params
        ).evaluation_ulps
        assert 0.1 < ulps < 16, (backend, ulps)


def test_float64_rounding_of_a_stencil_float32_cannot_resolve_is_modelled_from_measured_evaluations():
    """A 4th-order stencil of a width-64 net keeps no float32 digit at its float32 step: a float64
    case gets no extrapolation from it, but the propagated model with the evaluations' measured
    rounding, which is a usable bound."""
    problem = get_problem("derivative-order", order=4, width=64, points=11)
    b, params = get_backend("torch"), problem.init_params(0)
    measurement = stencil_rounding(b, problem, "fd-stencil", "float64", "cpu", "eager", params)
    assert measurement.relative > LINEAR_REGIME
    assert 0 < measurement.evaluation_ulps < 16
    parts = problem.tolerance_parts("fd-stencil", "float64", params, measurement)
    assert 0 < parts.stencil_rounding < 0.5


@pytest.fixture
def one_percent_wrong_stencil():
    """jax fd-central with its gradient scaled by 1.01, declared a finite-difference strategy."""

    def build(problem, dtype, device, compile_mode):
        good = get_backend("jax").value_and_grad(problem, "fd-central", dtype, device, compile_mode)

        def to_numpy(out):
            value, grads = good.to_numpy(out)
            return value, {k: 1.01 * g for k, g in grads.items()}

        return Compiled(good.prepare, good.run, to_numpy)

    register_strategy(
        "jax", "penalty", "test-fd-wrong", build, "fd-central, 1 % off", error="finite-difference"
    )
    yield "test-fd-wrong"
    unregister_strategy("jax", "penalty", "test-fd-wrong")


@pytest.mark.parametrize("points, dtype", [(101, "float64"), (101, "float32"), (3_000, "float32")])
def test_a_one_percent_error_of_a_finite_difference_gradient_is_caught(
    one_percent_wrong_stencil, points, dtype
):
    case = Case("penalty", (("points", points),), "jax", one_percent_wrong_stencil, "jit", dtype, "cpu")
    record = measure(case)
    assert record["status"] == "wrong", record
    assert record["tolerance"] < 1e-2 <= record["grad_rel_err"] * 1.5
    right = measure(Case("penalty", (("points", points),), "jax", "fd-central", "jit", dtype, "cpu"))
    assert right["status"] == "ok"
    assert right["tolerance_truncation"] > 0 and right["tolerance_stencil_rounding"] > 0
    assert math.isclose(right["tolerance"], right["tolerance_rounding"] + right["tolerance_truncation"]
                        + right["tolerance_stencil_rounding"], rel_tol=1e-12)  # fmt: skip
