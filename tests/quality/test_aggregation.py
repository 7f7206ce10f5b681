
import choix
import numpy as np
import pytest

from quality.aggregation import (
    best_dawid_skene,
    dawid_skene,
    majority,
    multi_label_consensus,
    rank_consensus,
    rating_consensus,
    spammer_score,
    span_consensus,
    tie_draws,
    unit_keys,
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
    assert vote.values[0] in (0, 1)  # 0 vs 1: drawn
    np.testing.assert_array_equal(vote.values[1:], [1, NAN, 2])
    np.testing.assert_array_equal(vote.tied, [True, False, False, False])
    np.testing.assert_allclose(vote.confidence, [0.5, 2 / 3, 0, 2 / 3])
    weighted = majority(m, [0, 1, 2], weights=[0.2, 0.9, 0.5])
    assert weighted.values[0] == 1 and not weighted.tied[0]
    assert weighted.confidence[0] == pytest.approx(0.9 / 1.1)


def _two_annotators(seed, n):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, size=n)
    right = rng.random((2, n)) < 0.7
    return np.where(right, truth, 1 - truth).astype(float)


def test_majority_breaks_ties_without_favouring_an_option():
    # Balanced binary truth, two 70%-accurate annotators: 42% of items are 1-1 ties.
    # Ties to the first option answered "1" for 29% of items instead of 50%.
    n = 40_000
    m = _two_annotators(3, n)
    vote = majority(m, [0, 1], seed=11)
    ties = int(vote.tied.sum())
    assert ties / n == pytest.approx(2 * 0.7 * 0.3, abs=0.01)
    # Four binomial standard deviations either side of one half.
    assert abs((vote.values[vote.tied] == 1).mean() - 0.5) < 4 * np.sqrt(0.25 / ties)
    assert abs((vote.values == 1).mean() - 0.5) < 4 * np.sqrt(0.25 / n)
    np.testing.assert_array_equal(vote.tied, m[0] != m[1])


def test_majority_ties_among_three_values_are_uniform():
    n = 30_000
    m = np.tile([[0.0], [1.0], [2.0]], n)
    vote = majority(m, [0, 1, 2], seed=5)
    assert vote.tied.all()
    shares = np.bincount(vote.values.astype(int), minlength=3) / n
    np.testing.assert_allclose(shares, 1 / 3, atol=4 * np.sqrt(2 / 9 / n))


def test_majority_is_reproducible_per_seed_and_key():
    m = _two_annotators(4, 2000)
    first = majority(m, [0, 1], seed=7)
    np.testing.assert_array_equal(first.values, majority(m, [0, 1], seed=7).values)
    other = majority(m, [0, 1], seed=8)
    assert (other.values != first.values).any()
    np.testing.assert_array_equal(other.values[~other.tied], first.values[~first.tied])
    # With keys (e.g. item ids) a unit resolves the same way in any batch or order.
    keys = np.arange(5000, 7000)
    whole = majority(m, [0, 1], seed=7, keys=keys)
    part = majority(m[:, 1500:], [0, 1], seed=7, keys=keys[1500:])
    np.testing.assert_array_equal(part.values, whole.values[1500:])
    shuffled = np.random.default_rng(0).permutation(2000)
    again = majority(m[:, shuffled], [0, 1], seed=7, keys=keys[shuffled])
    np.testing.assert_array_equal(again.values, whole.values[shuffled])
    with pytest.raises(ValueError, match="keys"):
        majority(m, [0, 1], keys=keys[:10])


def test_weighted_votes_equal_up_to_rounding_are_tied():
    m = np.array([[0.0], [0.0], [1.0]])
    vote = majority(m, [0, 1], weights=[0.1, 0.2, 0.3])
    assert vote.tied[0]
    assert vote.confidence[0] == pytest.approx(0.5)


def test_tie_draws_are_uniform_and_depend_on_seed_key_and_value():
    draws = tie_draws(3, np.arange(100_000), 2)
    assert draws.shape == (100_000, 2)
    assert draws.min() >= 0 and draws.max() < 1
    assert draws.mean() == pytest.approx(0.5, abs=0.005)
    assert abs(np.corrcoef(draws[:, 0], draws[:, 1])[0, 1]) < 0.01
    np.testing.assert_array_equal(tie_draws(3, [42], 2)[0], draws[42])
    assert (tie_draws(4, [42], 2) != draws[42]).all()
    np.testing.assert_array_equal(tie_draws(0, ["a", "b"], 3), tie_draws(0, ["a", "b"], 3))


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


def test_gold_anchors_dawid_skene_against_a_coordinated_wrong_majority():
    # The crowd above, without trust weights: 5% gold items tell the two stories apart.
    rng = np.random.default_rng(1)
    truth, items, annotators, labels = _crowd(rng, 3000, 3, "adversarial")
    gold = np.random.default_rng(9).choice(3000, 150, replace=False)
    ds = dawid_skene(items, annotators, labels, 3, gold=(gold, truth[gold]))
    assert ds.gold.sum() == 150 and ds.gold[gold].all()
    free = ~ds.gold
    assert (ds.labels[free] == truth[free]).mean() > 0.95
    np.testing.assert_array_equal(ds.labels[gold], truth[gold])
    np.testing.assert_array_equal(ds.confidence[gold], 1.0)
    assert ds.converged
    # The adversaries are found: they answer the next class for most true classes.
    shifted = ds.confusion[2:, np.arange(3), (np.arange(3) + 1) % 3]
    assert np.all(shifted > 0.8)
    # The data alone still point the other way: gold, not the start, made the difference.
    assert (dawid_skene(items, annotators, labels, 3).labels == truth).mean() < 0.1


def test_a_gold_item_keeps_its_class_against_every_answer():
    items = np.repeat(np.arange(40), 3)
    annotators = np.tile(np.arange(3), 40)
    labels = np.repeat(np.arange(40) % 2, 3)
    # Item 0's gold contradicts all three experts; items 2-4 agree with them. (Gold on
    # item 0 alone would be evidence that the experts swap the classes, and EM would
    # rightly follow it.)
    ds = dawid_skene(items, annotators, labels, 2, gold={0: 1, 2: 0, 3: 1, 4: 0, 41: 0})
    assert ds.labels[0] == 1 and ds.posterior[0].tolist() == [0.0, 1.0]
    # An item nobody answered can be gold; it only extends the item axis.
    assert ds.posterior.shape == (42, 2) and ds.labels[41] == 0
    assert (ds.labels[1:40] == labels[3:120:3]).all()


def test_gold_as_a_mapping_or_arrays_and_its_checks():
    items, annotators, labels = _ds1979_triples()
    as_map = dawid_skene(items, annotators, labels, 4, gold={3: 1, 10: 3})
    as_arrays = dawid_skene(items, annotators, labels, 4, gold=([3, 10], [1, 3]))
    np.testing.assert_array_equal(as_map.posterior, as_arrays.posterior)
    assert as_map.labels[3] == 1 and as_map.labels[10] == 3
    plain = dawid_skene(items, annotators, labels, 4)
    assert not plain.gold.any() and as_map.gold.sum() == 2
    for bad, message in [({3: 4}, "classes in 0..3"), ({-1: 0}, "item indices"),
                         (([3, 3], [1, 1]), "more than once"), (([3], [1, 2]), "2 classes")]:
        with pytest.raises(ValueError, match=message):
            dawid_skene(items, annotators, labels, 4, gold=bad)


def test_spammer_score_of_known_confusion_matrices():
    # Two classes: Raykar & Yu's (sensitivity + specificity - 1) ** 2.
    for sens, spec in [(0.8, 0.7), (0.9, 0.95), (0.3, 0.2), (0.6, 0.4)]:
        binary = np.array([[spec, 1 - spec], [1 - sens, sens]])
        assert spammer_score(binary) == pytest.approx((sens + spec - 1) ** 2)
    eye = np.eye(3)
    relabel = eye[[1, 2, 0]]
    constant = np.tile([1.0, 0, 0], (3, 1))
    uniform = np.full((3, 3), 1 / 3)
    np.testing.assert_allclose(spammer_score(np.stack([eye, relabel, constant, uniform])),
                               [1, 1, 0, 0], atol=1e-12)
    # By hand: rows differ pairwise by squared distances 0.18, 0.74 and 0.26; / (3 * 2).
    a = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.4, 0.2, 0.4]])
    assert spammer_score(a) == pytest.approx((0.54 + 0.72 + 0.18) / 6)
    assert np.isnan(spammer_score(np.ones((1, 1))))


def test_spammer_score_and_accuracy_of_fitted_experts():
    rng = np.random.default_rng(12)
    n, k = 3000, 3
    truth = rng.integers(0, k, size=n)
    noise = rng.integers(0, k, size=(6, n))
    hit = rng.random((6, n))
    given = np.stack([
        truth,  # perfect
        np.where(hit[1] < 0.85, truth, noise[1]),  # good
        np.where(hit[2] < 0.75, truth, noise[2]),  # good enough
        noise[3],  # random
        np.zeros(n, dtype=int),  # constant
        np.where(hit[5] < 0.95, (truth + 1) % k, noise[5]),  # relabels every class
    ])
    ds = dawid_skene(np.tile(np.arange(n), 6), np.repeat(np.arange(6), n), given.ravel(), k)
    score = ds.spammer_score
    assert score[0] > 0.95
    assert score[1] > score[2] > 0.4
    assert score[3] < 0.01 and score[4] < 0.01
    # Informative, not a spammer, yet almost never right: the accuracy shows it.
    assert score[5] > 0.85 and ds.accuracy[5] < 0.05
    np.testing.assert_allclose(ds.accuracy[:3], [1, 0.9, 0.83], atol=0.02)
    assert ds.accuracy[4] == pytest.approx(ds.priors[0], abs=0.01)


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
    assert c.answers[1] == ["a"]
    assert c.answers[2] in ([], ["b"])  # "b" is a 1-1 split on item 2: drawn
    assert c.confidence[1] == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_multi_label_even_splits_select_an_option_half_the_time():
    n = 4000
    answers = [(i, "x", ["a", "b"]) for i in range(n)] + [(i, "y", ["b"]) for i in range(n)]
    units = build_units(answers, {"name": "m", "kind": "multi_label", "options": ["a", "b"]})
    c = multi_label_consensus(units, ["a", "b"], seed=2)
    assert all("b" in a for a in c.answers.values())
    with_a = sum("a" in a for a in c.answers.values()) / n
    assert abs(with_a - 0.5) < 4 * np.sqrt(0.25 / n)
    assert c.answers == multi_label_consensus(units, ["a", "b"], seed=2).answers
    # Keys are item ids and options, so one item's answer does not depend on the others.
    alone = build_units([a for a in answers if a[0] == 7], {"name": "m", "kind": "multi_label",
                                                             "options": ["a", "b"]})
    assert multi_label_consensus(alone, ["a", "b"], seed=2).answers[7] == c.answers[7]
    assert (unit_keys(units) != unit_keys(units, per_item=True)).any()


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


def test_tied_span_tokens_are_kept_or_dropped_as_one_span():
    # One expert marks three tokens ERR, the other marks nothing: every token is an
    # ERR-vs-O tie. The whole span is drawn in or out, never a fragment of it.
    n = 2000
    text = "one two three four"
    texts = dict.fromkeys(range(n), text)
    q = {"name": "s", "kind": "spans", "field": "text", "options": ["ERR"]}
    answers = [(i, "x", [{"start": 0, "end": 13, "label": "ERR"}]) for i in range(n)]
    answers += [(i, "y", []) for i in range(n)]
    c = span_consensus(build_units(answers, q, texts), texts, seed=4)
    outcomes = [tuple((s["start"], s["end"]) for s in c.answers[i]) for i in range(n)]
    assert set(outcomes) == {(), ((0, 13),)}
    kept = outcomes.count(((0, 13),)) / n
    assert abs(kept - 0.5) < 4 * np.sqrt(0.25 / n)


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


def test_one_accuracy_per_annotator_where_errors_are_even_a_full_matrix_where_not():
    rng = np.random.default_rng(6)
    # Five annotators right 75% of the time, otherwise guessing evenly: one coin each.
    truth = rng.integers(0, 3, size=1500)
    given = np.where(rng.random((5, 1500)) < 0.75, truth, rng.integers(0, 3, (5, 1500)))
    items, annotators = np.tile(np.arange(1500), 5), np.repeat(np.arange(5), 1500)
    even = best_dawid_skene(items, annotators, given.ravel(), 3)
    assert even.one_coin
    np.testing.assert_allclose(even.confusion[0].sum(axis=1), 1)
    # Biased annotators say class 0 whatever the item: only a full matrix describes them.
    truth, items, annotators, labels = _crowd(rng, 1500, 3, "biased")
    biased = best_dawid_skene(items, annotators, labels, 3)
    assert not biased.one_coin and (biased.labels == truth).mean() > 0.9
