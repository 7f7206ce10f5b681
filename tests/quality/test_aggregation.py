
import choix
import numpy as np
import pytest

from quality.aggregation import (
    dawid_skene,
    leave_one_out_agreement,
    majority,
    multi_label_consensus,
    rank_consensus,
    rating_consensus,
    span_consensus,
)
from quality.units import build_units

NAN = np.nan

# Dawid & Skene (1979), Table 1: 45 patients, 5 anaesthetists, classes 1-4; observer 1
# rated every patient three times.
DS1979 = {
    1: [[1, 1, 1], 1, 1, 1, 1], 2: [[3, 3, 3], 4, 3, 3, 4], 3: [[1, 1, 2], 2, 1, 2, 2],
    4: [[2, 2, 2], 3, 1, 2, 1], 5: [[2, 2, 2], 3, 2, 2, 2], 6: [[2, 2, 2], 3, 3, 2, 2],
    7: [[1, 2, 2], 2, 1, 1, 1], 8: [[3, 3, 3], 3, 4, 3, 3], 9: [[2, 2, 2], 2, 2, 2, 3],
    10: [[2, 3, 2], 2, 2, 2, 3], 11: [[4, 4, 4], 4, 4, 4, 4], 12: [[2, 2, 2], 3, 3, 4, 3],
    13: [[1, 1, 1], 1, 1, 1, 1], 14: [[2, 2, 2], 3, 2, 1, 2], 15: [[1, 2, 1], 1, 1, 1, 1],
    16: [[1, 1, 1], 2, 1, 1, 1], 17: [[1, 1, 1], 1, 1, 1, 1], 18: [[1, 1, 1], 1, 1, 1, 1],
    19: [[2, 2, 2], 2, 2, 2, 1], 20: [[2, 2, 2], 1, 3, 2, 2], 21: [[2, 2, 2], 2, 2, 2, 2],
    22: [[2, 2, 2], 2, 2, 2, 1], 23: [[2, 2, 2], 3, 2, 2, 2], 24: [[2, 2, 1], 2, 2, 2, 2],
    25: [[1, 1, 1], 1, 1, 1, 1], 26: [[1, 1, 1], 1, 1, 1, 1], 27: [[2, 3, 2], 2, 2, 2, 2],
    28: [[1, 1, 1], 1, 1, 1, 1], 29: [[1, 1, 1], 1, 1, 1, 1], 30: [[1, 1, 2], 1, 1, 2, 1],
    31: [[1, 1, 1], 1, 1, 1, 1], 32: [[3, 3, 3], 3, 2, 3, 3], 33: [[1, 1, 1], 1, 1, 1, 1],
    34: [[2, 2, 2], 2, 2, 2, 2], 35: [[2, 2, 2], 3, 2, 3, 2], 36: [[4, 3, 3], 4, 3, 4, 3],
    37: [[2, 2, 1], 2, 2, 3, 2], 38: [[2, 3, 2], 3, 2, 3, 3], 39: [[3, 3, 3], 3, 4, 3, 2],
    40: [[1, 1, 1], 1, 1, 1, 1], 41: [[1, 1, 1], 1, 1, 1, 1], 42: [[1, 2, 1], 2, 1, 1, 1],
    43: [[2, 3, 2], 2, 2, 2, 2], 44: [[1, 2, 1], 1, 1, 1, 1], 45: [[2, 2, 2], 2, 2, 2, 2],
}


def _ds1979_triples():
    items, annotators, labels = [], [], []
    for patient, (first, *others) in DS1979.items():
        for observer, given in enumerate([*first, *others]):
            items.append(patient - 1)
            annotators.append(max(observer - 2, 0))
            labels.append(given - 1)
    return np.array(items), np.array(annotators), np.array(labels)


def _reference_em(items, annotators, labels, k, iterations, smoothing):
    """Equations (2.3)-(2.5) of Dawid & Skene written as plain loops."""
    n_items, n_ann = items.max() + 1, annotators.max() + 1
    counts = np.zeros((n_items, n_ann, k))
    for i, a, g in zip(items, annotators, labels, strict=True):
        counts[i, a, g] += 1
    t = counts.sum(axis=1) / counts.sum(axis=(1, 2))[:, None]
    for _ in range(iterations):
        pi = np.zeros((n_ann, k, k))
        for a in range(n_ann):
            for j in range(k):
                for g in range(k):
                    pi[a, j, g] = (t[:, j] * counts[:, a, g]).sum() + smoothing
                pi[a, j] /= pi[a, j].sum()
        p = (t.sum(axis=0) + smoothing) / (t.sum() + k * smoothing)
        new = np.zeros_like(t)
        for i in range(n_items):
            for j in range(k):
                new[i, j] = p[j] * np.prod(pi[:, j, :] ** counts[i])
            new[i] /= new[i].sum()
        t = new
    return t, pi, p


def test_majority_ties_and_confidence():
    m = np.array([[0, 1, NAN, 2], [1, 1, NAN, 2], [NAN, 0, NAN, 1.0]])
    vote = majority(m, [0, 1, 2])
    np.testing.assert_array_equal(vote.values, [0, 1, NAN, 2])  # 0 vs 1 tie -> first value
    np.testing.assert_allclose(vote.confidence, [0.5, 2 / 3, 0, 2 / 3])
    weighted = majority(m, [0, 1, 2], weights=[0.2, 0.9, 0.5])
    assert weighted.values[0] == 1
    assert weighted.confidence[0] == pytest.approx(0.9 / 1.1)


def _crowd(rng, n, k, kind):
    truth = rng.integers(0, k, size=n)
    labels = []
    for annotator in range(5):
        noise = rng.integers(0, k, size=n)
        if annotator < 2:  # good: right 90% of the time, otherwise guessing
            given = np.where(rng.random(n) < 0.9, truth, noise)
        elif kind == "biased":  # mostly say class 0 whatever the item is
            given = np.where(rng.random(n) < 0.8, 0, noise)
        else:  # adversarial: mostly shift every class by one
            given = np.where(rng.random(n) < 0.8, (truth + 1) % k, noise)
        labels.append(given)
    items = np.tile(np.arange(n), 5)
    annotators = np.repeat(np.arange(5), n)
    return truth, items, annotators, np.concatenate(labels)


def test_dawid_skene_beats_majority_when_the_majority_is_biased():
    rng = np.random.default_rng(0)
    truth, items, annotators, labels = _crowd(rng, 3000, 3, "biased")
    m = np.full((5, 3000), NAN)
    m[annotators, items] = labels
    assert (majority(m, [0, 1, 2]).values == truth).mean() < 0.5
    ds = dawid_skene(items, annotators, labels, 3)
    assert (ds.labels == truth).mean() > 0.9
    # The biased annotators are found uninformative: every true class gets mostly "0".
    assert np.all(ds.confusion[2:, :, 0] > 0.7)
    assert np.all(np.diagonal(ds.confusion[:2], axis1=1, axis2=2) > 0.85)


def test_trust_weighted_start_recovers_from_a_coordinated_wrong_majority():
    # Three annotators who consistently relabel look, to the data alone, exactly like
    # the truth; only outside evidence (gold-based trust) can tell the two stories apart.
    rng = np.random.default_rng(1)
    truth, items, annotators, labels = _crowd(rng, 3000, 3, "adversarial")
    plain = dawid_skene(items, annotators, labels, 3)
    assert (plain.labels == truth).mean() < 0.1
    trusted = dawid_skene(items, annotators, labels, 3, weights_init=[5, 5, 1, 1, 1])
    assert (trusted.labels == truth).mean() > 0.95
    assert trusted.converged


@pytest.mark.parametrize("iterations", [1, 3, 30])
def test_dawid_skene_matches_the_paper_equations_on_the_paper_data(iterations):
    items, annotators, labels = _ds1979_triples()
    assert len(items) == 315
    ds = dawid_skene(items, annotators, labels, 4, max_iter=iterations, tol=0.0)
    t, pi, p = _reference_em(items, annotators, labels, 4, iterations, smoothing=0.01)
    assert ds.iterations == iterations
    np.testing.assert_allclose(ds.posterior, t, atol=1e-8)
    np.testing.assert_allclose(ds.confusion, pi, atol=1e-8)
    np.testing.assert_allclose(ds.priors, p, atol=1e-8)


def test_dawid_skene_on_the_paper_data_is_sane():
    items, annotators, labels = _ds1979_triples()
    ds = dawid_skene(items, annotators, labels, 4)
    assert ds.converged
    np.testing.assert_allclose(ds.posterior.sum(axis=1), 1)
    np.testing.assert_allclose(ds.confusion.sum(axis=2), 1)
    assert ds.priors.sum() == pytest.approx(1)
    unanimous = [p - 1 for p, (first, *o) in DS1979.items() if len({*first, *o}) == 1]
    for patient in unanimous:
        expected = DS1979[patient + 1][1] - 1
        assert ds.labels[patient] == expected
        assert ds.confidence[patient] > 0.99


def test_rating_consensus():
    m = np.array([[1, 2, 5, NAN], [1, 3, 5, NAN], [2, 3, 1, NAN]])
    r = rating_consensus(m, 1, 5)
    np.testing.assert_allclose(r.median, [1, 3, 5, NAN])
    np.testing.assert_allclose(r.mean, [4 / 3, 8 / 3, 11 / 3, NAN])
    assert r.confidence[0] == pytest.approx(1 - np.std([1, 1, 2]) / 2)
    assert np.isnan(r.confidence[3])
    split = rating_consensus(np.array([[1.0], [5.0]]), 1, 5)
    assert split.confidence[0] == 0.0


def test_rank_consensus_from_rankings():
    answers = [(1, "x", [2, 0, 1]), (1, "y", [2, 1, 0]), (1, "z", [0, 2, 1]),
               (2, "x", [1, 0]), (3, "x", [0])]
    units = build_units(answers, {"name": "rk", "kind": "ranking"}, {1: 3, 2: 2, 3: 1})
    r = rank_consensus(units)
    assert r.order[0].tolist() == [2, 0, 1]
    assert r.order[1].tolist() == [1, 0, -1]
    assert r.order[2].tolist() == [0, -1, -1]
    # Borda = pairwise wins: completion 2 beats 0 twice and 1 three times.
    np.testing.assert_array_equal(r.borda[0], [3, 1, 5])
    # One vote between two completions: Laplace's rule, 2/3, not certainty.
    assert r.confidence[1] == pytest.approx(2 / 3)
    assert r.confidence[2] == 1.0
    direct = choix.ilsr_pairwise(3, [(2, 0), (2, 1), (0, 1), (2, 1), (2, 0), (1, 0),
                                     (0, 2), (0, 1), (2, 1)], alpha=0.5)
    np.testing.assert_allclose(r.scores[0], direct, atol=1e-6)


def test_rank_consensus_matches_choix_item_by_item():
    rng = np.random.default_rng(5)
    answers = [(item, ann, rng.permutation(4).tolist()) for item in range(60) for ann in range(4)]
    units = build_units(answers, {"name": "rk", "kind": "ranking"}, dict.fromkeys(range(60), 4))
    r = rank_consensus(units)
    for item in range(60):
        pairs = [(a[i], a[j]) for it, _, a in answers if it == item
                 for i in range(4) for j in range(i + 1, 4)]
        direct = choix.ilsr_pairwise(4, pairs, alpha=0.5)
        np.testing.assert_allclose(r.scores[item], direct, atol=1e-6)


def test_pairwise_ties_count_half_and_confidence_is_laplace():
    answers = [(1, "x", "A"), (1, "y", "A"), (1, "z", "tie"), (2, "x", "B")]
    for a in range(5):
        answers.append((3, f"u{a}", {"choice": "A", "strength": 2}))
    units = build_units(answers, {"name": "p", "kind": "pairwise", "strength": True})
    r = rank_consensus(units)
    np.testing.assert_array_equal(r.borda[:, 0], [2.5, 0, 5])
    assert r.order[:, 0].tolist() == [0, 1, 0]
    assert r.confidence[1] == pytest.approx(2 / 3)
    assert r.confidence[2] == pytest.approx(6 / 7)
    assert r.confidence[0] == pytest.approx(3.5 / 5)


def test_multi_label_consensus_per_option():
    units = build_units(
        [(1, "x", ["a"]), (1, "y", ["a", "b"]), (1, "z", []), (2, "x", ["b"]), (2, "y", [])],
        {"name": "m", "kind": "multi_label", "options": ["a", "b"]},
    )
    c = multi_label_consensus(units, ["a", "b"])
    assert c.answers == {1: ["a"], 2: []}  # a 1-1 split does not select "b" on item 2
    assert c.confidence[1] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_span_consensus_merges_winning_tokens_back_into_spans():
    texts = {1: "hello big  world", 2: " a b "}
    q = {"name": "s", "kind": "spans", "field": "text", "options": ["ERR", "OK"]}
    err = "ERR"
    units = build_units(
        [
            (1, "x", [{"start": 0, "end": 9, "label": err}]),
            (1, "y", [{"start": 0, "end": 5, "label": err}, {"start": 6, "end": 9, "label": err}]),
            (1, "z", [{"start": 11, "end": 16, "label": "OK"}]),
            (2, "x", [{"start": 3, "end": 4, "label": "OK"}]),
        ],
        q,
        texts,
    )
    c = span_consensus(units, texts)
    assert c.answers[1] == [{"start": 0, "end": 9, "label": "ERR"}]
    assert c.answers[2] == [{"start": 3, "end": 4, "label": "OK"}]
    assert c.confidence[1] == pytest.approx(2 / 3)


def test_leave_one_out_agreement():
    m = np.array([[1, 2, 5, NAN], [1, 3, 5, 4], [2, 3, 1, NAN]])
    score, n = leave_one_out_agreement(m, [1, 2, 3, 4, 5])
    # Row 0: others tie 1/2 on unit 0 (credit 1/2), disagree on 1, tie 5/1 on 2.
    np.testing.assert_allclose(score, [1 / 3, 1 / 2, 1 / 6])
    np.testing.assert_array_equal(n, [3, 3, 3])
    score, _ = leave_one_out_agreement(m, [1, 2, 3, 4, 5], value_range=4)
    # Row 0 against the others' medians 1.5, 3 and 3.
    assert score[0] == pytest.approx(np.mean([1 - 0.5 / 4, 1 - 1 / 4, 1 - 2 / 4]))
    lonely, n = leave_one_out_agreement(np.array([[1.0], [NAN]]), [1, 2])
    assert np.isnan(lonely[0]) and n[0] == 0


def test_leave_one_out_median_matches_a_naive_loop():
    rng = np.random.default_rng(2)
    m = rng.integers(1, 6, size=(6, 80)).astype(float)
    m[rng.random(m.shape) < 0.3] = NAN
    score, n = leave_one_out_agreement(m, [1, 2, 3, 4, 5], value_range=4)
    for a in range(6):
        diffs = []
        for u in range(80):
            others = np.delete(m[:, u], a)
            others = others[~np.isnan(others)]
            if not np.isnan(m[a, u]) and len(others):
                diffs.append(1 - abs(m[a, u] - np.median(others)) / 4)
        assert n[a] == len(diffs)
        assert score[a] == pytest.approx(np.mean(diffs))


def test_a_million_pairwise_annotations_aggregate_to_the_truth():
    rng = np.random.default_rng(0)
    n = 200_000
    truth = rng.choice(["A", "B"], size=n)
    noisy = rng.random(5 * n) < 0.2
    given = np.where(noisy, rng.choice(["A", "B", "tie"], size=5 * n), np.tile(truth, 5))
    rows = list(zip(np.tile(np.arange(n), 5).tolist(), np.repeat(np.arange(5), n).tolist(),
                    given.tolist(), strict=True))
    units = build_units(rows, {"name": "p", "kind": "pairwise"})
    vote = majority(units.packed(), units.value_domain)
    ranks = rank_consensus(units)
    ds = dawid_skene(units.unit_idx, units.annotator_idx, units.codes(), 3, max_iter=30)
    expected = np.where(truth == "A", -1, 1)
    assert (vote.values == expected).mean() > 0.95
    assert (ranks.order[:, 0] == (truth == "B")).mean() > 0.95
    assert (units.value_domain[ds.labels] == expected).mean() > 0.95
