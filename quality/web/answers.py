"""How an item and an answer read to a person, for pages that show work already done.

An answer is stored as the API takes it (indices, codes, character offsets); a page shows
what those stand for: the completion a ranking put first, the text a span covers. Nothing
here reads gold: it is given the item's data and one answer, and shows only those.
"""

import json
from dataclasses import dataclass
from typing import Any

PAIRWISE_WORDS = {"A": "A (first completion)", "B": "B (second completion)", "tie": "Tie"}
STRENGTH_WORDS = {1: "slightly", 2: "clearly", 3: "much"}


@dataclass(frozen=True)
class Field:
    """One field of an item, with what the template needs to show it for its type."""

    name: str
    type: str
    value: Any

    @property
    def pretty(self) -> str:
        return json.dumps(self.value, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class Answered:
    """One question and the answer to it, as lines of text."""

    question: str
    kind: str
    lines: list[str]


def item_fields(fields: list[dict], data: dict) -> list[Field]:
    return [Field(field["name"], field["type"], data[field["name"]])
            for field in fields if data.get(field["name"]) is not None]


def _entries(data: dict, name: str | None) -> list:
    value = data.get(name) if name else None
    return value if isinstance(value, list) else []


def _ranking(value: list, completions: list) -> list[str]:
    return [f"{place}. {completions[index] if index < len(completions) else f'#{index}'}"
            for place, index in enumerate(value, 1)]


def _pairwise(value: Any) -> list[str]:
    if isinstance(value, dict):
        choice = PAIRWISE_WORDS.get(value.get("choice"), str(value.get("choice")))
        strength = STRENGTH_WORDS.get(value.get("strength"), str(value.get("strength")))
        return [choice if value.get("choice") == "tie" else f"{choice}, {strength} better"]
    return [PAIRWISE_WORDS.get(value, str(value))]


def _spans(value: list, text: Any) -> list[str]:
    text = text if isinstance(text, str) else ""
    return [f"{span['label']}: “{text[span['start']:span['end']]}” "
            f"(characters {span['start']} to {span['end']})" for span in value]


def _lines(question: dict, value: Any, data: dict) -> list[str]:
    kind = question["kind"]
    if kind == "multi_label":
        return [", ".join(value) if value else "(none)"]
    if kind == "rating":
        return [f"{value} on a scale of {question.get('min')} to {question.get('max')}"]
    if kind == "ranking":
        return _ranking(value, _entries(data, question.get("field")))
    if kind == "pairwise":
        return _pairwise(value)
    if kind == "spans":
        return _spans(value, data.get(question.get("field"))) or ["(no spans)"]
    return str(value).splitlines() or [""]


def answer_lines(questions: list[dict], data: dict, answer: dict | None) -> list[Answered]:
    """Every question of the project with the given answer to it; unanswered ones say so."""
    answer = answer or {}
    shown = []
    for question in questions:
        value = answer.get(question["name"])
        if value is None or value == "":
            lines = ["(not answered)"]
        else:
            lines = _lines(question, value, data)
        shown.append(Answered(question["name"], question["kind"], lines))
    return shown
