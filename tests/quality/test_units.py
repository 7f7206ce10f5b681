
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quality.agreement import alpha
from quality.units import build_units, tokens

NAN = np.nan


def test_label_units_and_duplicate_answers_keep_the_last():
    q = {"name": "q", "kind": "label", "options": ["a", "b", "c"]}
    u = build_units([(1, "x", "a"), (1, "y", "b"), (2, "x", "c"), (2, "y", "c"), (2, "x", "a")], q)
    assert u.level == "nominal"
    assert list(u.value_domain) == [0, 1, 2]
    assert u.value_labels == ("a", "b", "c")
    assert list(u.item_ids) == [1, 2]
    assert list(u.annotator_ids) == ["x", "y"]
    np.testing.assert_array_equal(u.matrix(), [[0, 0], [1, 2]])


def test_label_rejects_unknown_option():
    with pytest.raises(ValueError, match="not one of"):
        build_units([(1, "x", "zzz")], {"name": "q", "kind": "label", "options": ["a"]})


def test_rating_uses_the_integer_and_question_level():
    q = {"name": "r", "kind": "rating", "min": 1, "max": 5, "level": "interval"}
    u = build_units([(1, "x", 5), (1, "y", 4), (2, "x", 1)], q)
    assert u.level == "interval"
    assert list(u.value_domain) == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(u.matrix(), [[5, 1], [4, NAN]])
    assert build_units([], {**q, "level": "ordinal"}).level == "ordinal"
    with pytest.raises(ValueError):
        build_units([(1, "x", 6)], q)


def test_multi_label_is_one_binary_unit_per_option():
    q = {"name": "m", "kind": "multi_label", "options": ["a", "b"]}
    u = build_units([(1, "x", ["a"]), (1, "y", ["a", "b"]), (2, "x", [])], q)
    assert list(u.unit_item) == [0, 0, 1, 1]
    assert list(u.unit_part) == [0, 1, 0, 1]
    np.testing.assert_array_equal(u.matrix(), [[1, 0, 0, 0], [1, 1, NAN, NAN]])


def test_ranking_unit_is_item_completion_valued_by_position():
    u = build_units(
        [(1, "x", [2, 0, 1]), (1, "y", [0, 1, 2]), (2, "x", [1, 0])],
        {"name": "rk", "kind": "ranking"},
        {1: 3, 2: 2},
    )
    assert u.level == "ordinal"
    assert list(u.unit_part) == [0, 1, 2, 0, 1]
    # x ranked completion 2 first, so completion 0 sits at position 1.
    np.testing.assert_array_equal(u.matrix(), [[1, 2, 0, 1, 0], [0, 1, 2, NAN, NAN]])


@pytest.mark.parametrize("bad", [[0, 0, 1], [0, 1], [0, 1, 3]])
def test_ranking_must_be_a_permutation(bad):
    with pytest.raises(ValueError):
        build_units([(1, "x", bad)], {"name": "rk", "kind": "ranking"}, {1: 3})


def test_spans_become_token_labels_with_o_for_untagged():
    text = "hello big  world"
    assert tokens(text) == [(0, 5), (6, 9), (11, 16)]
    q = {"name": "s", "kind": "spans", "field": "text", "options": ["ERR", "OK"]}
    answers = [
        (1, "x", [{"start": 0, "end": 5, "label": "ERR"}]),
        # Partial overlap with a token still tags the whole token.
        (1, "y", [{"start": 7, "end": 8, "label": "OK"}, {"start": 12, "end": 16, "label": "ERR"}]),
        (2, "x", []),
    ]
    u = build_units(answers, q, {1: text, 2: " a b "})
    assert u.value_labels == ("O", "ERR", "OK")
    np.testing.assert_array_equal(u.matrix(), [[1, 0, 0, 0, 0], [0, 2, 1, NAN, NAN]])
    with pytest.raises(ValueError):
        build_units([(1, "x", [{"start": 0, "end": 99, "label": "ERR"}])], q, {1: text})


def test_pairwise_codes_are_signed():
    plain = build_units([(1, "x", "A"), (1, "y", "tie"), (2, "x", "B")], {"kind": "pairwise"})
    assert plain.level == "nominal"
    assert plain.value_labels == ("A", "tie", "B")
    np.testing.assert_array_equal(plain.matrix(), [[-1, 1], [0, NAN]])

    q = {"name": "p", "kind": "pairwise", "strength": True}
    strong = build_units([(1, "x", {"choice": "A", "strength": 2}), (1, "y", "B")], q)
    assert strong.level == "ordinal"
    assert strong.value_labels == ("A2", "A1", "tie", "B1", "B2")
    np.testing.assert_array_equal(strong.matrix(), [[-2], [1]])


def test_text_has_no_units():
    u = build_units([(1, "x", "free text")], {"name": "t", "kind": "text"})
    assert u.level == "none"
    assert u.n_units == 0


def test_packed_matrix_gives_the_same_alpha():
    rng = np.random.default_rng(1)
    rows = [(int(i), int(a), int(rng.integers(1, 4))) for i in range(300)
            for a in rng.choice(40, size=int(rng.integers(1, 5)), replace=False)]
    u = build_units(rows, {"name": "r", "kind": "rating", "min": 1, "max": 3})
    assert u.packed().shape[0] == 4
    for level in ("nominal", "ordinal", "interval"):
        assert alpha(u.packed(), level, u.value_domain) == pytest.approx(
            alpha(u.matrix(), level, u.value_domain), abs=1e-12
        )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from("xyz"), st.sampled_from("abc")),
                max_size=40))
def test_matrix_matches_a_naive_build(rows):
    u = build_units(rows, {"name": "q", "kind": "label", "options": ["a", "b", "c"]})
    expected = {(i, a): "abc".index(ans) for i, a, ans in rows}
    m = u.matrix()
    assert np.count_nonzero(~np.isnan(m)) == len(expected)
    for (i, a), code in expected.items():
        r = list(u.annotator_ids).index(a)
        c = list(u.item_ids).index(i)
        assert m[r, c] == code


def test_a_million_annotations_build_into_units():
    rng = np.random.default_rng(0)
    n = 200_000
    items = np.repeat(np.arange(n), 5).tolist()
    annotators = rng.integers(0, 300, size=n * 5).tolist()
    options = ["a", "b", "c", "d"]
    answers = [options[k] for k in rng.integers(0, 4, size=n * 5).tolist()]
    rows = list(zip(items, annotators, answers, strict=True))
    u = build_units(rows, {"name": "q", "kind": "label", "options": options})
    assert u.n_units == n
    assert len(u.values) == len(set(zip(items, annotators, strict=True)))
    assert list(u.annotator_ids) == sorted(set(annotators))
