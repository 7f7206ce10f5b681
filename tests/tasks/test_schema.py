"""Tests for tasks.schema, which must run without Django settings."""

import csv
import io
import json

import pytest

from tasks.schema import (
    PRESETS,
    ItemValidator,
    SchemaError,
    build_schema,
    model_fields,
    parse_csv_row,
    validate_answer,
)


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
        {"name": "note", "kind": "text", "required": True, "min_length": 0, "max_length": 200,
         "prefill": None},
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


@pytest.mark.parametrize(("overrides", "message"), [
    ({"min": 5, "max": 5}, "questions[0].max: rating question 'score' needs min < max, "
                           "got min 5 and max 5"),
    ({"min": 1.5}, "questions[0].min: rating question 'score' needs a whole number, got 1.5"),
    ({"max": True}, "questions[0].max: rating question 'score' needs a whole number, got True"),
    ({"level": "absolute"}, "questions[0].level: rating question 'score' has level "
                            "'absolute'; use one of ordinal, interval, ratio"),
    ({"level": "ratio", "min": -2}, "questions[0].min: a ratio scale starts at a true zero, "
                                    "so min must not be negative, got -2"),
    ({"labels": ["bad", "good"]}, "questions[0].labels: must be an object mapping scores to "
                                  "names, got list"),
    ({"labels": {"6": "great"}}, "questions[0].labels: rating question 'score' labels '6', "
                                 "which is not a score between min and max"),
    ({"labels": {"1.5": "meh"}}, "questions[0].labels: rating question 'score' labels '1.5', "
                                 "which is not a score between min and max"),
    ({"labels": {"1": ""}}, "questions[0].labels: rating question 'score' needs a non-empty "
                            "string for score 1"),
])
def test_bad_rating_settings(overrides, message):
    question = {"name": "score", "kind": "rating", **overrides}
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


MODELS = [*LIST, {"name": "models", "type": "text_list"}]


@pytest.mark.parametrize("kind", ["ranking", "pairwise"])
def test_a_compared_question_may_name_the_models_of_its_entries(kind):
    _, questions = build_schema(None, MODELS, [
        {"name": "cmp", "kind": kind, "field": "completions", "models": "models"},
    ])
    assert questions[0]["models"] == "models"


def test_a_question_without_models_is_stored_as_before():
    _, questions = build_schema("preference", None, None)
    assert questions[0] == {"name": "better", "kind": "pairwise", "required": True,
                            "field": "completions", "strength": False}


@pytest.mark.parametrize(("models", "message"), [
    (3, "questions[0].models: pairwise question 'b' must name a text_list field holding one "
        "model name per entry of 'completions', got integer"),
    ("who", "questions[0].models: pairwise question 'b' refers to 'who', which is not a field "
            "of this project"),
    ("prompt", "questions[0].models: pairwise question 'b' needs a text_list field, but "
               "'prompt' is text"),
    ("completions", "questions[0].models: pairwise question 'b' compares the entries of "
                    "'completions', so the model names must be in another field"),
])
def test_models_must_name_another_text_list_field(models, message):
    assert only_error("questions", fields=LIST, questions=[
        {"name": "b", "kind": "pairwise", "models": models},
    ]) == message


def test_the_models_field_must_be_required():
    fields = [*LIST, {"name": "models", "type": "text_list", "required": False}]
    assert only_error("questions", fields=fields, questions=[
        {"name": "order", "kind": "ranking", "field": "completions", "models": "models"},
    ]) == ("questions[0].models: ranking question 'order' names the models of its entries in "
           "'models', so that field must be required")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"min_length": -1}, "questions[0].min_length: must be a whole number of characters >= 0, "
                         "got -1"),
    ({"max_length": "10"}, "questions[0].max_length: must be a whole number of characters >= 0, "
                           "got '10'"),
    ({"min_length": 10, "max_length": 5}, "questions[0].max_length: text question 'note' has "
                                          "min_length 10 above max_length 5"),
])
def test_bad_text_lengths(overrides, message):
    question = {"name": "note", "kind": "text", **overrides}
    assert only_error("questions", fields=TEXT, questions=[question]) == message


def test_a_text_answer_may_start_from_a_text_or_text_list_field():
    fields = [*LIST, {"name": "doc", "type": "text", "required": False}]
    _, questions = build_schema(None, fields, [
        {"name": "rewrite", "kind": "text", "prefill": "completions"},
        {"name": "edit", "kind": "text", "prefill": "doc"},
    ])
    assert [question["prefill"] for question in questions] == ["completions", "doc"]


@pytest.mark.parametrize(("prefill", "message"), [
    (3, "questions[0].prefill: text question 'note' must name a text or text_list field, "
        "got integer"),
    ("missing", "questions[0].prefill: text question 'note' refers to 'missing', which is not "
                "a field of this project"),
    ("meta", "questions[0].prefill: text question 'note' needs a text or text_list field, but "
             "'meta' is json"),
])
def test_bad_prefill(prefill, message):
    fields = [*TEXT, {"name": "meta", "type": "json"}]
    question = {"name": "note", "kind": "text", "prefill": prefill}
    assert only_error("questions", fields=fields, questions=[question]) == message


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
          "max_length": None, "prefill": None}],
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


# -- items --------------------------------------------------------------------------------

ALL_FIELDS = [
    {"name": "prompt", "type": "text"},
    {"name": "completions", "type": "text_list"},
    {"name": "chat", "type": "messages"},
    {"name": "steps", "type": "trace"},
    {"name": "picture", "type": "media"},
    {"name": "meta", "type": "json"},
    {"name": "note", "type": "text", "required": False},
]
GOOD_ITEM = {
    "prompt": "Summarise this.",
    "completions": ["one"],
    "chat": [{"role": "system", "content": "Be brief."},
             {"role": "user", "content": "Hi", "name": "ann"}],
    "steps": [
        {"type": "thought", "content": "Look it up."},
        {"type": "tool_call", "content": "", "tool": "search", "arguments": {"q": "x"}},
        {"type": "tool_result", "content": "found", "tool": "search", "took_ms": 12},
        {"type": "answer", "content": "x"},
    ],
    "picture": "https://media.example.com/a.png?size=2",
    "meta": None,
}


ABSENT = object()


def item_validator(fields=ALL_FIELDS, questions=SIMPLE_Q) -> ItemValidator:
    return ItemValidator(*build_schema(None, fields, questions))


def item_errors(**changes) -> list[tuple[str, str]]:
    data = {**GOOD_ITEM, **changes}
    return item_validator().validate({k: v for k, v in data.items() if v is not ABSENT})



def test_a_good_item_passes():
    assert item_validator().validate(GOOD_ITEM) == []
    assert item_validator().validate({**GOOD_ITEM, "note": ""}) == []


def test_missing_required_and_unknown_fields():
    assert item_errors(prompt=ABSENT, extra=1) == [
        ("prompt", "This field is required."),
        ("extra", "Unknown field; this project's fields are prompt, completions, chat, steps, "
                  "picture, meta, note."),
    ]


def test_item_must_be_an_object():
    assert item_validator().validate(["x"]) == [
        ("non_field_errors", "Must be an object of field values, got list."),
    ]


@pytest.mark.parametrize(("value", "message"), [
    (3, "Must be a string, got integer."),
    (None, "Must be a string, got null."),
    ("  ", "This field is required and cannot be blank."),
])
def test_text_field(value, message):
    assert item_errors(prompt=value) == [("prompt", message)]


def test_optional_text_field_must_still_be_a_string():
    assert item_errors(note=["x"]) == [("note", "Must be a string, got list.")]


@pytest.mark.parametrize(("value", "message"), [
    ("one", "Must be a list of strings, got string."),
    ([], "Needs at least 1 entry, got 0."),
    (["a", 2], "Entry [1] must be a string, got integer."),
])
def test_text_list_field(value, message):
    assert item_errors(completions=value) == [("completions", message)]


@pytest.mark.parametrize("kind", ["ranking", "pairwise"])
def test_compared_text_list_needs_two_entries(kind):
    validator = item_validator(LIST, [{"name": "cmp", "kind": kind, "field": "completions"}])
    assert validator.validate({"prompt": "p", "completions": ["a", "b"]}) == []
    assert validator.validate({"prompt": "p", "completions": ["a"]}) == [
        ("completions", "Needs at least 2 entries because question 'cmp' compares them, got 1."),
    ]


def models_validator(kind="pairwise") -> ItemValidator:
    return item_validator(MODELS, [
        {"name": "cmp", "kind": kind, "field": "completions", "models": "models"},
    ])


@pytest.mark.parametrize("kind", ["ranking", "pairwise"])
def test_an_item_names_one_model_per_entry(kind):
    validator = models_validator(kind)
    item = {"prompt": "p", "completions": ["a", "b", "c"], "models": ["m1", "m2", "m1"]}
    assert validator.validate(item) == []
    assert validator.validate({**item, "models": ["m1", "m2"]}) == [
        ("models", "Names 2 models but 'completions' has 3 entries; question 'cmp' needs one "
                   "model per entry, in order."),
    ]


@pytest.mark.parametrize(("models", "message"), [
    ("m1", "Must be a list of model names, got string."),
    (["m1", " "], 'Entry [1] must be a model name (a non-blank string), got " ".'),
    (["m1", None], "Entry [1] must be a model name (a non-blank string), got null."),
])
def test_model_names_are_non_blank_strings(models, message):
    item = {"prompt": "p", "completions": ["a", "b"], "models": models}
    assert models_validator().validate(item) == [("models", message)]


def test_model_counts_are_not_compared_when_a_field_is_already_wrong():
    item = {"prompt": "p", "completions": ["a"], "models": ["m1", "m2"]}
    assert models_validator().validate(item) == [
        ("completions", "Needs at least 2 entries because question 'cmp' compares them, got 1."),
    ]
    assert models_validator().validate({"prompt": "p", "completions": ["a", "b"]}) == [
        ("models", "This field is required."),
    ]


def test_model_fields_are_the_ones_questions_name():
    _, questions = build_schema(None, MODELS, [
        {"name": "cmp", "kind": "pairwise", "models": "models"},
        {"name": "order", "kind": "ranking", "field": "completions"},
    ])
    assert model_fields(questions) == {"models"}
    assert model_fields(build_schema("preference", None, None)[1]) == frozenset()


@pytest.mark.parametrize(("value", "message"), [
    ({"role": "user"}, "Must be a list of chat turns, got object."),
    ([], "Needs at least one chat turn."),
    (["hi"], "Turn [0] must be an object with role and content, got string."),
    ([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}],
     'Turn [1]: role must be one of system, user, assistant, tool; got "bot".'),
    ([{"content": "a"}], "Turn [0]: role must be one of system, user, assistant, tool; "
                         "got null."),
    ([{"role": "assistant", "content": ""}],
     'Turn [0]: content must be a non-empty string, got "".'),
    ([{"role": "assistant", "content": [{"type": "text"}]}],
     'Turn [0]: content must be a non-empty string, got [{"type": "text"}].'),
])
def test_messages_field(value, message):
    assert item_errors(chat=value) == [("chat", message)]


@pytest.mark.parametrize(("value", "message"), [
    ("thought", "Must be a list of agent steps, got string."),
    ([], "Needs at least one step."),
    ([None], "Step [0] must be an object with type and content, got null."),
    ([{"type": "plan", "content": "x"}],
     'Step [0]: type must be one of thought, tool_call, tool_result, observation, answer; '
     'got "plan".'),
    ([{"type": "observation"}], "Step [0]: content must be a string, got null."),
    ([{"type": "tool_call", "content": "", "tool": 7}],
     "Step [0]: tool must be a string, got integer."),
])
def test_trace_field(value, message):
    assert item_errors(steps=value) == [("steps", message)]


@pytest.mark.parametrize("url", ["http://x.org", "HTTPS://x.org/a.mp4", "https://x.org?a=b"])
def test_media_field_accepts_http_urls(url):
    assert item_errors(picture=url) == []


@pytest.mark.parametrize("url", ["https://x.org/a b", "ftp://x.org/a", "https://", "/a.png", 5])
def test_media_field_rejects_anything_else(url):
    assert item_errors(picture=url) == [
        ("picture", f"Must be an http(s) URL, got {json.dumps(url)}."),
    ]


@pytest.mark.parametrize("value", [None, 0, "x", [1, {"a": []}], {"deep": {"er": True}}])
def test_json_field_takes_any_value(value):
    assert item_errors(meta=value) == []


def test_long_values_are_shortened_in_messages():
    assert item_errors(picture="x" * 500) == [
        ("picture", 'Must be an http(s) URL, got "' + "x" * 56 + "...."),
    ]


def test_one_message_per_field():
    errors = item_errors(completions=[1, 2, 3], chat=[{"role": "bot"}] * 3)
    assert [field for field, _ in errors] == ["completions", "chat"]


# -- CSV ----------------------------------------------------------------------------------


TEXT_FIELDS = build_schema(None, TEXT, SIMPLE_Q)[0]


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_cells_become_item_data():
    fields, _ = build_schema(None, ALL_FIELDS, SIMPLE_Q)
    [row] = csv_rows(
        "prompt,completions,chat,steps,picture,meta,note\n"
        'Hi there,"[""a"", ""b""]","[{""role"": ""user"", ""content"": ""x""}]",'
        '"[{""type"": ""answer"", ""content"": ""y""}]",https://e.org/p.png,"{""k"": 1}",\n'
    )
    data, errors = parse_csv_row(fields, row)
    assert errors == []
    assert data == {
        "prompt": "Hi there",
        "completions": ["a", "b"],
        "chat": [{"role": "user", "content": "x"}],
        "steps": [{"type": "answer", "content": "y"}],
        "picture": "https://e.org/p.png",
        "meta": {"k": 1},
    }
    assert ItemValidator(fields, []).validate(data) == []


def test_csv_text_is_taken_verbatim():
    data, errors = parse_csv_row(TEXT_FIELDS, {"prompt": '  ["not json"] '})
    assert (data, errors) == ({"prompt": '  ["not json"] '}, [])



def test_csv_empty_cells_are_absent():
    fields, _ = build_schema(None, ALL_FIELDS, SIMPLE_Q)
    data, errors = parse_csv_row(fields, {"prompt": "", "meta": "", "note": None})
    assert (data, errors) == ({}, [])
    assert ("prompt", "This field is required.") in ItemValidator(fields, []).validate(data)


@pytest.mark.parametrize(("cell", "message"), [
    ("[a, b]", "Is not valid JSON: Expecting value (line 1, column 2)."),
    ("[1, NaN]", "Is not valid JSON: NaN is not valid JSON."),
    ("[" * 100_000, "Is not valid JSON: nested too deeply."),
])
def test_csv_bad_json_is_reported_not_raised(cell, message):
    fields, _ = build_schema(None, LIST, SIMPLE_Q)
    data, errors = parse_csv_row(fields, {"prompt": "p", "completions": cell})
    assert data == {"prompt": "p"}
    assert errors == [("completions", message)]


def test_csv_json_field_needs_json_too():
    fields, _ = build_schema(None, [{"name": "meta", "type": "json"}], SIMPLE_Q)
    assert parse_csv_row(fields, {"meta": '"quoted"'}) == ({"meta": "quoted"}, [])
    assert parse_csv_row(fields, {"meta": "bare"})[1] == [
        ("meta", "Is not valid JSON: Expecting value (line 1, column 1)."),
    ]


def test_csv_unknown_columns_and_surplus_cells():
    [row] = csv_rows("prompt,id\nhello,7,surplus\n")
    data, errors = parse_csv_row(TEXT_FIELDS, row)
    assert data == {"prompt": "hello"}
    assert errors == [
        ("id", "Unknown column; this project's fields are prompt."),
        ("non_field_errors", "The row has more cells than the header."),
    ]


# -- answers ------------------------------------------------------------------------------

ANSWER_FIELDS = [
    {"name": "prompt", "type": "text"},
    {"name": "completions", "type": "text_list"},
    {"name": "doc", "type": "text", "required": False},
]
ANSWER_QUESTIONS = [
    {"name": "topic", "kind": "label", "options": ["news", "sport"]},
    {"name": "tags", "kind": "multi_label", "options": ["x", "y", "z"]},
    {"name": "score", "kind": "rating", "min": 0, "max": 10},
    {"name": "order", "kind": "ranking", "field": "completions"},
    {"name": "better", "kind": "pairwise"},
    {"name": "graded", "kind": "pairwise", "strength": True, "required": False},
    {"name": "note", "kind": "text", "min_length": 3, "max_length": 10},
    {"name": "remark", "kind": "text", "required": False},
    {"name": "entities", "kind": "spans", "field": "doc", "options": ["PER", "ORG"]},
]
SCHEMA_FIELDS, SCHEMA_QUESTIONS = build_schema(None, ANSWER_FIELDS, ANSWER_QUESTIONS)
ITEM = {"prompt": "p", "completions": ["a", "b", "c"], "doc": "Ada met Bob at ACME."}
GOOD_ANSWER = {
    "topic": "news",
    "tags": [],
    "score": 0,
    "order": [2, 0, 1],
    "better": "tie",
    "graded": {"choice": "B", "strength": 3},
    "note": "fine",
    "entities": [{"start": 8, "end": 11, "label": "PER"}, {"start": 0, "end": 3, "label": "PER"},
                 {"start": 15, "end": 19, "label": "ORG"}],
}


def answer_errors(item=ITEM, **changes) -> dict[str, list[str]]:
    answer = {**GOOD_ANSWER, **changes}
    answer = {k: v for k, v in answer.items() if v is not ABSENT}
    return validate_answer(SCHEMA_QUESTIONS, item, answer)


def test_a_good_answer_passes():
    assert answer_errors() == {}
    assert answer_errors(graded=ABSENT, remark=ABSENT, tags=["z", "x"]) == {}


def test_answer_must_be_an_object():
    assert validate_answer(SCHEMA_QUESTIONS, ITEM, "news") == {
        "answer": ["Must be an object mapping question names to answers, got string."],
    }


def test_missing_and_null_required_answers():
    assert answer_errors(topic=ABSENT, score=None, graded=None) == {
        "topic": ["This question is required."],
        "score": ["This question is required."],
    }


def test_unknown_question_in_answer():
    assert answer_errors(mood="happy") == {"mood": [
        "Unknown question; this project's questions are topic, tags, score, order, better, "
        "graded, note, remark, entities."
    ]}


@pytest.mark.parametrize(("value", "message"), [
    ("politics", 'Must be one of news, sport; got "politics".'),
    (["news"], 'Must be one of news, sport; got ["news"].'),
])
def test_label_answer(value, message):
    assert answer_errors(topic=value) == {"topic": [message]}


@pytest.mark.parametrize(("value", "message"), [
    ("x", "Must be a list of options, got string."),
    (["x", "w"], 'Every choice must be one of x, y, z; got "w".'),
    (["x", ["y"]], 'Every choice must be one of x, y, z; got ["y"].'),
    (["x", "x"], "Lists an option more than once."),
])
def test_multi_label_answer(value, message):
    assert answer_errors(tags=value) == {"tags": [message]}


@pytest.mark.parametrize("value", [11, -1, 5.0, True, "5"])
def test_rating_answer(value):
    assert answer_errors(score=value) == {"score": [
        f"Must be a whole number from 0 to 10; got {json.dumps(value)}."
    ]}


@pytest.mark.parametrize("value", [[0, 1], [0, 1, 1], [1, 2, 3], [0, 1, True], [0, 1, "2"], 2])
def test_ranking_answer(value):
    assert answer_errors(order=value) == {"order": [
        "Must list every index of 'completions' once, best first: a reordering of [0, 1, 2]; "
        f"got {json.dumps(value)}."
    ]}


def test_ranking_answer_follows_the_item_length():
    item = {**ITEM, "completions": ["a", "b"]}
    assert answer_errors(item=item, order=[1, 0]) == {}


@pytest.mark.parametrize("value", ["a", "C", "Tie", {"choice": "A", "strength": 1}])
def test_pairwise_answer(value):
    assert answer_errors(better=value) == {"better": [
        f'Must be "A", "B" or "tie"; got {json.dumps(value)}.'
    ]}


@pytest.mark.parametrize("value", [
    "A", {"choice": "A"}, {"choice": "A", "strength": 0}, {"choice": "A", "strength": 4},
    {"choice": "C", "strength": 2}, {"choice": "A", "strength": True},
    {"choice": "A", "strength": 2, "why": "x"},
])
def test_pairwise_answer_with_strength(value):
    assert answer_errors(graded=value) == {"graded": [
        'Must be {"choice": "A", "B" or "tie", "strength": 1, 2 or 3}; '
        f"got {json.dumps(value)}."
    ]}


def test_pairwise_tie_with_strength_is_accepted():
    assert answer_errors(graded={"choice": "tie", "strength": 1}) == {}


@pytest.mark.parametrize(("changes", "errors"), [
    ({"note": 5}, {"note": ["Must be a string, got integer."]}),
    ({"note": "   "}, {"note": ["This question is required."]}),
    ({"note": "ab"}, {"note": ["Needs at least 3 characters, got 2."]}),
    ({"note": "x" * 11}, {"note": ["Allows at most 10 characters, got 11."]}),
    ({"remark": ""}, {}),
    ({"remark": "  "}, {}),
    ({"remark": ["x"]}, {"remark": ["Must be a string, got list."]}),
])
def test_text_answer(changes, errors):
    assert answer_errors(**changes) == errors


def span(start, end, label="PER") -> dict:
    return {"start": start, "end": end, "label": label}


@pytest.mark.parametrize(("value", "message"), [
    ({"start": 0}, "Must be a list of spans, got object."),
    (["x"], 'Span [0] must be {"start", "end", "label"}; got "x".'),
    ([{"start": 0, "end": 3}], 'Span [0] must be {"start", "end", "label"}; '
                               'got {"start": 0, "end": 3}.'),
    ([{**span(0, 3), "text": "Ada"}], 'Span [0] must be {"start", "end", "label"}; '
                                      'got {"start": 0, "end": 3, "label": "PER", "text": "Ada"}.'),
    ([span(0, 3), span(3, 3)], "Span [1] must have whole numbers 0 <= start < end <= 20 "
                               "(the length of 'doc'); got start 3, end 3."),
    ([span(-1, 3)], "Span [0] must have whole numbers 0 <= start < end <= 20 "
                    "(the length of 'doc'); got start -1, end 3."),
    ([span(15, 21)], "Span [0] must have whole numbers 0 <= start < end <= 20 "
                     "(the length of 'doc'); got start 15, end 21."),
    ([span(0, 3.0)], "Span [0] must have whole numbers 0 <= start < end <= 20 "
                     "(the length of 'doc'); got start 0, end 3.0."),
    ([span(0, 3, "LOC")], 'Span [0]: label must be one of PER, ORG; got "LOC".'),
    ([span(8, 11), span(0, 3), span(2, 5)], "Spans [1] and [2] overlap; spans must not overlap."),
    ([span(0, 10), span(2, 3)], "Spans [0] and [1] overlap; spans must not overlap."),
    ([span(4, 6), span(4, 6, "ORG")], "Spans [0] and [1] overlap; spans must not overlap."),
])
def test_spans_answer(value, message):
    assert answer_errors(entities=value) == {"entities": [message]}


def test_touching_spans_and_no_spans_are_fine():
    assert answer_errors(entities=[span(3, 8), span(0, 3)]) == {}
    assert answer_errors(entities=[]) == {}


def test_spans_count_characters_not_bytes():
    item = {**ITEM, "doc": "Zoë 🙂 Ada"}
    assert answer_errors(item=item, entities=[span(6, 9)]) == {}


def test_spans_on_an_item_without_the_text():
    item = {k: v for k, v in ITEM.items() if k != "doc"}
    assert answer_errors(item=item, entities=[]) == {}
    assert answer_errors(item=item, entities=[span(0, 1)]) == {"entities": [
        "Span [0] must have whole numbers 0 <= start < end <= 0 (the length of 'doc'); "
        "got start 0, end 1."
    ]}


def test_preset_answers():
    fields, questions = build_schema("conversation_review", None, None)
    item = {"conversation": [{"role": "user", "content": "hi"}]}
    assert ItemValidator(fields, questions).validate(item) == []
    assert validate_answer(questions, item, {"quality": 4, "verdict": "needs_fix"}) == {}
    assert validate_answer(questions, item, {"quality": 6, "verdict": "ok", "critique": 1}) == {
        "quality": ["Must be a whole number from 1 to 5; got 6."],
        "verdict": ['Must be one of acceptable, needs_fix, unsafe; got "ok".'],
        "critique": ["Must be a string, got integer."],
    }


# -- gold ---------------------------------------------------------------------------------


def gold_errors(gold) -> list[tuple[str, str]]:
    return ItemValidator(SCHEMA_FIELDS, SCHEMA_QUESTIONS).validate_gold(ITEM, gold)


def test_gold_may_cover_some_questions():
    assert gold_errors({"topic": "sport", "order": [0, 1, 2]}) == []
    assert gold_errors({}) == []
    assert gold_errors({k: v for k, v in GOOD_ANSWER.items() if k != "note"}) == []


def test_gold_values_are_checked_as_answers():
    assert gold_errors({"better": "C", "entities": [span(0, 99)]}) == [
        ("better", 'Must be "A", "B" or "tie"; got "C".'),
        ("entities", "Span [0] must have whole numbers 0 <= start < end <= 20 "
                     "(the length of 'doc'); got start 0, end 99."),
    ]


def test_gold_rejects_text_unknown_and_null():
    assert gold_errors({"note": "fine", "mood": "x", "topic": None}) == [
        ("note", "Text questions cannot have a gold answer."),
        ("mood", "Unknown question; gold answers must name a question of this project: "
                 "topic, tags, score, order, better, graded, note, remark, entities."),
        ("topic", "A gold answer cannot be null; leave the question out."),
    ]


def test_gold_must_be_an_object():
    assert gold_errors(["news"]) == [
        ("non_field_errors", "Must be an object mapping questions to answers, got list."),
    ]
