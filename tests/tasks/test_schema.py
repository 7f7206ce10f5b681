"""Tests for tasks.schema, which must run without Django settings."""

import pytest

from tasks.schema import PRESETS, SchemaError, build_schema


def schema_errors(preset=None, fields=None, questions=None) -> dict[str, list[str]]:
    with pytest.raises(SchemaError) as caught:
        build_schema(preset, fields, questions)
    return caught.value.errors


def only_error(key: str, **kwargs) -> str:
    errors = schema_errors(**kwargs)
    assert list(errors) == [key], errors
    assert len(errors[key]) == 1, errors
    return errors[key][0]


TEXT = [{"name": "prompt", "type": "text"}]
LIST = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"}]
SIMPLE_Q = [{"name": "response", "kind": "text"}]


# -- fields -------------------------------------------------------------------------------


def test_fields_get_defaults_written_out():
    fields, _ = build_schema(None, [
        {"name": "prompt", "type": "text"},
        {"name": "picture", "type": "media"},
        {"name": "clip", "type": "media", "media_type": "audio", "required": False},
        {"name": "chat", "type": "messages"},
        {"name": "steps", "type": "trace"},
        {"name": "meta", "type": "json", "required": False},
        {"name": "completions", "type": "text_list"},
    ], SIMPLE_Q)
    assert fields == [
        {"name": "prompt", "type": "text", "required": True},
        {"name": "picture", "type": "media", "required": True, "media_type": "image"},
        {"name": "clip", "type": "media", "required": False, "media_type": "audio"},
        {"name": "chat", "type": "messages", "required": True},
        {"name": "steps", "type": "trace", "required": True},
        {"name": "meta", "type": "json", "required": False},
        {"name": "completions", "type": "text_list", "required": True},
    ]


def test_build_schema_does_not_alias_its_input():
    raw = [{"name": "tag", "kind": "label", "options": ["a", "b"]}]
    _, questions = build_schema(None, TEXT, raw)
    questions[0]["options"].append("c")
    assert raw[0]["options"] == ["a", "b"]


@pytest.mark.parametrize("name", ["Prompt", "1st", "_x", "a-b", "", "a" * 65, "prompt\n", 7])
def test_bad_field_names_are_rejected(name):
    message = only_error("fields", fields=[{"name": name, "type": "text"}], questions=SIMPLE_Q)
    assert message.startswith("fields[0].name: ")
    assert "lowercase letters" in message


def test_longest_allowed_name_is_accepted():
    fields, _ = build_schema(None, [{"name": "a" * 64, "type": "text"}], SIMPLE_Q)
    assert fields[0]["name"] == "a" * 64


def test_missing_field_name_says_so():
    message = only_error("fields", fields=[{"type": "text"}], questions=SIMPLE_Q)
    assert message.startswith("fields[0].name: is missing")


def test_duplicate_field_names_point_at_the_first_use():
    message = only_error("fields", fields=TEXT + TEXT, questions=SIMPLE_Q)
    assert message == "fields[1].name: 'prompt' is already used by fields[0]"


def test_unknown_field_type_lists_the_choices():
    message = only_error("fields", fields=[{"name": "prompt", "type": "txt"}], questions=SIMPLE_Q)
    assert message == (
        "fields[0].type: field 'prompt' has type 'txt'; use one of "
        "text, text_list, messages, trace, media, json"
    )


def test_unknown_field_keys_are_rejected():
    message = only_error(
        "fields", fields=[{"name": "prompt", "type": "text", "media_type": "image"}],
        questions=SIMPLE_Q,
    )
    assert message.startswith("fields[0]: unknown key(s) 'media_type'")


def test_bad_media_type_and_required_flag():
    errors = schema_errors(
        fields=[{"name": "pic", "type": "media", "media_type": "pdf", "required": "yes"}],
        questions=SIMPLE_Q,
    )
    assert errors == {"fields": [
        "fields[0].required: must be true or false, got string",
        "fields[0].media_type: field 'pic' has media_type 'pdf'; use one of image, audio, video",
    ]}


@pytest.mark.parametrize(("fields", "message"), [
    ([], "a project needs at least one field"),
    ({"name": "prompt"}, "must be a list of field definitions, got object"),
    (["prompt"], "fields[0]: must be an object, got string"),
])
def test_field_list_shape(fields, message):
    assert only_error("fields", fields=fields, questions=SIMPLE_Q) == message


def test_no_preset_and_no_definitions():
    assert schema_errors() == {
        "fields": ["give the item fields, or choose a preset"],
        "questions": ["give the questions, or choose a preset"],
    }


# -- questions ----------------------------------------------------------------------------


def test_every_kind_normalises_with_defaults():
    fields = [*LIST, {"name": "doc", "type": "text", "required": False}]
    _, questions = build_schema(None, fields, [
        {"name": "topic", "kind": "label", "options": ["a", "b"]},
        {"name": "tags", "kind": "multi_label", "options": ["x", "y"], "required": False},
        {"name": "score", "kind": "rating"},
        {"name": "order", "kind": "ranking", "field": "completions"},
        {"name": "better", "kind": "pairwise"},
        {"name": "note", "kind": "text", "max_length": 200},
        {"name": "entities", "kind": "spans", "field": "doc", "options": ["PER"]},
    ])
    assert questions == [
        {"name": "topic", "kind": "label", "required": True, "options": ["a", "b"]},
        {"name": "tags", "kind": "multi_label", "required": False, "options": ["x", "y"]},
        {"name": "score", "kind": "rating", "required": True, "min": 1, "max": 5,
         "level": "ordinal", "labels": {}},
        {"name": "order", "kind": "ranking", "required": True, "field": "completions"},
        {"name": "better", "kind": "pairwise", "required": True, "field": "completions",
         "strength": False},
        {"name": "note", "kind": "text", "required": True, "min_length": 0, "max_length": 200},
        {"name": "entities", "kind": "spans", "required": True, "field": "doc",
         "options": ["PER"]},
    ]


def test_label_question_needs_two_options():
    message = only_error("questions", fields=TEXT, questions=[
        {"name": "ok", "kind": "text"},
        {"name": "sentiment", "kind": "label", "options": ["positive"]},
    ])
    assert message == (
        "questions[1].options: label question 'sentiment' needs at least two options"
    )


@pytest.mark.parametrize(("options", "message"), [
    (None, "questions[0].options: multi_label question 'tags' needs options"),
    ("a,b", "questions[0].options: must be a list of strings, got string"),
    (["a", " "], "questions[0].options[1]: multi_label question 'tags' has an option that is "
                 "not a non-empty string (string)"),
    (["a", 3], "questions[0].options[1]: multi_label question 'tags' has an option that is "
               "not a non-empty string (integer)"),
    (["a", "b", "a"], "questions[0].options: multi_label question 'tags' repeats 'a'"),
])
def test_option_lists_are_checked(options, message):
    question = {"name": "tags", "kind": "multi_label"}
    if options is not None:
        question["options"] = options
    assert only_error("questions", fields=TEXT, questions=[question]) == message


def test_rating_settings_and_labels():
    _, questions = build_schema(None, TEXT, [{
        "name": "score", "kind": "rating", "min": 0, "max": 10, "level": "interval",
        "labels": {"0": "awful", 10: "perfect"},
    }])
    assert questions[0] == {
        "name": "score", "kind": "rating", "required": True, "min": 0, "max": 10,
        "level": "interval", "labels": {"0": "awful", "10": "perfect"},
    }


@pytest.mark.parametrize(("settings", "message"), [
    ({"min": 5, "max": 5}, "questions[0].max: rating question 'score' needs min < max, "
                           "got min 5 and max 5"),
    ({"min": 1.5}, "questions[0].min: rating question 'score' needs a whole number, got 1.5"),
    ({"max": True}, "questions[0].max: rating question 'score' needs a whole number, got True"),
    ({"level": "ratio"}, "questions[0].level: rating question 'score' has level 'ratio'; "
                         "use one of ordinal, interval"),
    ({"labels": ["bad", "good"]}, "questions[0].labels: must be an object mapping scores to "
                                  "names, got list"),
    ({"labels": {"6": "great"}}, "questions[0].labels: rating question 'score' labels '6', "
                                 "which is not a score between min and max"),
    ({"labels": {"1.5": "meh"}}, "questions[0].labels: rating question 'score' labels '1.5', "
                                 "which is not a score between min and max"),
    ({"labels": {"1": ""}}, "questions[0].labels: rating question 'score' needs a non-empty "
                            "string for score 1"),
])
def test_bad_rating_settings(settings, message):
    question = {"name": "score", "kind": "rating", **settings}
    assert only_error("questions", fields=TEXT, questions=[question]) == message


def test_ranking_must_name_a_text_list_field():
    errors = schema_errors(fields=LIST, questions=[
        {"name": "order", "kind": "ranking"},
        {"name": "order2", "kind": "ranking", "field": "prompt"},
        {"name": "order3", "kind": "ranking", "field": "answers"},
    ])
    assert errors == {"questions": [
        "questions[0].field: ranking question 'order' must name a text_list field, got null",
        "questions[1].field: ranking question 'order2' needs a text_list field, but 'prompt' "
        "is text",
        "questions[2].field: ranking question 'order3' refers to 'answers', which is not a "
        "field of this project",
    ]}


def test_compared_lists_must_be_required():
    fields = [{"name": "completions", "type": "text_list", "required": False}]
    errors = schema_errors(fields=fields, questions=[
        {"name": "order", "kind": "ranking", "field": "completions"},
        {"name": "better", "kind": "pairwise"},
    ])
    assert errors == {"questions": [
        "questions[0].field: ranking question 'order' compares the entries of 'completions', "
        "so that field must be required",
        "questions[1].field: pairwise question 'better' compares the entries of "
        "'completions', so that field must be required",
    ]}


def test_pairwise_defaults_to_the_first_text_list_field():
    fields = [*LIST, {"name": "alternatives", "type": "text_list"}]
    _, questions = build_schema(None, fields, [
        {"name": "better", "kind": "pairwise", "strength": True},
        {"name": "other", "kind": "pairwise", "field": "alternatives"},
    ])
    assert questions[0]["field"] == "completions"
    assert questions[0]["strength"] is True
    assert questions[1]["field"] == "alternatives"


def test_pairwise_without_any_text_list_field():
    message = only_error("questions", fields=TEXT, questions=[{"name": "b", "kind": "pairwise"}])
    assert message == (
        "questions[0].field: pairwise question 'b' compares two entries of a text_list field, "
        "but this project has none"
    )


def test_pairwise_strength_must_be_boolean():
    message = only_error("questions", fields=LIST, questions=[
        {"name": "b", "kind": "pairwise", "strength": 3},
    ])
    assert message == "questions[0].strength: must be true or false, got integer"


@pytest.mark.parametrize(("settings", "message"), [
    ({"min_length": -1}, "questions[0].min_length: must be a whole number of characters >= 0, "
                         "got -1"),
    ({"max_length": "10"}, "questions[0].max_length: must be a whole number of characters >= 0, "
                           "got '10'"),
    ({"min_length": 10, "max_length": 5}, "questions[0].max_length: text question 'note' has "
                                          "min_length 10 above max_length 5"),
])
def test_bad_text_lengths(settings, message):
    question = {"name": "note", "kind": "text", **settings}
    assert only_error("questions", fields=TEXT, questions=[question]) == message


def test_spans_need_a_text_field_and_labels():
    errors = schema_errors(fields=LIST, questions=[
        {"name": "marks", "kind": "spans", "field": "completions", "options": []},
    ])
    assert errors == {"questions": [
        "questions[0].field: spans question 'marks' needs a text field, but 'completions' is "
        "text_list",
        "questions[0].options: spans question 'marks' needs at least one option",
    ]}


def test_unknown_kind_and_keys():
    errors = schema_errors(fields=TEXT, questions=[
        {"name": "a", "kind": "essay"},
        {"name": "b", "kind": "label", "options": ["x", "y"], "choices": ["x"]},
        {"name": "c", "kind": "text", "required": 1},
    ])
    assert errors == {"questions": [
        "questions[0].kind: question 'a' has kind 'essay'; use one of label, multi_label, "
        "rating, ranking, pairwise, text, spans",
        "questions[1]: unknown key(s) 'choices'; allowed keys are kind, name, options, required",
        "questions[2].required: must be true or false, got integer",
    ]}


def test_question_names_are_checked_and_unique():
    errors = schema_errors(fields=TEXT, questions=[
        {"name": "note", "kind": "text"},
        {"name": "note", "kind": "text"},
        {"name": "Note", "kind": "text"},
    ])
    assert errors["questions"][0] == "questions[1].name: 'note' is already used by questions[0]"
    assert errors["questions"][1].startswith("questions[2].name: 'Note' is not valid")


@pytest.mark.parametrize(("questions", "message"), [
    ([], "a project needs at least one question"),
    ("note", "must be a list of question definitions, got string"),
    ([None], "questions[0]: must be an object, got null"),
])
def test_question_list_shape(questions, message):
    assert only_error("questions", fields=TEXT, questions=questions) == message


def test_errors_in_fields_and_questions_are_reported_together():
    errors = schema_errors(
        fields=[{"name": "prompt", "type": "blob"}],
        questions=[{"name": "s", "kind": "spans", "field": "prompt", "options": ["X"]}],
    )
    # The bad field is reported once; the question referring to it raises nothing extra.
    assert errors == {"fields": [
        "fields[0].type: field 'prompt' has type 'blob'; use one of text, text_list, messages, "
        "trace, media, json",
    ]}


def test_schema_error_message_joins_everything():
    with pytest.raises(SchemaError, match="a project needs at least one field; give the"):
        build_schema(None, [], None)


# -- presets ------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [name for name in PRESETS if name != "classification"])
def test_every_preset_builds(preset):
    fields, questions = build_schema(preset, None, None)
    assert fields and questions
    assert all("required" in item for item in fields + questions)


def test_sft_preset():
    assert build_schema("sft", None, None) == (
        [{"name": "prompt", "type": "text", "required": True}],
        [{"name": "response", "kind": "text", "required": True, "min_length": 0,
          "max_length": None}],
    )


def test_preference_preset():
    fields, questions = build_schema("preference", None, None)
    assert [(f["name"], f["type"]) for f in fields] == [
        ("prompt", "text"), ("completions", "text_list"),
    ]
    assert [(q["name"], q["kind"], q["required"]) for q in questions] == [
        ("better", "pairwise", True), ("rewrite", "text", False),
    ]
    assert questions[0]["field"] == "completions"


def test_rubric_preset():
    fields, questions = build_schema("rubric", None, None)
    assert [f["name"] for f in fields] == ["prompt", "response"]
    ratings = [q for q in questions if q["kind"] == "rating"]
    assert [q["name"] for q in ratings] == ["helpfulness", "accuracy", "safety"]
    assert all((q["min"], q["max"]) == (1, 5) for q in ratings)


def test_conversation_review_preset():
    fields, questions = build_schema("conversation_review", None, None)
    assert fields == [{"name": "conversation", "type": "messages", "required": True}]
    by_name = {q["name"]: q for q in questions}
    assert by_name["quality"]["kind"] == "rating"
    assert by_name["verdict"]["options"] == ["acceptable", "needs_fix", "unsafe"]
    assert by_name["critique"]["required"] is False


def test_agent_trace_review_preset():
    fields, questions = build_schema("agent_trace_review", None, None)
    assert [(f["name"], f["type"]) for f in fields] == [("task", "text"), ("trace", "trace")]
    by_name = {q["name"]: q for q in questions}
    assert by_name["outcome"]["options"] == ["success", "partial", "failure"]
    assert by_name["efficiency"]["kind"] == "rating"
    assert by_name["first_error_step"]["required"] is False


def test_classification_preset_needs_questions():
    assert schema_errors("classification") == {"questions": [
        "the 'classification' preset needs your own label question, e.g. "
        '[{"name": "label", "kind": "label", "options": ["positive", "negative"]}]'
    ]}


def test_classification_preset_with_questions():
    fields, questions = build_schema("classification", None, [
        {"name": "label", "kind": "label", "options": ["spam", "ham"]},
    ])
    assert fields == [{"name": "text", "type": "text", "required": True}]
    assert questions[0]["options"] == ["spam", "ham"]


def test_explicit_questions_replace_the_preset_questions():
    _, questions = build_schema("preference", None, [{"name": "order", "kind": "ranking",
                                                      "field": "completions"}])
    assert [q["name"] for q in questions] == ["order"]


def test_explicit_fields_replace_the_preset_fields():
    fields, questions = build_schema("sft", [{"name": "prompt", "type": "messages"}], None)
    assert fields == [{"name": "prompt", "type": "messages", "required": True}]
    assert questions[0]["name"] == "response"


def test_preset_questions_that_no_longer_fit_say_where_they_came_from():
    errors = schema_errors("preference", fields=TEXT)
    assert errors == {"questions": [
        "questions[0].field: pairwise question 'better' refers to 'completions', which is not "
        "a field of this project",
        "these questions come from the 'preference' preset and do not fit the fields given; "
        "pass your own questions to replace them",
    ]}


@pytest.mark.parametrize("preset", ["nope", "", 3])
def test_unknown_preset(preset):
    assert schema_errors(preset) == {"preset": [
        f"unknown preset {preset!r}; choose one of sft, preference, rubric, classification, "
        "conversation_review, agent_trace_review"
    ]}


def test_building_a_preset_leaves_it_untouched():
    fields, questions = build_schema("conversation_review", None, None)
    fields[0]["name"] = "changed"
    questions[1]["options"].append("changed")
    again = build_schema("conversation_review", None, None)
    assert again[0][0]["name"] == "conversation"
    assert "changed" not in again[1][1]["options"]
