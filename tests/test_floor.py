"""The hand-derived floor (no AD) against the independent reference, for every activation."""

import numpy as np
import pytest

from backends.floor import activation_with_derivatives, penalty_value, penalty_value_and_grad
from problems import get_problem
from problems.network import ACTIVATIONS
from problems.reference import ACTIVATION_FUNCTIONS, COMPLEX_STEP, relative_error


@pytest.mark.parametrize(
    "problem",
    [get_problem("penalty")]
    + [get_problem("penalty", points=7, layers="3-6-4-2", activation=a) for a in ACTIVATIONS],
    ids=["seed-rbf"] + [f"{a}-3-6-4-2" for a in ACTIVATIONS],
)
def test_floor_matches_reference_to_1e_10(problem):
    params = problem.init_params(3)
    value, grads = penalty_value_and_grad(params, problem.grid(), problem.network, np)
    value_err, grad_err = relative_error(value, grads, *problem.reference(params))
    assert value_err < 1e-10 and grad_err < 1e-10
    assert value == penalty_value(params, problem.grid(), problem.network, np)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_hand_derivatives_match_complex_steps_of_the_reference_function(name):
    """σ' and σ'' of the floor against the complex step of the reference's σ and of the floor's σ'
    (independent formulas), including large |z| where naive formulas overflow. Absolute tolerance
    1e-15: 1 − tanh² cancels at large |z| (its relative accuracy there does not matter in a sum)."""
    z = np.array([-40.0, -6.0, -1.3, -0.2, 0.0, 0.4, 1.7, 5.0, 40.0])
    sigma, d1, d2 = activation_with_derivatives(name, z, np)
    reference = ACTIVATION_FUNCTIONS[name]
    np.testing.assert_allclose(sigma, np.real(reference(z + 0j)), rtol=1e-14, atol=1e-15)
    d1_reference = np.imag(reference(z + 1j * COMPLEX_STEP)) / COMPLEX_STEP
    np.testing.assert_allclose(d1, d1_reference, rtol=1e-13, atol=1e-15)
    d1_complex = activation_with_derivatives(name, z + 1j * COMPLEX_STEP, np)[1]
    np.testing.assert_allclose(d2, np.imag(d1_complex) / COMPLEX_STEP, rtol=1e-12, atol=1e-15)
