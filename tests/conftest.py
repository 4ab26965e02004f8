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


@pytest.fixture(scope="session")
def full_report_run(tmp_path_factory):
    """The synthetic run of every family and status (tests/synthetic.py) and its rendered report:
    (run directory, csv path, html path). Rendered once per test process (its figures take seconds);
    the tests only read it."""
    from reports.render import render
    from tests.synthetic import full_records, write_run

    run = write_run(tmp_path_factory.mktemp("full-report"), full_records())
    csv, html_path = render([run], run)
    return run, csv, html_path
