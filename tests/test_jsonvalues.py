"""What a JSON value from a client may hold: found by walking it, named by its path."""

import pytest

from config import jsonvalues


@pytest.mark.parametrize(("value", "found"), [
    ({"a": [1, "x", {"b": None}]}, None),
    ({"a": [1, "x\x00"]}, ("a.1", jsonvalues.NUL_MESSAGE)),
    ({"k\x00": 1}, ("k\x00", jsonvalues.NUL_MESSAGE)),
    ({"a": {"b": "\udfff"}}, ("a.b", jsonvalues.SURROGATE_MESSAGE)),
    ([float("inf")], ("0", jsonvalues.HUGE_NUMBER_MESSAGE)),
    ("\x00", ("", jsonvalues.NUL_MESSAGE)),
    ([[[]]], None),
    ([[[[]]]], ("0.0.0", "JSON nested deeper than 3 levels.")),
    ({"a": {"b": {"c": {}}}}, ("a.b.c", "JSON nested deeper than 3 levels.")),
])
def test_problem_names_the_first_part_that_cannot_be_kept(value, found):
    assert jsonvalues.problem(value, 3) == found


def test_a_value_already_held_counts_its_levels():
    assert jsonvalues.problem([[]], 3, level=1) is None
    assert jsonvalues.problem([[]], 3, level=2) == ("0", "JSON nested deeper than 3 levels.")


@pytest.mark.parametrize("text", ['{"a": [1, 2]}', '"\u00e9"', "[" * 3 + "]" * 3])
def test_needs_walk_is_false_only_when_a_walk_finds_nothing(text):
    assert jsonvalues.needs_walk(text, 3) is False


@pytest.mark.parametrize("text", ['"\\u0000"', '"\\uD800"', '"\\ud83d\\ude00"',
                                  "[" * 4 + "]" * 4])
def test_needs_walk_is_true_where_a_walk_may_find_something(text):
    assert jsonvalues.needs_walk(text, 3) is True
    assert jsonvalues.needs_walk(text.encode(), 3) is True


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "JSON nested deeper than 64 levels."),
    ("[" * 65 + "]" * 65, "JSON nested deeper than 64 levels."),
    ('{"a": ["\\u0000"]}', "a.0: " + jsonvalues.NUL_MESSAGE),
    ("1e400", "1e400 is too large a number"),
    ("NaN", "NaN is not valid JSON"),
])
def test_loads_refuses_with_a_value_error(settings, text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(
            ")", r"\)").replace("\\u", r"\\u")):
        jsonvalues.loads(text)
