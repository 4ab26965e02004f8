"""The hand-derived floor (no AD) against the independent reference, for both activations."""

import numpy as np
import pytest

from backends.floor import penalty_value, penalty_value_and_grad
from problems import get_problem
from problems.network import MLPSpec
from problems.penalty import PenaltyProblem
from problems.reference import relative_error


@pytest.mark.parametrize(
    "problem",
    [
        get_problem("penalty"),
        PenaltyProblem(points=7, network=MLPSpec(sizes=(2, 6, 4, 3), activation="tanh")),
    ],
    ids=["seed-rbf", "tanh-3-layer"],
)
def test_floor_matches_reference_to_1e_10(problem):
    params = problem.init_params(3)
    value, grads = penalty_value_and_grad(params, problem.grid(), problem.network, np)
    value_err, grad_err = relative_error(value, grads, *problem.reference(params))
    assert value_err < 1e-10 and grad_err < 1e-10
    assert value == penalty_value(params, problem.grid(), problem.network, np)
