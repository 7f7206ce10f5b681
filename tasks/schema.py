"""Project schemas: the fields every item carries and the questions an expert answers.

This module is deliberately free of Django so that ingestion workers, benchmarks and plain
pytest can use it, and so the per-row hot path stays ordinary Python closures compiled once
per project. Schema problems are collected, not raised one at a time, so a customer can fix
a project definition in a single round trip.
"""

from __future__ import annotations

import re
from typing import Any

NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_SCORE_RE = re.compile(r"-?[0-9]+")

FIELD_TYPES = ("text", "text_list", "messages", "trace", "media", "json")
MEDIA_TYPES = ("image", "audio", "video")
QUESTION_KINDS = ("label", "multi_label", "rating", "ranking", "pairwise", "text", "spans")
RATING_LEVELS = ("ordinal", "interval")

_FIELD_KEYS = frozenset({"name", "type", "required"})
_FIELD_EXTRA_KEYS: dict[str, frozenset[str]] = {"media": frozenset({"media_type"})}
_QUESTION_KEYS = frozenset({"name", "kind", "required"})
_QUESTION_EXTRA_KEYS: dict[str, frozenset[str]] = {
    "label": frozenset({"options"}),
    "multi_label": frozenset({"options"}),
    "rating": frozenset({"min", "max", "level", "labels"}),
    "ranking": frozenset({"field"}),
    "pairwise": frozenset({"field", "strength"}),
    "text": frozenset({"min_length", "max_length"}),
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


def _check_length_bound(entry: dict, key: str, where: str, errors: list[str]) -> int | None:
    value = entry.get(key)
    if value is not None and (not _is_int(value) or value < 0):
        errors.append(f"{where}.{key}: must be a whole number of characters >= 0, "
                      f"got {value!r}")
        return None
    return value


def _question_settings(
    kind: str, entry: dict, where: str, who: str, fields: list[dict],
    types: dict[str, str | None], errors: list[str],
) -> dict[str, Any]:
    if kind in ("label", "multi_label"):
        return {"options": _check_options(entry, where, who, 2, errors)}
    if kind == "rating":
        return _rating_settings(entry, where, who, errors)
    if kind == "ranking":
        field = entry.get("field")
        _check_field_ref(field, "text_list", where, who, types, errors)
        _check_comparable(field, where, who, fields, errors)
        return {"field": field}
    if kind == "pairwise":
        field = entry.get("field")
        if field is None:
            field = next((f["name"] for f in fields if f["type"] == "text_list"), None)
            if field is None:
                errors.append(f"{where}.field: {who} compares two entries of a text_list "
                              "field, but this project has none")
                return {}
        _check_field_ref(field, "text_list", where, who, types, errors)
        _check_comparable(field, where, who, fields, errors)
        strength = entry.get("strength", False)
        if not isinstance(strength, bool):
            errors.append(f"{where}.strength: must be true or false, got {_type_name(strength)}")
        return {"field": field, "strength": strength}
    if kind == "text":
        min_length = _check_length_bound(entry, "min_length", where, errors) or 0
        max_length = _check_length_bound(entry, "max_length", where, errors)
        if max_length is not None and min_length > max_length:
            errors.append(f"{where}.max_length: {who} has min_length {min_length} above "
                          f"max_length {max_length}")
        return {"min_length": min_length, "max_length": max_length}
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
