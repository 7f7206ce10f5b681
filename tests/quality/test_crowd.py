"""The crowd's answer and agreement with it, without the database."""

import numpy as np
import pytest

from quality import crowd
from quality.units import build_units


class TestDisputes:
    QUESTIONS = [{"name": "side", "kind": "pairwise"},
                 {"name": "tags", "kind": "multi_label", "options": ["a", "b"]},
                 {"name": "grade", "kind": "rating", "min": 1, "max": 5},
                 {"name": "ranked", "kind": "ranking"}]

    def disputed(self, answers, *, spread=1):
        return crowd.disputed(self.QUESTIONS, answers, agreement_threshold=0.7,
                              rating_spread_threshold=spread)

    def test_pairwise_strength_does_not_split_a_side(self):
        answers = [({"side": {"choice": "A", "strength": 1}}, 1.0),
                   ({"side": {"choice": "A", "strength": 3}}, 1.0)]
        assert not self.disputed(answers)
        assert self.disputed([*answers, ({"side": "B"}, 1.0)])

    def test_multi_label_disputes_option_by_option(self):
        agree = [({"tags": ["a"]}, 0.5), ({"tags": ["a"]}, 0.5), ({"tags": ["a", "b"]}, 0.1)]
        assert not self.disputed(agree)
        split = [({"tags": ["a"]}, 0.5), ({"tags": ["a", "b"]}, 0.5)]
        assert self.disputed(split)

    def test_ratings_by_spread_and_rankings_never(self):
        assert not self.disputed([({"grade": 2}, 1), ({"grade": 3}, 1)])
        assert self.disputed([({"grade": 2}, 1), ({"grade": 4}, 1)])
        assert not self.disputed([({"grade": 2}, 1), ({"grade": 4}, 1)], spread=2)
        assert not self.disputed([({"ranked": [0, 1]}, 1), ({"ranked": [1, 0]}, 1)])

    def test_a_single_answer_is_never_a_dispute(self):
        assert not self.disputed([({"side": "A", "grade": 1}, 1)])


LABEL = {"name": "q", "kind": "label", "options": ["a", "b"]}


def test_a_tie_is_drawn_without_favouring_an_option_and_marked():
    # Two answers that split on every item, from experts with one answer each (too few to
    # learn a confusion matrix from): the vote alone cannot decide any of them.
    units = build_units([(item, f"{who}{item}", value) for item in range(2000)
                         for who, value in (("x", "a"), ("y", "b"))], LABEL)
    answer = crowd.crowd_answer(units, seed=7)
    assert answer.method == "weighted_majority" and answer.tied.all()
    share_b = float(np.mean(answer.values == 1))
    # Binomial(2000, 1/2): 0.5 +- 3.5 standard errors.
    assert abs(share_b - 0.5) < 3.5 * np.sqrt(0.25 / 2000)
    np.testing.assert_array_equal(crowd.crowd_answer(units, seed=7).values, answer.values)
    assert not np.array_equal(crowd.crowd_answer(units, seed=8).values, answer.values)


def test_trust_weighs_the_vote_and_gold_anchors_dawid_skene():
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, 300)
    triples = []
    for who in range(5):
        # Two careful experts, three who coordinate on the wrong answer.
        given = truth if who < 2 else 1 - truth
        noisy = np.where(rng.random(300) < 0.1, 1 - given, given)
        triples += [(item, who, "ab"[value]) for item, value in enumerate(noisy)]
    units = build_units(triples, LABEL)
    plain = crowd.crowd_answer(units)
    assert plain.method == "dawid_skene" and np.mean(plain.values == truth) < 0.1
    gold = {item: "ab"[truth[item]] for item in range(15)}
    anchored = crowd.crowd_answer(units, gold=gold)
    assert np.mean(anchored.values == truth) > 0.95
    assert anchored.fit.gold[:15].all() and (anchored.values[:15] == truth[:15]).all()
    # The coordinated experts tell the truth backwards: informative, so not spammers.
    assert np.all(anchored.fit.spammer_score > 0.5)
    assert np.all(anchored.fit.accuracy[2:] < 0.2)


def test_repeated_answers_count_once_everywhere():
    # An annotator who answered an item twice: the later answer is theirs, for the vote,
    # for Dawid-Skene and for agreement alike.
    triples = [(1, "x", "a"), (1, "y", "b"), (1, "x", "b")]
    units = build_units(triples, LABEL)
    answer = crowd.crowd_answer(units)
    assert answer.answers.tolist() == [2] and answer.values.tolist() == [1.0]
    score, scored = crowd.leave_one_out_scores(units)
    assert score.tolist() == [1.0, 1.0] and scored.all()


def test_preferences_follow_bradley_terry():
    pairwise = {"name": "p", "kind": "pairwise", "strength": True, "max_strength": 3}
    units = build_units([(1, "x", {"choice": "B", "strength": 3}),
                         (1, "y", {"choice": "B", "strength": 1}),
                         (1, "z", {"choice": "A", "strength": 2}),
                         (2, "x", "tie"), (2, "y", "tie")], pairwise)
    answer = crowd.crowd_answer(units)
    # Item 1: B by two to one, with the median strength of the B side (2) rounded half
    # down; item 2 a tie, as its two strengths are equal.
    assert answer.values.tolist() == [2.0, 0.0] and answer.tied.tolist() == [False, True]
    ranking = {"name": "r", "kind": "ranking", "field": "c"}
    units = build_units([(1, "x", [2, 0, 1]), (1, "y", [2, 1, 0]), (1, "z", [2, 0, 1])],
                        ranking, {1: 3})
    answer = crowd.crowd_answer(units)
    # Each completion's place in the order: 2 first, then 0, then 1.
    assert answer.values.tolist() == [1.0, 2.0, 0.0]


def test_ratings_take_the_median_on_the_scale_or_the_mean():
    rating = {"name": "r", "kind": "rating", "min": 1, "max": 5}
    triples = [(1, "x", 2), (1, "y", 3), (2, "x", 1), (2, "y", 4), (2, "z", 5)]
    assert crowd.crowd_answer(build_units(triples, rating)).values.tolist() == [2.0, 4.0]
    interval = {**rating, "level": "interval"}
    answer = crowd.crowd_answer(build_units(triples, interval))
    assert answer.values.tolist() == [2.5, pytest.approx(10 / 3)] and answer.method == "mean"


def test_leave_one_out_scores_by_hand():
    units = build_units([(1, "x", "a"), (1, "y", "a"), (1, "z", "b"), (2, "x", "a")], LABEL)
    score, scored = crowd.leave_one_out_scores(units)
    # x and y match the other a; z is alone against a, a; x on item 2 has nobody to meet.
    # On item 1 the others of x are {a, b}: a tie, worth 1/2 to either.
    assert scored.tolist() == [True, True, True, False]
    assert score[:3].tolist() == [0.5, 0.5, 0.0]
    rating = {"name": "r", "kind": "rating", "min": 1, "max": 5}
    units = build_units([(1, "x", 1), (1, "y", 3), (1, "z", 5)], rating)
    score, _ = crowd.leave_one_out_scores(units)
    # Others' medians 4, 3 and 2 on a scale of range 4.
    assert score.tolist() == [0.25, 1.0, 0.25]


def test_leave_one_out_median_matches_a_naive_loop():
    rng = np.random.default_rng(2)
    rating = {"name": "r", "kind": "rating", "min": 1, "max": 5}
    given = rng.integers(1, 6, size=(6, 80))
    present = rng.random(given.shape) >= 0.3
    units = build_units([(u, a, int(given[a, u])) for u in range(80) for a in range(6)
                         if present[a, u]], rating)
    score, scored = crowd.leave_one_out_scores(units)
    for a in range(6):
        diffs = []
        for u in range(80):
            others = [given[b, u] for b in range(6) if b != a and present[b, u]]
            if present[a, u] and others:
                diffs.append(1 - abs(given[a, u] - np.median(others)) / 4)
        mine = units.annotator_idx == a
        assert scored[mine].sum() == len(diffs)
        assert score[mine & scored].mean() == pytest.approx(np.mean(diffs))


def test_a_weighted_vote_in_slices_is_the_vote_at_once(monkeypatch):
    rng = np.random.default_rng(3)
    triples = [(item, f"e{rng.integers(40)}", "ab"[rng.integers(2)]) for item in range(300)
               for _ in range(3)]
    units = build_units(triples, LABEL)
    trust = {f"e{n}": float(rng.random()) for n in range(40)}
    whole = crowd.crowd_answer(units, trust=trust, seed=5)
    monkeypatch.setattr(crowd, "MATRIX_CELLS", 7 * units.n_annotators)
    sliced = crowd.crowd_answer(units, trust=trust, seed=5)
    np.testing.assert_array_equal(sliced.values, whole.values)
    np.testing.assert_array_equal(sliced.tied, whole.tied)
    np.testing.assert_allclose(sliced.confidence, whole.confidence)
