"""One form for every item of a qualification attempt, built from the test's questions.

Each question kind gets an ordinary Django field (radio buttons, check boxes, a text area,
a position per entry for rankings, label and offsets for spans), named
``a-<item>-<question>``; :meth:`AttemptForm.answers` turns the cleaned values into the
answers the service grades, in the API's shape. The form knows items only by their data:
gold answers are never loaded for it.
"""

import json
from typing import Any

from django import forms

from config import jsonvalues

PAIRWISE_CHOICES = [("A", "A is better"), ("B", "B is better"), ("tie", "Tie")]
STRENGTH_CHOICES = [(1, "Slightly"), (2, "Clearly"), (3, "Much")]


def field_name(item_id: int, question: str, part: str = "") -> str:
    return f"a-{item_id}-{question}" + (f"-{part}" if part else "")


def entry_letter(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else str(index + 1)


class AttemptForm(forms.Form):
    def __init__(self, *args, questions: list[dict], items: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        self.items = items
        for item in items:
            for question in questions:
                self.fields.update(self.question_fields(item, question))

    def question_fields(self, item, question: dict) -> dict[str, forms.Field]:
        kind, name, required = question["kind"], question["name"], question["required"]
        key = field_name(item.pk, name)
        label = name.replace("_", " ").capitalize()
        if kind == "label":
            return {key: forms.ChoiceField(label=label, required=required,
                                           widget=forms.RadioSelect,
                                           choices=[(o, o) for o in question["options"]])}
        if kind == "multi_label":
            return {key: forms.MultipleChoiceField(
                label=label, required=required, widget=forms.CheckboxSelectMultiple,
                choices=[(o, o) for o in question["options"]])}
        if kind == "rating":
            labels = question.get("labels", {})
            scale = range(question["min"], question["max"] + 1)
            return {key: forms.TypedChoiceField(
                label=label, required=required, coerce=int, widget=forms.RadioSelect,
                choices=[(n, f"{n} {labels[str(n)]}" if str(n) in labels else str(n))
                         for n in scale])}
        if kind == "pairwise":
            found = {key: forms.ChoiceField(label=label, required=required,
                                            widget=forms.RadioSelect, choices=PAIRWISE_CHOICES)}
            if question["strength"]:
                found[field_name(item.pk, name, "strength")] = forms.TypedChoiceField(
                    label="How strongly", required=required, coerce=int,
                    widget=forms.RadioSelect, choices=STRENGTH_CHOICES)
            return found
        if kind == "ranking":
            entries = item.data.get(question["field"]) or []
            places = [(n, str(n)) for n in range(1, len(entries) + 1)]
            return {field_name(item.pk, name, str(index)): forms.TypedChoiceField(
                label=f"Place of {entry_letter(index)}", coerce=int, required=required,
                choices=[("", "—"), *places]) for index in range(len(entries))}
        if kind == "spans":
            return {key: forms.CharField(
                label=label, required=required, widget=forms.HiddenInput(attrs={
                    "data-spans-for": field_name(item.pk, question["field"], "text"),
                    "data-labels": json.dumps(question["options"])}))}
        return {key: forms.CharField(label=label, required=required, strip=False,
                                     min_length=question.get("min_length") or None,
                                     max_length=question.get("max_length"),
                                     widget=forms.Textarea(attrs={"rows": 3}))}

    def clean(self) -> dict:
        data = super().clean()
        for item in self.items:
            for question in self.questions:
                if question["kind"] == "ranking":
                    self.check_ranking(item, question, data)
                elif question["kind"] == "spans":
                    self.check_spans(item, question, data)
        return data

    def check_ranking(self, item, question: dict, data: dict) -> None:
        count = len(item.data.get(question["field"]) or [])
        places = [data.get(field_name(item.pk, question["name"], str(i))) for i in range(count)]
        given = [place for place in places if place not in (None, "")]
        if given and len(set(given)) != count:
            self.add_error(field_name(item.pk, question["name"], "0"),
                           f"Give each entry its own place, 1 to {count}.")

    def check_spans(self, item, question: dict, data: dict) -> None:
        key = field_name(item.pk, question["name"])
        raw = data.get(key)
        if not raw:
            data[key] = None
            return
        try:
            data[key] = jsonvalues.loads(raw)
        except ValueError:
            self.add_error(key, "The marked spans could not be read; mark them again.")

    def answers(self) -> dict[str, dict[str, Any]]:
        """The answers by item id, as the service grades them; unanswered optional questions
        are left out."""
        data = self.cleaned_data
        found: dict[str, dict[str, Any]] = {}
        for item in self.items:
            answer = {}
            for question in self.questions:
                value = self.answer_value(item, question, data)
                if value not in (None, "", []):
                    answer[question["name"]] = value
            found[str(item.pk)] = answer
        return found

    def answer_value(self, item, question: dict, data: dict) -> Any:
        name = question["name"]
        value = data.get(field_name(item.pk, name))
        if question["kind"] == "pairwise" and question["strength"] and value:
            return {"choice": value, "strength": data.get(field_name(item.pk, name, "strength"))}
        if question["kind"] == "ranking":
            count = len(item.data.get(question["field"]) or [])
            places = {i: data.get(field_name(item.pk, name, str(i))) for i in range(count)}
            if any(place in (None, "") for place in places.values()):
                return None
            return sorted(places, key=places.get)
        return value

    def item_fields(self, item) -> list[forms.BoundField]:
        prefix = f"a-{item.pk}-"
        return [self[name] for name in self.fields if name.startswith(prefix)]
