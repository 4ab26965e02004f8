"""Shared fixtures: the seed problem, its parameters and float64 references (computed once)."""

from __future__ import annotations

import pytest

from problems import get_problem


@pytest.fixture(scope="session")
def seed_problem():
    return get_problem("penalty")


@pytest.fixture(scope="session")
def seed_params(seed_problem):
    return seed_problem.init_params(0)


@pytest.fixture(scope="session")
def seed_reference(seed_problem, seed_params):
    return seed_problem.reference(seed_params)
