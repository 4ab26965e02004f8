"""The growth fits recover known growth from synthetic data, and say so only with enough points."""

import math

import numpy as np
import pandas as pd
import pytest

from reports.growth import exponential_fit, growth_summary, growth_table, polynomial_fit, step_ratios

ORDERS = np.arange(1, 9)


def test_exponential_data_gives_its_factor_and_prefers_the_exponential_fit():
    y = 3e-4 * 2.5**ORDERS
    fit = exponential_fit(ORDERS, y)
    assert math.exp(fit.slope) == pytest.approx(2.5, rel=1e-12)
    assert math.exp(fit.intercept) == pytest.approx(3e-4, rel=1e-12)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12)
    summary = growth_summary(ORDERS, y)
    assert summary["better_fit"] == "exponential" and summary["r2_polynomial"] < 0.99


def test_polynomial_data_gives_its_degree_and_prefers_the_polynomial_fit():
    dims = np.array([2, 8, 32, 128])
    y = 1e-3 * dims**1.7
    fit = polynomial_fit(dims, y)
    assert fit.slope == pytest.approx(1.7, rel=1e-12) and fit.r2 == pytest.approx(1.0, abs=1e-12)
    assert growth_summary(dims, y)["better_fit"] == "polynomial"
    assert growth_summary(ORDERS, ORDERS**3.0)["better_fit"] == "polynomial"


def test_fits_survive_timing_noise():
    rng = np.random.default_rng(0)
    noisy = 1e-4 * 2.0**ORDERS * rng.uniform(0.8, 1.25, ORDERS.size)
    summary = growth_summary(ORDERS, noisy)
    assert summary["factor_per_step"] == pytest.approx(2.0, rel=0.1)
    assert summary["better_fit"] == "exponential"


def test_step_ratios_and_missing_values():
    ratios = step_ratios([1, 2, 3, 4], [1.0, 3.0, float("nan"), 12.0])
    assert ratios == {2.0: 3.0, 4.0: 4.0}  # the missing order is skipped, not divided by
    assert growth_summary([1, 2], [1.0, 2.0])["better_fit"] == "—"  # two points fit anything
    assert growth_summary([], [])["fit_points"] == 0
    assert growth_summary([1, 2, 3, 4], [5.0, 5.1, 4.9, 5.0])["better_fit"] == "flat"


def test_growth_table_fits_each_group():
    df = pd.DataFrame(
        {"series": ["a"] * 4 + ["b"] * 4, "k": list(range(1, 5)) * 2,
         "t": [2.0**k for k in range(1, 5)] + [float(k) ** 2 for k in range(1, 5)]}
    )  # fmt: skip
    table = growth_table(df, "k", "t", ["series"]).set_index("series")
    assert table.loc["a", "factor_per_step"] == pytest.approx(2.0)
    assert table.loc["b", "degree"] == pytest.approx(2.0)
    assert table.loc["a", "range"] == "1–4"
