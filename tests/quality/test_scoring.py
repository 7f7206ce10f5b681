import pytest

from quality.scoring import score_against_gold, score_answer

LABEL = {"name": "q", "kind": "label", "options": ["a", "b"]}
MULTI = {"name": "m", "kind": "multi_label", "options": ["x", "y", "z"]}
RATING = {"name": "r", "kind": "rating", "min": 1, "max": 5}
RANKING = {"name": "rk", "kind": "ranking", "field": "completions"}
PAIR = {"name": "p", "kind": "pairwise", "strength": True}
TEXT = {"name": "t", "kind": "text"}
SPANS = {"name": "s", "kind": "spans", "field": "text", "options": ["ERR", "OK"]}


def test_label_is_exact_match():
    assert score_answer(LABEL, "a", "a") == 1.0
    assert score_answer(LABEL, "a", "b") == 0.0


def test_multi_label_is_jaccard():
    assert score_answer(MULTI, ["x", "y"], ["y", "z"]) == pytest.approx(1 / 3)
    assert score_answer(MULTI, ["x"], ["x"]) == 1.0
    assert score_answer(MULTI, [], []) == 1.0
    assert score_answer(MULTI, [], ["x"]) == 0.0


def test_rating_is_one_minus_normalised_distance():
    assert score_answer(RATING, 4, 5) == pytest.approx(0.75)
    assert score_answer(RATING, 1, 5) == 0.0
    assert score_answer(RATING, 3, 3) == 1.0


def test_ranking_maps_kendall_tau_to_unit_interval():
    assert score_answer(RANKING, [2, 0, 1], [2, 0, 1]) == 1.0
    assert score_answer(RANKING, [1, 0, 2], [2, 0, 1]) == 0.0
    # One adjacent swap out of three pairs: tau = (2 - 1) / 3, mapped to 2/3.
    assert score_answer(RANKING, [0, 2, 1], [2, 0, 1]) == pytest.approx(2 / 3)
    # Four items, one discordant pair of six: tau = 4/6.
    assert score_answer(RANKING, [1, 0, 2, 3], [0, 1, 2, 3]) == pytest.approx((4 / 6 + 1) / 2)


def test_ranking_rejects_different_completions():
    with pytest.raises(ValueError):
        score_answer(RANKING, [0, 1], [0, 2])


def test_pairwise_compares_choice_only():
    assert score_answer(PAIR, {"choice": "A", "strength": 2}, {"choice": "A", "strength": 1}) == 1.0
    assert score_answer(PAIR, {"choice": "B", "strength": 2}, "A") == 0.0
    assert score_answer({"name": "p", "kind": "pairwise"}, "tie", "tie") == 1.0


def test_text_is_not_auto_scored():
    assert score_answer(TEXT, "hello", "hello") is None


def test_spans_f1_over_labelled_characters():
    gold = [{"start": 0, "end": 10, "label": "ERR"}]
    assert score_answer(SPANS, gold, gold) == 1.0
    half = [{"start": 0, "end": 5, "label": "ERR"}]
    # precision 1, recall 0.5 -> F1 2/3
    assert score_answer(SPANS, half, gold) == pytest.approx(2 / 3)
    wrong_label = [{"start": 0, "end": 10, "label": "OK"}]
    assert score_answer(SPANS, wrong_label, gold) == 0.0
    assert score_answer(SPANS, [], []) == 1.0
    assert score_answer(SPANS, [], gold) == 0.0


def test_unknown_kind_raises():
    with pytest.raises(ValueError):
        score_answer({"name": "x", "kind": "video"}, 1, 1)


class TestScoringAgainstGold:
    QUESTIONS = [{"name": "tags", "kind": "multi_label", "options": ["a", "b", "c"]},
                 {"name": "grade", "kind": "rating", "min": 1, "max": 5},
                 {"name": "note", "kind": "text"},
                 {"name": "extra", "kind": "label", "options": ["x", "y"]}]

    def test_the_mean_over_questions_the_gold_covers(self):
        score, per_question = score_against_gold(
            self.QUESTIONS, {"tags": ["a", "b"], "grade": 4, "note": "fine", "extra": "x"},
            {"tags": ["a"], "grade": 5})
        assert per_question == {"tags": 0.5, "grade": 0.75}
        assert score == pytest.approx(0.625)

    def test_a_covered_question_left_unanswered_scores_zero(self):
        score, per_question = score_against_gold(
            self.QUESTIONS, {"tags": ["a"]}, {"tags": ["a"], "grade": 3})
        assert per_question == {"tags": 1.0, "grade": 0.0} and score == 0.5

    def test_nothing_scorable_gives_none(self):
        assert score_against_gold(self.QUESTIONS, {"note": "x"}, {}) == (None, {})
