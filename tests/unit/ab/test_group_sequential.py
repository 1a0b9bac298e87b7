"""Group-sequential bounds against published tables, a simulation, and their own edges."""

import math

import numpy as np
import pytest
from modelrail.ab.config import Spending
from modelrail.ab.group_sequential import (
    Design,
    bounds,
    crossing_chances,
    repeated_p_value,
)
from scipy.stats import norm

FIVE_LOOKS = [0.2, 0.4, 0.6, 0.8, 1.0]


@pytest.mark.parametrize(
    ("spending", "expected"),
    [
        # gsDesign(k = 5, test.type = 2, alpha = 0.025, sfu = sfLDOF / sfLDPocock): two-sided
        # 0.05, equally spaced looks (Lan-DeMets O'Brien-Fleming and Pocock-type spending)
        ("obrien-fleming", [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]),
        ("pocock", [2.4380, 2.4268, 2.4101, 2.3966, 2.3859]),
    ],
)
def test_bounds_match_the_published_table(spending: Spending, expected: list[float]) -> None:
    design = Design(alpha=0.025, spending=spending, two_sided=True)
    assert bounds(design, FIVE_LOOKS) == pytest.approx(expected, abs=1e-3)


def test_a_single_look_is_the_fixed_test() -> None:
    design = Design(alpha=0.025)
    (bound,) = bounds(design, [1.0])
    assert bound == pytest.approx(norm.isf(0.025), abs=1e-9)
    (power,) = crossing_chances(design, [1.0], [bound], drift=2.8)
    assert power == pytest.approx(norm.sf(bound - 2.8), abs=1e-9)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock", "power"])
def test_each_look_spends_its_share_on_uneven_looks(spending: Spending) -> None:
    fractions = [0.07, 0.3, 0.31, 0.55, 0.9, 1.0]
    design = Design(alpha=0.025, spending=spending, two_sided=True)
    chances = crossing_chances(design, fractions, bounds(design, fractions), drift=0.0)
    shares = np.diff([0.0, *[design.spent(f) for f in fractions]])
    assert chances == pytest.approx(shares, abs=1e-9)


def test_a_simulation_crosses_as_often_as_alpha() -> None:
    """Brownian paths observed at 20 uneven looks: the one-sided error is alpha."""
    rng = np.random.default_rng(7)
    fractions = [*np.sort(rng.uniform(0.02, 1.0, 19)).tolist(), 1.0]
    design = Design(alpha=0.025)
    limits = np.array(bounds(design, fractions))
    paths = 400_000
    steps = np.diff([0.0, *fractions])
    sums = np.cumsum(rng.standard_normal((paths, len(fractions))) * np.sqrt(steps), axis=1)
    z = sums / np.sqrt(fractions)
    crossed = (z >= limits).any(axis=1).mean()
    error = math.sqrt(0.025 * 0.975 / paths)
    assert abs(crossed - 0.025) < 4 * error


def test_looks_past_the_maximum_keep_the_final_bound() -> None:
    design = Design(alpha=0.025)
    limits = bounds(design, [0.5, 1.2, 1.4, 2.0])
    assert limits[2] == limits[1] == limits[3]
    spent = sum(crossing_chances(design, [0.5, 1.2], limits[:2], drift=0.0))
    assert spent == pytest.approx(0.025, abs=1e-9)


def test_the_repeated_p_value_is_where_z_meets_its_bound() -> None:
    design = Design(alpha=0.025)
    fractions = [0.25, 0.5, 0.75]
    p = repeated_p_value(design, fractions, 2.9)
    assert bounds(design.with_alpha(p), fractions)[-1] == pytest.approx(2.9, abs=1e-5)
    assert repeated_p_value(design, fractions, 3.2) < p < repeated_p_value(design, fractions, 2.6)
    assert repeated_p_value(design, fractions, -1.0) == 1.0


@pytest.mark.parametrize("fractions", [[0.5, 0.5], [0.6, 0.3], [0.0, 1.0], [math.nan]])
def test_fractions_must_increase(fractions: list[float]) -> None:
    with pytest.raises(ValueError, match="information fractions"):
        bounds(Design(alpha=0.025), fractions)
