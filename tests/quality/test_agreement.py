
import krippendorff
import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from bench.alpha_coverage import cell_coverage
from quality.agreement import (
    LEVELS,
    alpha,
    alpha_interval,
    alpha_interval_of_counts,
    alpha_of_counts,
    alpha_resamples,
    brennan_prediger_of_counts,
    cohen_kappa_of_table,
    coincidence_alpha,
    confusion_against,
    fleiss_kappa_of_counts,
    gwet_ac_of_counts,
    kappa_disagreement,
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
K2011_PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}

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


def test_bootstrap_resamples_match_a_naive_column_bootstrap():
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 4, size=300)
    m = np.where(rng.random((4, 300)) < 0.7, truth, rng.integers(1, 4, size=(4, 300)))
    m = m.astype(float)
    counts = value_counts(m, [1, 2, 3])
    resampled = alpha_resamples(counts, "ordinal", [1, 2, 3], resamples=2000, seed=1)
    naive = [
        krippendorff.alpha(
            reliability_data=m[:, rng.integers(0, 300, size=300)],
            value_domain=[1, 2, 3],
            level_of_measurement="ordinal",
        )
        for _ in range(400)
    ]
    np.testing.assert_allclose(np.percentile(resampled, [2.5, 50, 97.5]),
                               np.percentile(naive, [2.5, 50, 97.5]), atol=0.02)
    lo, hi = alpha_interval(m, "ordinal", [1, 2, 3], resamples=2000, seed=1)
    assert lo < alpha(m, "ordinal", [1, 2, 3]) < hi
    assert alpha_interval(m, "ordinal", [1, 2, 3], resamples=2000, seed=1) == (lo, hi)


def test_interval_is_scipys_bca_once_units_are_many():
    # On 300 units the small-sample expansion widens the interval by well under 1%, so
    # what is left is BCa: bias from the share of resamples below alpha, acceleration
    # from a jackknife over units, as scipy.stats.bootstrap computes them.
    rng = np.random.default_rng(5)
    truth = rng.integers(1, 6, size=300)
    m = np.clip(truth + rng.integers(-1, 2, size=(3, 300)) * (rng.random((3, 300)) < 0.5),
                1, 5).astype(float)
    counts = value_counts(m, [1, 2, 3, 4, 5])
    reference = stats.bootstrap(
        (np.arange(300),),
        lambda units: alpha_of_counts(counts[units], "interval", [1, 2, 3, 4, 5]),
        vectorized=False, n_resamples=3000, method="BCa", rng=np.random.default_rng(0),
    ).confidence_interval
    lo, hi = alpha_interval_of_counts(counts, "interval", [1, 2, 3, 4, 5], resamples=3000)
    assert lo == pytest.approx(reference.low, abs=0.01)
    assert hi == pytest.approx(reference.high, abs=0.01)


def test_interval_covers_where_the_percentile_bootstrap_did_not():
    # One cell of bench/alpha_coverage.py: interval data, 3 coders, 20 units, population
    # alpha 0.66; 200 simulated data sets, both intervals on the same resamples.
    cell = cell_coverage("interval", 3, 20, "low", 0.0, replicates=200, seed=1)
    assert cell["coverage"] >= 0.93
    assert cell["coverage"] >= cell["baseline"] + 0.02


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
    assert round(fleiss_kappa_of_counts(FLEISS_TABLE).value, 3) == 0.210
    assert fleiss_kappa_of_counts(FLEISS_TABLE)[1:] == (10, 0)


# Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed.; irrCAC's cac.raw4raters:
# the units of K2011 with coder C's answer to unit 12 moved to coder B (same value counts).
# Unit 12 has a single answer: it counts toward the value shares but is not measured.
IRRCAC_RAW4RATERS = {
    # level: (Fleiss' kappa, Gwet's AC1/AC2, Brennan-Prediger), irrCAC's unweighted,
    # linear and quadratic weights over the values 1..5.
    "nominal": (0.761, 0.775, 0.773),
    "ordinal": (0.818, 0.859, 0.848),
    "interval": (0.865, 0.914, 0.902),
}


@pytest.mark.parametrize("level", IRRCAC_RAW4RATERS)
def test_chance_corrected_coefficients_published_values(level):
    counts = value_counts(K2011, K2011_DOMAIN)
    fleiss, gwet, bp = IRRCAC_RAW4RATERS[level]
    for coefficient, published in ((fleiss_kappa_of_counts, fleiss), (gwet_ac_of_counts, gwet),
                                   (brennan_prediger_of_counts, bp)):
        value, units, dropped = coefficient(counts, level, K2011_DOMAIN)
        assert round(value, 3) == published
        assert (units, dropped) == (11, 1)


def test_ac1_stays_high_where_kappa_falls_on_skewed_labels():
    # 100 units, 2 raters: 90 agree on the common label, 10 split between it and the rare
    # one. They agree on 90% of units, yet kappa is below zero; AC1 and Brennan-Prediger
    # are not fooled by the skew.
    counts = np.array([[2, 0]] * 90 + [[1, 1]] * 10)
    assert fleiss_kappa_of_counts(counts).value == pytest.approx(-0.0526, abs=1e-4)
    assert gwet_ac_of_counts(counts).value == pytest.approx((0.9 - 0.095) / 0.905)
    assert brennan_prediger_of_counts(counts).value == pytest.approx(0.8)


def test_fleiss_kappa_keeps_units_with_other_numbers_of_answers():
    columns = [np.repeat(np.arange(5), row) for row in FLEISS_TABLE]
    m = np.array(columns, dtype=float).T  # 14 raters x 10 subjects
    extra = np.full((14, 2), NAN)
    extra[:3, 0] = [0, 1, 2]  # a unit with only 3 ratings
    extra[0, 1] = 4  # and one with a single rating, which cannot be measured
    counts = value_counts(np.hstack([m, extra]), range(5))
    kappa, units, dropped = fleiss_kappa_of_counts(counts)
    assert (units, dropped) == (11, 1)
    assert kappa != pytest.approx(fleiss_kappa_of_counts(FLEISS_TABLE).value)
    assert fleiss_kappa_of_counts(np.zeros((3, 2))) == (None, 0, 3)
    assert gwet_ac_of_counts(counts, "none").value is None
    with pytest.raises(ValueError):
        gwet_ac_of_counts(counts, "interval")  # distances need the values
    with pytest.raises(ValueError):
        brennan_prediger_of_counts(counts, "ordinal", [1, 2])


def test_percent_agreement():
    m = np.array([[1, 1, 1, 2], [1, 2, NAN, 2], [1, 2, NAN, 2.0]])
    # units: 3/3 pairs agree, 1/3, (single rating, skipped), 3/3
    assert percent_agreement(m) == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert percent_agreement(np.array([[1.0], [NAN]])) is None


def test_one_count_table_over_the_whole_domain_gives_every_statistic():
    domain = [1, 2, 3, 4, 5, 6, 7]  # 6 and 7 never given: empty columns change nothing...
    counts = value_counts(K2011, domain)
    assert alpha_of_counts(counts, "ordinal", domain) == alpha(K2011, "ordinal", domain)
    assert alpha_interval_of_counts(counts, "interval", domain) == alpha_interval(
        K2011, "interval", domain)
    assert fleiss_kappa_of_counts(counts).value == pytest.approx(
        fleiss_kappa_of_counts(value_counts(K2011, K2011_DOMAIN)).value)
    assert percent_agreement_of_counts(counts) == pytest.approx(percent_agreement(K2011))
    # ...except to AC1 and Brennan-Prediger, whose chance agreement falls as the number of
    # possible values grows: hence counts over the question's whole domain.
    assert gwet_ac_of_counts(counts).value > gwet_ac_of_counts(
        value_counts(K2011, K2011_DOMAIN)).value


def test_cohen_kappa_published_two_by_two():
    # Wikipedia "Cohen's kappa" worked example: 50 proposals, yes/yes 20, yes/no 5,
    # no/yes 10, no/no 15; p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    m = np.array([a, b, [NAN] * 40 + [1] * 10], dtype=float)
    result = pairwise_cohen_kappa(m, ["ann", "bob", "cy"], min_shared=11)
    assert result == [{"a": "ann", "b": "bob", "shared": 50, "kappa": pytest.approx(0.4)}]


# Gwet (2014) via irrCAC: cont3x3abstractors (100 pregnancies, 2 abstractors) and
# cont4x4diagnosis (223 patients, clinical vs research diagnosis); kappa2.table with
# identity, linear, quadratic and ratio weights over the categories 1..q.
ABSTRACTORS = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]])
DIAGNOSIS = np.array([[40, 4, 4, 17], [6, 25, 2, 13], [4, 1, 21, 12], [15, 5, 9, 45]])


@pytest.mark.parametrize(("table", "level", "published"), [
    (ABSTRACTORS, "nominal", 0.796), (ABSTRACTORS, "ordinal", 0.843),
    (ABSTRACTORS, "interval", 0.892), (ABSTRACTORS, "ratio", 0.927),
    (DIAGNOSIS, "nominal", 0.432), (DIAGNOSIS, "ordinal", 0.407),
    (DIAGNOSIS, "interval", 0.383), (DIAGNOSIS, "ratio", 0.413),
])
def test_weighted_kappa_published_values(table, level, published):
    domain = np.arange(1, len(table) + 1)
    assert round(cohen_kappa_of_table(table, level, domain), 3) == published
    assert round(cohen_kappa_of_table(table.T, level, domain), 3) == published


def test_pairwise_kappa_is_the_table_kappa():
    rng = np.random.default_rng(7)
    domain = [0, 1, 5, 10]
    m = rng.choice(domain, size=(3, 60)).astype(float)
    m[rng.random((3, 60)) < 0.2] = NAN
    for level in LEVELS:
        for pair in pairwise_cohen_kappa(m, [0, 1, 2], level=level, value_domain=domain):
            a, b = pair["a"], pair["b"]
            both = ~np.isnan(m[a]) & ~np.isnan(m[b])
            table = np.zeros((4, 4))
            for x, y in zip(m[a, both], m[b, both], strict=True):
                table[domain.index(x), domain.index(y)] += 1
            assert pair["shared"] == both.sum()
            assert pair["kappa"] == pytest.approx(cohen_kappa_of_table(table, level, domain))


def test_weights_follow_the_scale_not_the_codes_or_the_values_used():
    # Both earlier conventions fed scikit-learn weights over label positions: right for
    # an evenly spaced scale used in full, where they agree with this one...
    rng = np.random.default_rng(2)
    x, y = rng.integers(1, 6, size=(2, 80))
    table = np.zeros((5, 5))
    np.add.at(table, (x - 1, y - 1), 1)
    for level, weights in (("nominal", None), ("ordinal", "linear"), ("interval", "quadratic")):
        assert cohen_kappa_of_table(table, level, [1, 2, 3, 4, 5]) == pytest.approx(
            cohen_kappa_score(x, y, labels=[1, 2, 3, 4, 5], weights=weights))
    # ...but steps between codes are not distances between values on an uneven scale,
    d = kappa_disagreement("interval", [0, 1, 5, 10])
    assert d[0, 1] == 1 and d[2, 3] == 25
    # and a pair that never used 3 must not see 2 and 4 as neighbours.
    x = np.array([1, 2, 4, 4, 2, 1, 1, 4, 2, 2, 5, 1], dtype=float)
    y = np.array([1, 4, 5, 2, 2, 1, 2, 5, 1, 2, 5, 1], dtype=float)
    idx_x, idx_y = (x - 1).astype(int), (y - 1).astype(int)
    observed = np.zeros((5, 5))
    np.add.at(observed, (idx_x, idx_y), 1)
    expected = np.outer(observed.sum(1), observed.sum(0)) / observed.sum()
    w = np.subtract.outer(np.arange(5), np.arange(5)) ** 2
    by_hand = 1 - (w * observed).sum() / (w * expected).sum()
    pair = pairwise_cohen_kappa(np.array([x, y]), ["x", "y"], level="interval",
                                value_domain=[1, 2, 3, 4, 5])
    assert pair[0]["kappa"] == pytest.approx(by_hand)
    squeezed = cohen_kappa_score(x, y, weights="quadratic")
    assert squeezed != pytest.approx(by_hand)
    assert pairwise_cohen_kappa(np.zeros((2, 20)), ["x", "y"])[0]["kappa"] is None
    assert cohen_kappa_of_table(np.zeros((2, 2)), "nominal", [0, 1]) is None


def test_confusion_against_consensus():
    m = np.array([[0, 1, 1, NAN], [0, 0, 1, 1.0]])
    consensus = np.array([0, 1, 1, NAN])
    c = confusion_against(m, consensus, [0, 1])
    np.testing.assert_array_equal(c[0], [[1, 0], [0, 2]])
    np.testing.assert_array_equal(c[1], [[1, 0], [1, 1]])
