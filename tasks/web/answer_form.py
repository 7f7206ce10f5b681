"""The answer form of the work page, built from a project's questions.

Each question is posted under ``q-<name>`` (with ``-strength``, ``-none`` or ``-place-<n>``
parts where its kind needs them) and read back into the API's answer value for its kind, so
that what a page stores is exactly what a client of the API would send. The form only turns
inputs into values; whether an answer is right for the question is decided by
``schema.validate_answer``, the check the submit service runs, whose messages are put next to
their questions. Whatever the expert entered is kept for the page to show again.

Two choices are made explicit rather than guessed from silence: a multi-label question ticked
"none of these" and a spans question ticked "nothing to mark" answer an empty list, while a
question left untouched is unanswered. A pairwise tie has no direction, so where the question
asks for strength it is stored with the lowest, 1.
"""

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from config import jsonvalues

from .. import schema
from .item_display import Entry, letter

PAIRWISE_LABELS = {"A": "A is better", "B": "B is better", "tie": "Tie"}
STRENGTH_LABELS = {1: "Slightly", 2: "Clearly", 3: "Much"}
TIE_STRENGTH = 1
KEYED_OPTIONS = 9


@dataclass(frozen=True)
class Option:
    value: Any
    label: str
    key: str = ""


def _keyed(values: list, labels: list[str]) -> list[Option]:
    """Options chosen by the number keys 1 to 9, in order."""
    return [Option(value, label, str(n) if n <= KEYED_OPTIONS else "")
            for n, (value, label) in enumerate(zip(values, labels, strict=True), 1)]


def _unreadable(what: str) -> ValidationError:
    return ValidationError(f"The {what} could not be read; mark them again.")


class Question:
    """One question with the inputs it is posted as and the value it holds now."""

    def __init__(self, definition: dict, item_data: dict) -> None:
        self.definition = definition
        self.name: str = definition["name"]
        self.kind: str = definition["kind"]
        self.required: bool = definition["required"]
        self.key = f"q-{self.name}"
        self.label = self.name.replace("_", " ").capitalize()
        self.item_data = item_data
        self.value: Any = None
        self.raw = ""

    # -- what the template shows ------------------------------------------------------

    @property
    def options(self) -> list[Option]:
        if self.kind in ("label", "multi_label"):
            return _keyed(self.definition["options"], self.definition["options"])
        if self.kind == "rating":
            return self.scale
        if self.kind == "pairwise":
            return _keyed(list(PAIRWISE_LABELS), list(PAIRWISE_LABELS.values()))
        if self.kind == "spans":
            return _keyed(self.definition["options"], self.definition["options"])
        return []

    @property
    def scale(self) -> list[Option]:
        """A rating's scores; a scale within 0..9 is typed by its own digits."""
        low, high = self.definition["min"], self.definition["max"]
        labels = self.definition.get("labels") or {}
        scores = list(range(low, high + 1))
        names = [labels.get(str(score), "") for score in scores]
        if self.typed_by_value:
            return [Option(score, name, str(score)) for score, name in zip(scores, names,
                                                                              strict=True)]
        return _keyed(scores, names)

    @property
    def typed_by_value(self) -> bool:
        return (self.kind == "rating" and self.definition["min"] >= 0
                and self.definition["max"] <= KEYED_OPTIONS)

    @property
    def strengths(self) -> list[Option]:
        if self.kind != "pairwise" or not self.definition.get("strength"):
            return []
        return _keyed(list(STRENGTH_LABELS), list(STRENGTH_LABELS.values()))

    @property
    def entries(self) -> list[Entry]:
        """The compared entries (ranking, pairwise) or those a rewrite may start from."""
        source = self.definition.get("field") or self.definition.get("prefill")
        value = self.item_data.get(source) if source else None
        if not isinstance(value, list):
            return []
        return [Entry(n, letter(n), text) for n, text in enumerate(value)]

    @property
    def chosen(self) -> list:
        return self.value if isinstance(self.value, list) else []

    @property
    def none_chosen(self) -> bool:
        return self.value == []

    @property
    def choice(self) -> str:
        return self.value.get("choice", "") if isinstance(self.value, dict) else self.value or ""

    @property
    def strength(self) -> int | None:
        return self.value.get("strength") if isinstance(self.value, dict) else None

    @property
    def order(self) -> list[Entry]:
        """The entries in the order the expert ranked them, or as given when not ranked."""
        entries = self.entries
        if self.ranked:
            return [entries[index] for index in self.value]
        return entries

    @property
    def ranked(self) -> bool:
        count = len(self.entries)
        return isinstance(self.value, list) and sorted(self.value) == list(range(count))

    @property
    def ranking_rows(self) -> list[tuple[Entry, int | None]]:
        """The entries in the current order, each with its place (1 = best) once ranked."""
        if self.ranked:
            return [(entry, place) for place, entry in enumerate(self.order, 1)]
        return [(entry, None) for entry in self.entries]

    @property
    def places(self) -> range:
        return range(1, len(self.entries) + 1)

    @property
    def ranking_json(self) -> str:
        return json.dumps(self.value) if self.ranked else self.raw

    @property
    def spans_json(self) -> str:
        return json.dumps(self.value) if isinstance(self.value, list) and self.value else self.raw

    @property
    def text(self) -> str:
        return self.value if isinstance(self.value, str) else ""

    @property
    def prefill(self) -> str:
        """Where the answer box starts: the named text field, or a list's first entry."""
        source = self.definition.get("prefill")
        value = self.item_data.get(source) if source else None
        if isinstance(value, list):
            value = value[0] if value else ""
        return value if isinstance(value, str) else ""

    # -- reading what was posted ------------------------------------------------------

    def read(self, data: QueryDict) -> Any:
        """The answer value the inputs stand for; None when the question is left alone."""
        reader = getattr(self, f"_read_{self.kind}")
        return reader(data)

    def _read_label(self, data: QueryDict) -> str | None:
        return data.get(self.key) or None

    def _read_multi_label(self, data: QueryDict) -> list | None:
        chosen = data.getlist(self.key)
        if data.get(f"{self.key}-none"):
            if chosen:
                self.value = chosen
                raise ValidationError("Tick options or “none of these”, not both.")
            return []
        return chosen or None

    def _read_rating(self, data: QueryDict) -> int | None:
        score = data.get(self.key, "").strip()
        if not score:
            return None
        try:
            return int(score)
        except ValueError as exc:
            raise ValidationError(
                f"Choose a score from {self.definition['min']} to {self.definition['max']}."
            ) from exc

    def _read_pairwise(self, data: QueryDict) -> str | dict | None:
        choice = data.get(self.key) or None
        if choice is None or not self.definition.get("strength"):
            return choice
        if choice == "tie":
            return {"choice": choice, "strength": TIE_STRENGTH}
        strength = data.get(f"{self.key}-strength", "")
        self.value = {"choice": choice, "strength": None}
        if not strength:
            raise ValidationError(f"Say how much better {choice} is.")
        try:
            return {"choice": choice, "strength": int(strength)}
        except ValueError as exc:
            raise ValidationError("Choose how much better: slightly, clearly or much.") from exc

    def _read_ranking(self, data: QueryDict) -> list | None:
        self.raw = data.get(self.key, "").strip()
        if self.raw:
            try:
                return jsonvalues.loads(self.raw)
            except ValueError as exc:
                raise _unreadable("ranking's places") from exc
        count = len(self.entries)
        places = [data.get(f"{self.key}-place-{index}", "") for index in range(count)]
        if not any(places):
            return None
        try:
            numbers = [int(place) for place in places]
        except ValueError as exc:
            raise ValidationError(f"Give every entry a place, 1 to {count}.") from exc
        if sorted(numbers) != list(range(1, count + 1)):
            raise ValidationError(f"Give each entry its own place, 1 to {count}.")
        return sorted(range(count), key=lambda index: numbers[index])

    def _read_text(self, data: QueryDict) -> str | None:
        # Browsers post line breaks as CR LF; the item's own text, and API clients, use LF.
        text = data.get(self.key, "").replace("\r\n", "\n")
        self.value = text
        return text if text.strip() else None

    def _read_spans(self, data: QueryDict) -> list | None:
        self.raw = data.get(self.key, "").strip()
        spans: Any = []
        if self.raw:
            try:
                spans = jsonvalues.loads(self.raw)
            except ValueError as exc:
                raise _unreadable("marked spans") from exc
        if data.get(f"{self.key}-none"):
            if spans:
                raise ValidationError("Mark spans or tick “nothing to mark”, not both.")
            return []
        return spans or None


class AnswerForm(forms.Form):
    """The answer to one item; `answer` holds it, in the API's shape, once the form is valid.
    """

    duration_s = forms.FloatField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, data: QueryDict | None = None, *, questions: list[dict],
                 item_data: dict) -> None:
        super().__init__(data)
        self.definitions = questions
        self.item_data = item_data
        self.questions = [Question(definition, item_data) for definition in questions]
        self.answer: dict[str, Any] = {}
        for question in self.questions:
            self.fields[question.key] = forms.Field(required=False, label=question.label)
            if data is None and question.kind == "text":
                question.value = question.prefill

    def clean(self) -> dict:
        cleaned = super().clean()
        answer: dict[str, Any] = {}
        for question in self.questions:
            try:
                value = question.read(self.data)
            except ValidationError as error:
                self.add_error(question.key, error)
                continue
            if question.kind != "text":
                question.value = value
            if value is not None:
                answer[question.name] = value
        for name, messages in schema.validate_answer(self.definitions, self.item_data,
                                                     answer).items():
            key = f"q-{name}"
            if key not in self.errors:
                self.add_error(key if key in self.fields else None, messages)
        self.answer = answer
        return cleaned

    def bound(self) -> list[tuple[Question, forms.BoundField]]:
        """Each question with its bound field, whose errors the template shows beside it."""
        return [(question, self[question.key]) for question in self.questions]
