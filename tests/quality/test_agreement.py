
import krippendorff
import numpy as np
import pytest

from quality.agreement import (
    LEVELS,
    alpha,
    alpha_interval,
    alpha_interval_of_counts,
    alpha_of_counts,
    coincidence_alpha,
    confusion_against,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    modal_fleiss_kappa,
    pairwise_cohen_kappa,
    percent_agreement,
    percent_agreement_of_counts,
    value_counts,
)

NAN = np.nan
# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", section C:
# 4 coders x 12 units, values 1..5, with missing data.
K2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
K2011_DOMAIN = [1, 2, 3, 4, 5]
K2011_PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}

# Classic Fleiss' kappa worked example: 10 subjects, 14 raters, 5 categories, kappa 0.210.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def _random_matrix(rng, coders, units, values, missing):
    m = rng.choice(values, size=(coders, units)).astype(float)
    m[rng.random((coders, units)) < missing] = NAN
    return m


@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_published_values(level):
    assert round(alpha(K2011, level, K2011_DOMAIN), 3) == K2011_PUBLISHED[level]
    assert round(coincidence_alpha(K2011, level, K2011_DOMAIN), 3) == K2011_PUBLISHED[level]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coincidence_alpha_equals_reference_package(level, seed):
    rng = np.random.default_rng(seed)
    domain = [0, 1, 5, 10]  # uneven spacing so interval differs from ordinal
    m = _random_matrix(rng, coders=5, units=400, values=domain, missing=0.3)
    reference = krippendorff.alpha(
        reliability_data=m, value_domain=domain, level_of_measurement=level
    )
    assert coincidence_alpha(m, level, domain) == pytest.approx(reference, abs=1e-9)
    assert alpha(m, level, domain) == pytest.approx(reference, abs=1e-9)
    assert coincidence_alpha(K2011, level, K2011_DOMAIN) == pytest.approx(
        krippendorff.alpha(reliability_data=K2011, level_of_measurement=level), abs=1e-9
    )


def test_alpha_is_none_when_undefined():
    assert alpha(np.array([[1.0, 1.0], [1.0, 1.0]]), "nominal", [1, 2]) is None
    assert alpha(np.array([[1.0, NAN], [NAN, 2.0]]), "nominal", [1, 2]) is None
    assert alpha_interval(np.array([[1.0, 1.0], [1.0, 1.0]]), "nominal", [1, 2]) is None
    with pytest.raises(ValueError):
        alpha(np.array([[1.0, 3.0], [1.0, 3.0]]), "nominal", [1, 2])
    with pytest.raises(ValueError):
        alpha(K2011, "ratio-ish", K2011_DOMAIN)
    # Free text has level "none": nothing to measure, not an error.
    assert alpha(np.zeros((2, 0)), "none", []) is None
    assert alpha_interval(np.zeros((2, 0)), "none", []) is None


def test_bootstrap_interval_matches_a_naive_column_bootstrap():
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 4, size=300)
    m = np.where(rng.random((4, 300)) < 0.7, truth, rng.integers(1, 4, size=(4, 300)))
    m = m.astype(float)
    lo, hi = alpha_interval(m, "ordinal", [1, 2, 3], resamples=2000, seed=1)
    naive = [
        krippendorff.alpha(
            reliability_data=m[:, rng.integers(0, 300, size=300)],
            value_domain=[1, 2, 3],
            level_of_measurement="ordinal",
        )
        for _ in range(400)
    ]
    n_lo, n_hi = np.percentile(naive, [2.5, 97.5])
    point = alpha(m, "ordinal", [1, 2, 3])
    assert lo < point < hi
    assert lo == pytest.approx(n_lo, abs=0.02)
    assert hi == pytest.approx(n_hi, abs=0.02)
    assert alpha_interval(m, "ordinal", [1, 2, 3], resamples=2000, seed=1) == (lo, hi)


def test_bootstrap_on_a_million_annotations_is_tight():
    rng = np.random.default_rng(0)
    n = 200_000
    truth = rng.integers(1, 6, size=n)
    m = np.where(rng.random((5, n)) < 0.7, truth, rng.integers(1, 6, size=(5, n))).astype(float)
    lo, hi = alpha_interval(m, "interval", [1, 2, 3, 4, 5])
    point = alpha(m, "interval", [1, 2, 3, 4, 5])
    assert lo < point < hi
    assert hi - lo < 0.01


def test_fleiss_kappa_published_example():
    assert round(fleiss_kappa_from_counts(FLEISS_TABLE), 3) == 0.210


def test_fleiss_kappa_from_matrix_uses_units_with_the_modal_rating_count():
    columns = [np.repeat(np.arange(5), row) for row in FLEISS_TABLE]
    m = np.array(columns, dtype=float).T  # 14 raters x 10 subjects
    assert fleiss_kappa(m) == pytest.approx(fleiss_kappa_from_counts(FLEISS_TABLE))
    extra = np.full((14, 1), NAN)
    extra[:3, 0] = [0, 1, 2]  # a unit with only 3 ratings is left out
    assert fleiss_kappa(np.hstack([m, extra])) == pytest.approx(fleiss_kappa(m))
    with pytest.raises(ValueError):
        fleiss_kappa_from_counts([[1, 1], [2, 1]])


def test_percent_agreement():
    m = np.array([[1, 1, 1, 2], [1, 2, NAN, 2], [1, 2, NAN, 2.0]])
    # units: 3/3 pairs agree, 1/3, (single rating, skipped), 3/3
    assert percent_agreement(m) == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert percent_agreement(np.array([[1.0], [NAN]])) is None


def test_one_count_table_over_the_whole_domain_gives_every_statistic():
    domain = [1, 2, 3, 4, 5, 6, 7]  # 6 and 7 never given: empty columns change nothing
    counts = value_counts(K2011, domain)
    assert alpha_of_counts(counts, "ordinal", domain) == alpha(K2011, "ordinal", domain)
    assert alpha_interval_of_counts(counts, "interval", domain) == alpha_interval(
        K2011, "interval", domain)
    assert modal_fleiss_kappa(counts) == pytest.approx(fleiss_kappa(K2011))
    assert percent_agreement_of_counts(counts) == pytest.approx(percent_agreement(K2011))


def test_cohen_kappa_published_two_by_two():
    # Wikipedia "Cohen's kappa" worked example: 50 proposals, yes/yes 20, yes/no 5,
    # no/yes 10, no/no 15; p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    m = np.array([a, b, [NAN] * 40 + [1] * 10], dtype=float)
    result = pairwise_cohen_kappa(m, ["ann", "bob", "cy"], min_shared=11)
    assert result == [{"a": "ann", "b": "bob", "shared": 50, "kappa": pytest.approx(0.4)}]


def test_cohen_kappa_undefined_and_weighted():
    m = np.zeros((2, 20))
    assert pairwise_cohen_kappa(m, ["x", "y"])[0]["kappa"] is None

    x = np.array([1, 2, 5, 5, 2, 1, 1, 5, 2, 2, 5, 1], dtype=float)
    y = np.array([1, 5, 5, 2, 2, 1, 2, 5, 1, 2, 5, 1], dtype=float)
    domain = [1, 2, 3, 4, 5]
    # Quadratic weights over the full 1..5 scale, computed by hand: 1 - sum(w O) / sum(w E).
    idx_x, idx_y = (x - 1).astype(int), (y - 1).astype(int)
    observed = np.zeros((5, 5))
    np.add.at(observed, (idx_x, idx_y), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    w = np.subtract.outer(np.arange(5), np.arange(5)) ** 2
    by_hand = 1 - (w * observed).sum() / (w * expected).sum()
    pair = np.array([x, y])
    got = pairwise_cohen_kappa(pair, ["x", "y"], weights="quadratic", value_domain=domain)
    assert got[0]["kappa"] == pytest.approx(by_hand)
    # Without the domain, 2 and 5 would be treated as neighbours.
    squeezed = pairwise_cohen_kappa(pair, ["x", "y"], weights="quadratic")
    assert squeezed[0]["kappa"] != pytest.approx(by_hand)


def test_confusion_against_consensus():
    m = np.array([[0, 1, 1, NAN], [0, 0, 1, 1.0]])
    consensus = np.array([0, 1, 1, NAN])
    c = confusion_against(m, consensus, [0, 1])
    np.testing.assert_array_equal(c[0], [[1, 0], [0, 2]])
    np.testing.assert_array_equal(c[1], [[1, 0], [1, 1]])
