"""Project schemas: the fields every item carries and the questions an expert answers.

This module is deliberately free of Django so that ingestion workers, benchmarks and plain
pytest can use it, and so the per-row hot path stays ordinary Python closures compiled once
per project. Schema problems are collected, not raised one at a time, so a customer can fix
a project definition in a single round trip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SCORE_RE = re.compile(r"-?[0-9]+")

FIELD_TYPES = ("text", "text_list", "messages", "trace", "media", "json")
MEDIA_TYPES = ("image", "audio", "video")
QUESTION_KINDS = ("label", "multi_label", "rating", "ranking", "pairwise", "text", "spans")
RATING_LEVELS = ("ordinal", "interval", "ratio")

_FIELD_KEYS = frozenset({"name", "type", "required"})
_FIELD_EXTRA_KEYS: dict[str, frozenset[str]] = {"media": frozenset({"media_type"})}
_QUESTION_KEYS = frozenset({"name", "kind", "required"})
_QUESTION_EXTRA_KEYS: dict[str, frozenset[str]] = {
    "label": frozenset({"options"}),
    "multi_label": frozenset({"options"}),
    "rating": frozenset({"min", "max", "level", "labels"}),
    "ranking": frozenset({"field", "models"}),
    "pairwise": frozenset({"field", "strength", "models"}),
    "text": frozenset({"min_length", "max_length", "prefill"}),
    "spans": frozenset({"field", "options"}),
}

PRESETS: dict[str, dict[str, list[dict[str, Any]] | None]] = {
    "sft": {
        "fields": [{"name": "prompt", "type": "text"}],
        "questions": [{"name": "response", "kind": "text"}],
    },
    "preference": {
        "fields": [
            {"name": "prompt", "type": "text"},
            {"name": "completions", "type": "text_list"},
        ],
        "questions": [
            {"name": "better", "kind": "pairwise", "field": "completions"},
            {"name": "rewrite", "kind": "text", "required": False},
        ],
    },
    "rubric": {
        "fields": [
            {"name": "prompt", "type": "text"},
            {"name": "response", "type": "text"},
        ],
        "questions": [
            {"name": "helpfulness", "kind": "rating", "min": 1, "max": 5},
            {"name": "accuracy", "kind": "rating", "min": 1, "max": 5},
            {"name": "safety", "kind": "rating", "min": 1, "max": 5},
            {"name": "justification", "kind": "text", "required": False},
        ],
    },
    # Label options are the customer's own business, so this preset brings no questions.
    "classification": {
        "fields": [{"name": "text", "type": "text"}],
        "questions": None,
    },
    "conversation_review": {
        "fields": [{"name": "conversation", "type": "messages"}],
        "questions": [
            {"name": "quality", "kind": "rating", "min": 1, "max": 5},
            {
                "name": "verdict",
                "kind": "label",
                "options": ["acceptable", "needs_fix", "unsafe"],
            },
            {"name": "critique", "kind": "text", "required": False},
        ],
    },
    "agent_trace_review": {
        "fields": [
            {"name": "task", "type": "text"},
            {"name": "trace", "type": "trace"},
        ],
        "questions": [
            {"name": "outcome", "kind": "label", "options": ["success", "partial", "failure"]},
            {"name": "efficiency", "kind": "rating", "min": 1, "max": 5},
            {"name": "first_error_step", "kind": "text", "required": False},
        ],
    },
}


class SchemaError(Exception):
    """A project definition is unusable; `errors` is shaped like a DRF ValidationError detail
    so API views can return it unchanged."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


def _type_name(value: Any) -> str:
    """Name types the way a JSON author thinks of them, not as Python does."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    """Quote an offending value briefly, in JSON spelling, so a message stays one line."""
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _is_int(value: Any) -> bool:
    """JSON true/false arrive as Python bools, which must not pass for integers."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(entry: dict, allowed: frozenset[str], where: str, errors: list[str]) -> None:
    unknown = sorted(repr(key) for key in entry if key not in allowed)
    if unknown:
        errors.append(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys are "
            f"{', '.join(sorted(allowed))}"
        )


def _check_name(entry: dict, where: str, what: str, seen: dict[str, int], errors: list[str]) -> str:
    """Return the entry's name if usable, else an empty string so callers can keep going."""
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        shown = "is missing" if name is None else f"{name!r} is not valid"
        errors.append(
            f"{where}.name: {shown}; a {what} name uses lowercase letters, digits and "
            "underscores, starts with a letter and has at most 64 characters"
        )
        return ""
    if name in seen:
        errors.append(f"{where}.name: {name!r} is already used by {what}s[{seen[name]}]")
        return ""
    return name


def _check_required_flag(entry: dict, where: str, errors: list[str]) -> bool:
    required = entry.get("required", True)
    if not isinstance(required, bool):
        errors.append(f"{where}.required: must be true or false, got {_type_name(required)}")
        return True
    return required


def _normalise_fields(raw: Any, errors: list[str]) -> tuple[list[dict], dict[str, str | None]]:
    """Return the usable fields plus every well-named field's type (None when the type is bad),
    so question checks neither miss a reference nor repeat a field's own error."""
    if not isinstance(raw, list):
        errors.append(f"must be a list of field definitions, got {_type_name(raw)}")
        return [], {}
    if not raw:
        errors.append("a project needs at least one field")
        return [], {}
    fields: list[dict] = []
    types: dict[str, str | None] = {}
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"fields[{index}]"
        if not isinstance(entry, dict):
            errors.append(f"{where}: must be an object, got {_type_name(entry)}")
            continue
        before = len(errors)
        name = _check_name(entry, where, "field", seen, errors)
        if name:
            seen[name] = index
            types[name] = None
        who = f"field {name!r}" if name else "this field"
        field_type = entry.get("type")
        if field_type not in FIELD_TYPES:
            errors.append(
                f"{where}.type: {who} has type {field_type!r}; use one of {', '.join(FIELD_TYPES)}"
            )
            continue
        _check_keys(entry, _FIELD_KEYS | _FIELD_EXTRA_KEYS.get(field_type, frozenset()), where,
                    errors)
        field = {"name": name, "type": field_type,
                 "required": _check_required_flag(entry, where, errors)}
        if field_type == "media":
            media_type = entry.get("media_type", "image")
            if media_type not in MEDIA_TYPES:
                errors.append(
                    f"{where}.media_type: {who} has media_type {media_type!r}; use one of "
                    f"{', '.join(MEDIA_TYPES)}"
                )
            field["media_type"] = media_type
        if len(errors) == before:
            fields.append(field)
            types[name] = field_type
    return fields, types


def _check_options(entry: dict, where: str, who: str, minimum: int, errors: list[str]) -> list:
    options = entry.get("options")
    if options is None:
        errors.append(f"{where}.options: {who} needs options")
        return []
    if not isinstance(options, list):
        errors.append(f"{where}.options: must be a list of strings, got {_type_name(options)}")
        return []
    for index, option in enumerate(options):
        if not isinstance(option, str) or not option.strip():
            errors.append(f"{where}.options[{index}]: {who} has an option that is not a "
                          f"non-empty string ({_type_name(option)})")
            return []
    duplicates = sorted({option for option in options if options.count(option) > 1})
    if duplicates:
        errors.append(f"{where}.options: {who} repeats {', '.join(map(repr, duplicates))}")
    if len(options) < minimum:
        count = "two options" if minimum == 2 else "one option"
        errors.append(f"{where}.options: {who} needs at least {count}")
    return list(options)


def _check_field_ref(
    field: Any, wanted: str, where: str, who: str, types: dict[str, str | None],
    errors: list[str],
) -> None:
    if not isinstance(field, str):
        errors.append(f"{where}.field: {who} must name a {wanted} field, got {_type_name(field)}")
    elif field not in types:
        errors.append(f"{where}.field: {who} refers to {field!r}, which is not a field of "
                      "this project")
    elif types[field] is not None and types[field] != wanted:
        errors.append(f"{where}.field: {who} needs a {wanted} field, but {field!r} is "
                      f"{types[field]}")


def _check_comparable(
    field: str, where: str, who: str, fields: list[dict], errors: list[str],
) -> None:
    """Ranking and pairwise answers index into the list, so every item must carry it."""
    for definition in fields:
        if definition["name"] == field and not definition["required"]:
            errors.append(f"{where}.field: {who} compares the entries of {field!r}, so that "
                          "field must be required")


def _check_models(
    models: Any, field: Any, where: str, who: str, fields: list[dict],
    types: dict[str, str | None], errors: list[str],
) -> None:
    """`models` names the text_list field that says which model wrote each compared entry,
    in the same order, so answers can rank models across items. Every item must carry it,
    or the leaderboard would rest on whichever items happened to name their models."""
    if not isinstance(models, str):
        errors.append(f"{where}.models: {who} must name a text_list field holding one model "
                      f"name per entry of {field!r}, got {_type_name(models)}")
    elif models not in types:
        errors.append(f"{where}.models: {who} refers to {models!r}, which is not a field of "
                      "this project")
    elif types[models] is not None and types[models] != "text_list":
        errors.append(f"{where}.models: {who} needs a text_list field, but {models!r} is "
                      f"{types[models]}")
    elif models == field:
        errors.append(f"{where}.models: {who} compares the entries of {field!r}, so the "
                      "model names must be in another field")
    elif any(f["name"] == models and not f["required"] for f in fields):
        errors.append(f"{where}.models: {who} names the models of its entries in "
                      f"{models!r}, so that field must be required")


def _compared_settings(
    kind: str, entry: dict, where: str, who: str, fields: list[dict],
    types: dict[str, str | None], errors: list[str],
) -> dict[str, Any]:
    """Settings shared by ranking and pairwise questions. `models` is written out only when
    given: a stored question without it, from before models could be named, reads the same
    as one that names none."""
    field = entry.get("field")
    if field is None and kind == "pairwise":
        field = next((f["name"] for f in fields if f["type"] == "text_list"), None)
        if field is None:
            errors.append(f"{where}.field: {who} compares two entries of a text_list "
                          "field, but this project has none")
            return {}
    _check_field_ref(field, "text_list", where, who, types, errors)
    _check_comparable(field, where, who, fields, errors)
    settings: dict[str, Any] = {"field": field}
    if kind == "pairwise":
        strength = entry.get("strength", False)
        if not isinstance(strength, bool):
            errors.append(f"{where}.strength: must be true or false, got {_type_name(strength)}")
        settings["strength"] = strength
    if "models" in entry:
        _check_models(entry["models"], field, where, who, fields, types, errors)
        settings["models"] = entry["models"]
    return settings


def _check_length_bound(entry: dict, key: str, where: str, errors: list[str]) -> int | None:
    value = entry.get(key)
    if value is not None and (not _is_int(value) or value < 0):
        errors.append(f"{where}.{key}: must be a whole number of characters >= 0, "
                      f"got {value!r}")
        return None
    return value


def _check_prefill(
    prefill: Any, where: str, who: str, types: dict[str, str | None], errors: list[str],
) -> None:
    """A text answer may start from an item's text (a rewrite from the completion it
    improves): `prefill` names a text field, or a text_list field whose first entry is used."""
    if not isinstance(prefill, str):
        errors.append(f"{where}.prefill: {who} must name a text or text_list field, "
                      f"got {_type_name(prefill)}")
    elif prefill not in types:
        errors.append(f"{where}.prefill: {who} refers to {prefill!r}, which is not a field of "
                      "this project")
    elif types[prefill] is not None and types[prefill] not in ("text", "text_list"):
        errors.append(f"{where}.prefill: {who} needs a text or text_list field, but "
                      f"{prefill!r} is {types[prefill]}")


def _question_settings(
    kind: str, entry: dict, where: str, who: str, fields: list[dict],
    types: dict[str, str | None], errors: list[str],
) -> dict[str, Any]:
    if kind in ("label", "multi_label"):
        return {"options": _check_options(entry, where, who, 2, errors)}
    if kind == "rating":
        return _rating_settings(entry, where, who, errors)
    if kind in ("ranking", "pairwise"):
        return _compared_settings(kind, entry, where, who, fields, types, errors)
    if kind == "text":
        min_length = _check_length_bound(entry, "min_length", where, errors) or 0
        max_length = _check_length_bound(entry, "max_length", where, errors)
        if max_length is not None and min_length > max_length:
            errors.append(f"{where}.max_length: {who} has min_length {min_length} above "
                          f"max_length {max_length}")
        prefill = entry.get("prefill")
        if prefill is not None:
            _check_prefill(prefill, where, who, types, errors)
        return {"min_length": min_length, "max_length": max_length, "prefill": prefill}
    # Only "spans" is left: the caller has already rejected unknown kinds.
    field = entry.get("field")
    _check_field_ref(field, "text", where, who, types, errors)
    return {"field": field, "options": _check_options(entry, where, who, 1, errors)}


def _rating_settings(entry: dict, where: str, who: str, errors: list[str]) -> dict[str, Any]:
    low, high = entry.get("min", 1), entry.get("max", 5)
    for key, value in (("min", low), ("max", high)):
        if not _is_int(value):
            errors.append(f"{where}.{key}: {who} needs a whole number, got {value!r}")
    bounds_ok = _is_int(low) and _is_int(high)
    if bounds_ok and low >= high:
        errors.append(f"{where}.max: {who} needs min < max, got min {low} and max {high}")
    level = entry.get("level", "ordinal")
    if level not in RATING_LEVELS:
        errors.append(f"{where}.level: {who} has level {level!r}; use one of "
                      f"{', '.join(RATING_LEVELS)}")
    elif level == "ratio" and _is_int(low) and low < 0:
        errors.append(f"{where}.min: a ratio scale starts at a true zero, so min must not "
                      f"be negative, got {low}")
    raw_labels = entry.get("labels", {})
    labels: dict[str, str] = {}
    if not isinstance(raw_labels, dict):
        errors.append(f"{where}.labels: must be an object mapping scores to names, "
                      f"got {_type_name(raw_labels)}")
        raw_labels = {}
    for key, text in raw_labels.items():
        if _is_int(key):
            score = key
        elif isinstance(key, str) and _SCORE_RE.fullmatch(key):
            score = int(key)
        else:
            score = None
        if score is None or (bounds_ok and not low <= score <= high):
            errors.append(f"{where}.labels: {who} labels {key!r}, which is not a score "
                          f"between min and max")
        elif not isinstance(text, str) or not text.strip():
            errors.append(f"{where}.labels: {who} needs a non-empty string for score {score}")
        else:
            labels[str(score)] = text
    return {"min": low, "max": high, "level": level, "labels": labels}


def _normalise_questions(
    raw: Any, fields: list[dict], types: dict[str, str | None], errors: list[str],
) -> list[dict]:
    if not isinstance(raw, list):
        errors.append(f"must be a list of question definitions, got {_type_name(raw)}")
        return []
    if not raw:
        errors.append("a project needs at least one question")
        return []
    questions: list[dict] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"questions[{index}]"
        if not isinstance(entry, dict):
            errors.append(f"{where}: must be an object, got {_type_name(entry)}")
            continue
        name = _check_name(entry, where, "question", seen, errors)
        if name:
            seen[name] = index
        kind = entry.get("kind")
        if kind not in QUESTION_KINDS:
            errors.append(f"{where}.kind: {'question ' + repr(name) if name else 'this question'}"
                          f" has kind {kind!r}; use one of {', '.join(QUESTION_KINDS)}")
            continue
        who = f"{kind} question {name!r}" if name else f"this {kind} question"
        _check_keys(entry, _QUESTION_KEYS | _QUESTION_EXTRA_KEYS[kind], where, errors)
        question = {"name": name, "kind": kind,
                    "required": _check_required_flag(entry, where, errors)}
        question.update(_question_settings(kind, entry, where, who, fields, types, errors))
        questions.append(question)
    return questions


def build_schema(
    preset: str | None, fields: list | None, questions: list | None,
) -> tuple[list[dict], list[dict]]:
    """Turn a preset and/or explicit definitions into normalised fields and questions.

    Explicit `fields` or `questions` replace the preset's list wholesale rather than merging,
    because a half-merged list is hard for a customer to predict. Every returned definition
    has its defaults written out, so stored projects never depend on today's defaults.
    """
    definition: dict[str, list[dict[str, Any]] | None] = {"fields": None, "questions": None}
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise SchemaError({"preset": [
                f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}"
            ]})
        definition = PRESETS[preset]
    questions_from_preset = questions is None and preset is not None
    fields = definition["fields"] if fields is None else fields
    questions = definition["questions"] if questions is None else questions

    errors: dict[str, list[str]] = {}
    if fields is None:
        errors["fields"] = ["give the item fields, or choose a preset"]
        normalised_fields, types = [], {}
    else:
        field_errors: list[str] = []
        normalised_fields, types = _normalise_fields(fields, field_errors)
        if field_errors:
            errors["fields"] = field_errors
    if questions is None:
        if preset == "classification":
            errors["questions"] = [
                "the 'classification' preset needs your own label question, e.g. "
                '[{"name": "label", "kind": "label", "options": ["positive", "negative"]}]'
            ]
        else:
            errors["questions"] = ["give the questions, or choose a preset"]
        normalised_questions: list[dict] = []
    else:
        question_errors: list[str] = []
        normalised_questions = _normalise_questions(
            questions, normalised_fields, types, question_errors
        )
        if question_errors:
            if questions_from_preset:
                question_errors.append(
                    f"these questions come from the {preset!r} preset and do not fit the "
                    "fields given; pass your own questions to replace them"
                )
            errors["questions"] = question_errors
    if errors:
        raise SchemaError(errors)
    return normalised_fields, normalised_questions


# -- items --------------------------------------------------------------------------------
# Checkers return None when a value is fine, else one message: ingesting 100k rows must stay
# cheap, and the first problem in a field is enough for a customer to find the bad cell.

FieldCheck = Callable[[Any], str | None]

MESSAGE_ROLES = ("system", "user", "assistant", "tool")
TRACE_STEP_TYPES = ("thought", "tool_call", "tool_result", "observation", "answer")
FIELD_REQUIRED = "This field is required."
_URL_RE = re.compile(r"https?://[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)


def _expected(what: str, value: Any) -> str:
    return f"Must be {what}, got {_type_name(value)}."


def _text_check(required: bool) -> FieldCheck:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return _expected("a string", value)
        if required and (not value or value.isspace()):
            return "This field is required and cannot be blank."
        return None

    return check


def _text_list_check(minimum: int, reason: str) -> FieldCheck:
    def check(value: Any) -> str | None:
        if not isinstance(value, list):
            return _expected("a list of strings", value)
        if len(value) < minimum:
            return f"Needs at least {minimum} {reason}, got {len(value)}."
        for index, entry in enumerate(value):
            if not isinstance(entry, str):
                return f"Entry [{index}] must be a string, got {_type_name(entry)}."
        return None

    return check


def _models_check(value: Any) -> str | None:
    """Model names are what the leaderboard groups by, so a blank one would be a model."""
    if not isinstance(value, list):
        return _expected("a list of model names", value)
    for index, entry in enumerate(value):
        if not isinstance(entry, str) or not entry.strip():
            return (f"Entry [{index}] must be a model name (a non-blank string), "
                    f"got {_show(entry)}.")
    return None


def model_fields(questions: list[dict]) -> frozenset[str]:
    """The fields that say which model wrote each compared entry. An expert must not see
    them: knowing which model wrote a completion biases the comparison it is asked for."""
    return frozenset(q["models"] for q in questions if q.get("models"))


def _messages_check(value: Any) -> str | None:
    if not isinstance(value, list):
        return _expected("a list of chat turns", value)
    if not value:
        return "Needs at least one chat turn."
    for index, turn in enumerate(value):
        if not isinstance(turn, dict):
            return (
                f"Turn [{index}] must be an object with role and content, "
                f"got {_type_name(turn)}."
            )
        role = turn.get("role")
        if role not in MESSAGE_ROLES:
            return (
                f"Turn [{index}]: role must be one of {', '.join(MESSAGE_ROLES)}; "
                f"got {_show(role)}."
            )
        content = turn.get("content")
        if not isinstance(content, str) or not content:
            return (
                f"Turn [{index}]: content must be a non-empty string, "
                f"got {_show(content)}."
            )
    return None


def _trace_check(value: Any) -> str | None:
    if not isinstance(value, list):
        return _expected("a list of agent steps", value)
    if not value:
        return "Needs at least one step."
    for index, step in enumerate(value):
        if not isinstance(step, dict):
            return (
                f"Step [{index}] must be an object with type and content, "
                f"got {_type_name(step)}."
            )
        if step.get("type") not in TRACE_STEP_TYPES:
            return (
                f"Step [{index}]: type must be one of {', '.join(TRACE_STEP_TYPES)}; "
                f"got {_show(step.get('type'))}."
            )
        if not isinstance(step.get("content"), str):
            return (
                f"Step [{index}]: content must be a string, "
                f"got {_type_name(step.get('content'))}."
            )
        if "tool" in step and not isinstance(step["tool"], str):
            return f"Step [{index}]: tool must be a string, got {_type_name(step['tool'])}."
    return None


def _media_check(value: Any) -> str | None:
    if isinstance(value, str) and _URL_RE.fullmatch(value):
        return None
    return f"Must be an http(s) URL, got {_show(value)}."


def _json_check(value: Any) -> None:
    """A json field holds any JSON value; parsing already guaranteed that much."""
    return None


_FIELD_CHECKS: dict[str, FieldCheck] = {
    "messages": _messages_check,
    "trace": _trace_check,
    "media": _media_check,
    "json": _json_check,
}


class ItemValidator:
    """Checks item data against one project's normalised fields and questions.

    Build it once per project and reuse it for every row: the per-field checks are closures
    compiled here so validating a row is a single pass over the fields.
    """

    def __init__(self, fields: list[dict], questions: list[dict]) -> None:
        compared: dict[str, str] = {}
        named: dict[tuple[str, str], str] = {}
        for question in questions:
            if question["kind"] in ("ranking", "pairwise"):
                compared.setdefault(question["field"], question["name"])
                if question.get("models"):
                    named.setdefault((question["models"], question["field"]), question["name"])
        models = {name for name, _ in named}
        checks: list[tuple[str, bool, FieldCheck]] = []
        for field in fields:
            name, field_type, required = field["name"], field["type"], field["required"]
            if field_type == "text":
                check = _text_check(required)
            elif field_type == "text_list":
                if name in models:
                    check = _models_check
                elif name in compared:
                    check = _text_list_check(
                        2, f"entries because question {compared[name]!r} compares them"
                    )
                else:
                    check = _text_list_check(1, "entry")
            else:
                check = _FIELD_CHECKS[field_type]
            checks.append((name, required, check))
        self._checks = checks
        self._field_names = frozenset(name for name, _, _ in checks)
        self._unknown_field = (
            f"Unknown field; this project's fields are {', '.join(n for n, _, _ in checks)}."
        )
        self._answer_checks = _answer_checks(questions)
        self._text_questions = frozenset(q["name"] for q in questions if q["kind"] == "text")
        self._named = list(named.items())

    def validate(self, data: Any) -> list[tuple[str, str]]:
        """Return (field, message) pairs, at most one per field; empty when the item is fine."""
        if not isinstance(data, dict):
            return [("non_field_errors", _expected("an object of field values", data))]
        errors: list[tuple[str, str]] = []
        present = 0
        for name, required, check in self._checks:
            if name in data:
                present += 1
                message = check(data[name])
                if message is not None:
                    errors.append((name, message))
            elif required:
                errors.append((name, FIELD_REQUIRED))
        if present != len(data):
            errors.extend(
                (str(key), self._unknown_field) for key in data if key not in self._field_names
            )
        if self._named:
            errors.extend(self._model_count_errors(data, errors))
        return errors

    def _model_count_errors(self, data: dict, errors: list[tuple[str, str]]) -> list:
        """One model per compared entry, checked once both fields are otherwise fine."""
        failed = {field for field, _ in errors}
        found = []
        for (models, field), question in self._named:
            if models in failed or field in failed or models not in data or field not in data:
                continue
            if len(data[models]) != len(data[field]):
                found.append((models, (
                    f"Names {len(data[models])} model{'' if len(data[models]) == 1 else 's'} "
                    f"but {field!r} has {len(data[field])} "
                    f"entries; question {question!r} needs one model per entry, in order.")))
                failed.add(models)
        return found

    def validate_gold(self, data: dict, gold: Any) -> list[tuple[str, str]]:
        """Return (question, message) pairs for a gold answer to an already valid item.

        Gold may cover only some questions, but never free text: there is no single right
        wording to score an expert against.
        """
        if not isinstance(gold, dict):
            return [("non_field_errors", _expected("an object mapping questions to answers", gold))]
        errors: list[tuple[str, str]] = []
        for key, value in gold.items():
            check = self._answer_checks.get(key)
            if check is None:
                errors.append((str(key), "Unknown question; gold answers must name a question "
                                         f"of this project: {', '.join(self._answer_checks)}."))
            elif key in self._text_questions:
                errors.append((key, "Text questions cannot have a gold answer."))
            elif value is None:
                errors.append((key, "A gold answer cannot be null; leave the question out."))
            else:
                message = check(value, data)
                if message is not None:
                    errors.append((key, message))
        return errors


_RAW_CELL_TYPES = frozenset({"text", "media"})


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_csv_row(
    fields: list[dict], row: dict[str, str],
) -> tuple[dict, list[tuple[str, str]]]:
    """Turn one csv.DictReader row into item data plus (column, message) parse errors.

    Structured fields are JSON in their cell. An empty cell means "absent", so a missing
    required field is left for ItemValidator.validate to report; run it on the data only
    when this returns no errors, or a field whose cell failed to parse is reported twice.
    Columns that are not fields are errors: drop columns you handle yourself (ids, gold)
    from the row before calling this. csv.DictReader's None key (surplus cells) and None
    values (short rows) are understood.
    """
    data: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    matched = 0
    for field in fields:
        name = field["name"]
        if name not in row:
            continue
        matched += 1
        cell = row[name]
        if cell is None or cell == "":
            continue
        if field["type"] in _RAW_CELL_TYPES:
            data[name] = cell
            continue
        try:
            data[name] = json.loads(cell, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            errors.append((name, f"Is not valid JSON: {exc.msg} (line {exc.lineno}, "
                                 f"column {exc.colno})."))
        except ValueError as exc:
            errors.append((name, f"Is not valid JSON: {exc}."))
        except RecursionError:
            errors.append((name, "Is not valid JSON: nested too deeply."))
    if matched != len(row):
        names = {field["name"] for field in fields}
        for key in row:
            if key is None:
                errors.append(("non_field_errors", "The row has more cells than the header."))
            elif key not in names:
                errors.append((key, "Unknown column; this project's fields are "
                                    f"{', '.join(field['name'] for field in fields)}."))
    return data, errors


# -- answers ------------------------------------------------------------------------------
# Answer checks also see the item, because ranking and spans answers are bounded by it.

AnswerCheck = Callable[[Any, dict], str | None]

QUESTION_REQUIRED = "This question is required."
PAIRWISE_CHOICES = ("A", "B", "tie")
_SPAN_KEYS = frozenset({"start", "end", "label"})


def _label_answer(options: list[str]) -> AnswerCheck:
    allowed = frozenset(options)
    listing = ", ".join(options)

    def check(value: Any, item: dict) -> str | None:
        if isinstance(value, str) and value in allowed:
            return None
        return f"Must be one of {listing}; got {_show(value)}."

    return check


def _multi_label_answer(options: list[str]) -> AnswerCheck:
    allowed = frozenset(options)
    listing = ", ".join(options)

    def check(value: Any, item: dict) -> str | None:
        if not isinstance(value, list):
            return _expected("a list of options", value)
        for choice in value:
            if not isinstance(choice, str) or choice not in allowed:
                return f"Every choice must be one of {listing}; got {_show(choice)}."
        if len(set(value)) != len(value):
            return "Lists an option more than once."
        return None

    return check


def _rating_answer(low: int, high: int) -> AnswerCheck:
    def check(value: Any, item: dict) -> str | None:
        if _is_int(value) and low <= value <= high:
            return None
        return f"Must be a whole number from {low} to {high}; got {_show(value)}."

    return check


def _ranking_answer(field: str) -> AnswerCheck:
    def check(value: Any, item: dict) -> str | None:
        entries = item.get(field)
        count = len(entries) if isinstance(entries, list) else 0
        if (
            isinstance(value, list)
            and len(value) == count
            and all(_is_int(position) for position in value)
            and sorted(value) == list(range(count))
        ):
            return None
        return (
            f"Must list every index of {field!r} once, best first: a reordering of "
            f"{list(range(count))}; got {_show(value)}."
        )

    return check


def _pairwise_answer(strength: bool) -> AnswerCheck:
    if not strength:
        def check(value: Any, item: dict) -> str | None:
            if isinstance(value, str) and value in PAIRWISE_CHOICES:
                return None
            return f'Must be "A", "B" or "tie"; got {_show(value)}.'

        return check

    def check_with_strength(value: Any, item: dict) -> str | None:
        if (
            isinstance(value, dict)
            and value.keys() == {"choice", "strength"}
            and isinstance(value["choice"], str)
            and value["choice"] in PAIRWISE_CHOICES
            and _is_int(value["strength"])
            and 1 <= value["strength"] <= 3
        ):
            return None
        return (
            'Must be {"choice": "A", "B" or "tie", "strength": 1, 2 or 3}; '
            f"got {_show(value)}."
        )

    return check_with_strength


def _text_answer(required: bool, min_length: int, max_length: int | None) -> AnswerCheck:
    def check(value: Any, item: dict) -> str | None:
        if not isinstance(value, str):
            return _expected("a string", value)
        if not value or value.isspace():
            # A blank optional answer simply means "nothing to add".
            return QUESTION_REQUIRED if required else None
        if len(value) < min_length:
            return f"Needs at least {min_length} characters, got {len(value)}."
        if max_length is not None and len(value) > max_length:
            return f"Allows at most {max_length} characters, got {len(value)}."
        return None

    return check


def _spans_answer(field: str, options: list[str]) -> AnswerCheck:
    allowed = frozenset(options)
    listing = ", ".join(options)

    def check(value: Any, item: dict) -> str | None:
        if not isinstance(value, list):
            return _expected("a list of spans", value)
        text = item.get(field)
        length = len(text) if isinstance(text, str) else 0
        bounds: list[tuple[int, int, int]] = []
        for index, span in enumerate(value):
            if not isinstance(span, dict) or span.keys() != _SPAN_KEYS:
                return f'Span [{index}] must be {{"start", "end", "label"}}; got {_show(span)}.'
            start, end, label = span["start"], span["end"], span["label"]
            if not (_is_int(start) and _is_int(end) and 0 <= start < end <= length):
                return (
                    f"Span [{index}] must have whole numbers 0 <= start < end <= {length} "
                    f"(the length of {field!r}); got start {_show(start)}, end {_show(end)}."
                )
            if not isinstance(label, str) or label not in allowed:
                return f"Span [{index}]: label must be one of {listing}; got {_show(label)}."
            bounds.append((start, end, index))
        bounds.sort()
        for (_, earlier_end, first), (later_start, _, second) in pairwise(bounds):
            if later_start < earlier_end:
                return f"Spans [{first}] and [{second}] overlap; spans must not overlap."
        return None

    return check


def _answer_checks(questions: list[dict]) -> dict[str, AnswerCheck]:
    checks: dict[str, AnswerCheck] = {}
    for question in questions:
        kind = question["kind"]
        if kind == "label":
            check = _label_answer(question["options"])
        elif kind == "multi_label":
            check = _multi_label_answer(question["options"])
        elif kind == "rating":
            check = _rating_answer(question["min"], question["max"])
        elif kind == "ranking":
            check = _ranking_answer(question["field"])
        elif kind == "pairwise":
            check = _pairwise_answer(question["strength"])
        elif kind == "text":
            check = _text_answer(
                question["required"], question["min_length"], question["max_length"]
            )
        else:
            check = _spans_answer(question["field"], question["options"])
        checks[question["name"]] = check
    return checks


def validate_answer(
    questions: list[dict], item_data: dict, answer: Any,
) -> dict[str, list[str]]:
    """Check an expert's answer to one item; errors are keyed by question name, DRF style.

    A null answer counts as no answer, so clients may send every question's key.
    """
    if not isinstance(answer, dict):
        return {"answer": [_expected("an object mapping question names to answers", answer)]}
    checks = _answer_checks(questions)
    errors: dict[str, list[str]] = {}
    for question in questions:
        name = question["name"]
        value = answer.get(name)
        if value is None:
            if question["required"]:
                errors[name] = [QUESTION_REQUIRED]
            continue
        message = checks[name](value, item_data)
        if message is not None:
            errors[name] = [message]
    for key in answer:
        if key not in checks:
            errors[str(key)] = [
                f"Unknown question; this project's questions are {', '.join(checks)}."
            ]
    return errors
