import math

import pytest

from quality.trust import Trust, from_scores, posterior, update


def test_beta_2_2_prior_quantile_matches_closed_form():
    # Beta(2, 2) has CDF 3x^2 - 2x^3; solve for 0.05 by bisection independently of scipy.
    lo, hi = 0.0, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 3 * mid**2 - 2 * mid**3 < 0.05 else (lo, mid)
    t = posterior(0, 0)
    assert t.mean == 0.5
    assert t.lower == pytest.approx(lo, abs=1e-9)
    assert round(t.lower, 4) == 0.1354


def test_beta_a_1_quantile_is_power_law():
    # Beta(a, 1) has CDF x^a, so its 5% quantile is 0.05 ** (1 / a).
    t = posterior(8, 0, prior_alpha=2, prior_beta=1)
    assert t.lower == pytest.approx(0.05 ** (1 / 10))


def test_two_lucky_answers_are_not_certainty():
    t = posterior(2, 0)
    assert t.mean == pytest.approx(4 / 6)
    assert t.lower < 0.35
    veteran = posterior(95, 5)
    assert veteran.lower > t.lower
    assert veteran.n == 100


def test_fractional_scores_count_fractionally():
    t = from_scores([1.0, 0.5, None, 0.25])
    assert t.alpha == pytest.approx(2 + 1.75)
    assert t.beta == pytest.approx(2 + 1.25)
    assert t.n == pytest.approx(3)


def test_update_matches_batch():
    t = posterior(0, 0)
    for s in [1.0, 0.0, 0.7]:
        t = update(t, s)
    batch = from_scores([1.0, 0.0, 0.7])
    assert t.alpha == pytest.approx(batch.alpha)
    assert t.beta == pytest.approx(batch.beta)
    assert t.lower == pytest.approx(batch.lower)
    assert isinstance(t, Trust)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError):
        posterior(-1, 0)
    with pytest.raises(ValueError):
        update(posterior(0, 0), 1.5)
    with pytest.raises(ValueError):
        from_scores([2.0])


def test_mean_is_posterior_mean():
    t = posterior(7.5, 2.5)
    assert math.isclose(t.mean, 9.5 / 14)
