"""Measures of written answers against values worked out by hand."""

import math

import numpy as np
import pytest

from quality import texts


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("kitten", "sitting", 3),   # k->s, e->i, +g: the textbook pair
    ("flaw", "lawn", 2),        # -f, +n
    ("", "abc", 3),
    ("same", "same", 0),
])
def test_edit_distance_of_known_pairs(a, b, distance):
    assert texts.edit_distance(a, b) == distance


def test_normalised_edit_distance_divides_by_the_longer_text():
    assert texts.normalised_edit_distance("kitten", "sitting") == pytest.approx(3 / 7)
    assert texts.normalised_edit_distance("flaw", "lawn") == pytest.approx(2 / 4)
    assert texts.normalised_edit_distance("", "") == 0.0
    assert texts.normalised_edit_distance("", "a whole new answer") == 1.0


def test_tfidf_cosine_of_two_short_texts():
    # Smoothed IDF over two texts: "a" is in both (idf 1), "b" and "c" in one
    # (idf 1 + ln(3/2)); the cosine of (1, idf, 0) and (1, 0, idf) is 1 / (1 + idf^2).
    idf = 1 + math.log(3 / 2)
    similarities = texts.similarity_matrix(texts.tfidf_vectors(["a b", "a c"]))
    assert similarities[0, 1] == pytest.approx(1 / (1 + idf ** 2))
    assert np.diag(similarities) == pytest.approx([1.0, 1.0])


def test_mean_similarities_within_groups_of_answers():
    # Three texts, one vocabulary: "a" in two (idf 1 + ln(4/3)), "b", "c", "x" in one
    # (idf 1 + ln(4/2)); "a b" and "a c" share only "a".
    shared, alone = 1 + math.log(4 / 3), 1 + math.log(4 / 2)
    cosine = shared ** 2 / (shared ** 2 + alone ** 2)
    means = texts.mean_similarities(texts.tfidf_vectors(["a b", "a c", "x"]), [2, 1])
    assert means[:2] == pytest.approx([cosine, cosine])
    assert math.isnan(means[2])
    [pair, single] = texts.text_consensus([["a b", "a c"], ["x"]])
    assert pair.confidence == pytest.approx(cosine) and single is None


def test_texts_without_words_are_similar_to_nothing():
    similarities = texts.similarity_matrix(texts.tfidf_vectors(["...", "?!"]))
    assert similarities.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_consensus_picks_one_of_two_near_identical_answers():
    group = ["Take one tablet of aspirin daily with water.",
             "Take one tablet of aspirin daily with food.",
             "Surgery is the only option here."]
    [found] = texts.text_consensus([group])
    assert (found.index, found.tied) == (0, True)
    assert found.mean_similarity[1] == pytest.approx(found.confidence)
    assert found.mean_similarity[2] < found.mean_similarity[found.index]
    assert found.confidence == pytest.approx(found.mean_similarity[found.index])
    assert 0.0 < found.confidence < 1.0


def test_consensus_prefers_the_near_copy_closer_to_the_third_answer():
    # Both near-copies match each other equally; only the second shares a word ("food")
    # with the third answer, so its mean similarity to the others is the higher.
    group = ["Take aspirin daily with water.", "Take aspirin daily with food.",
             "Food matters most."]
    [found] = texts.text_consensus([group])
    assert (found.index, found.tied) == (1, False)
    assert found.mean_similarity[0] < found.confidence
    # The sparse sums give what the item's full similarity matrix gives.
    whole = texts.consensus_of(texts.similarity_matrix(texts.tfidf_vectors(group)))
    assert found.mean_similarity == pytest.approx(whole.mean_similarity)


def test_consensus_confidence_is_the_mean_similarity_to_the_others():
    similarities = np.array([[1.0, 0.9, 0.3],
                             [0.9, 1.0, 0.1],
                             [0.3, 0.1, 1.0]])
    found = texts.consensus_of(similarities)
    assert (found.index, found.tied) == (0, False)
    assert found.confidence == pytest.approx((0.9 + 0.3) / 2)
    assert found.mean_similarity == pytest.approx([0.6, 0.5, 0.2])


def test_two_answers_are_always_tied():
    [found] = texts.text_consensus([["The dose is 5 mg.", "The dose is 10 mg daily."]])
    assert (found.index, found.tied) == (0, True)
    assert found.confidence == pytest.approx(found.mean_similarity[0])


def test_groups_of_one_have_no_consensus():
    assert texts.text_consensus([["alone"], [], ["x y", "x y"]])[:2] == [None, None]


def test_identical_answers_agree_fully():
    [found] = texts.text_consensus([["same words here"] * 3])
    assert found.confidence == pytest.approx(1.0)
    assert found.tied


def test_robust_z_uses_median_and_mad():
    # Median 3; absolute deviations 2, 1, 0, 1, 97 have median 1.
    z = texts.robust_z([1, 2, 3, 4, 100])
    assert z == pytest.approx([-1.349, -0.6745, 0, 0.6745, 0.6745 * 97])


def test_robust_z_falls_back_to_the_mean_absolute_deviation():
    # MAD is 0; the mean absolute deviation is 4 / 5.
    z = texts.robust_z([5, 5, 5, 5, 9])
    assert z[-1] == pytest.approx(4 / (1.253314 * 0.8))
    assert texts.robust_z([7, 7, 7]).tolist() == [0.0, 0.0, 0.0]


def test_outliers_on_a_log_scale():
    lengths = [100, 110, 90, 105, 95, 1000, 5]
    assert texts.outliers(lengths).tolist() == [0, 0, 0, 0, 0, 1, -1]
    assert texts.outliers([1, 2, 3, 4, 100], log=False).tolist() == [0, 0, 0, 0, 1]
    assert texts.outliers([]).tolist() == []
