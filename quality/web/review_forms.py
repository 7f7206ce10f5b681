"""The QA lead's verdict forms: a comment for accepting or rejecting, and a fix, which is
the answer form of the item's questions prefilled with the answer it replaces; each takes
scores on the project's rubric.

Spans are marked in the item as ``tasks/web/work_field.html`` shows it, the partial the
review page shares with the expert's work page. The forms only gather input; what makes a
verdict acceptable (a rejection's reason, a fix that answers the questions as an expert
must) is decided by ``quality.reviews``, the same checks the REST API runs.
"""

import json
from typing import Any

from django import forms

from tasks.web.item_display import ShownField

from .answer_form import AttemptForm, field_name

COMMENT_HELP = "The expert reads this with the outcome."


class RubricScores:
    """Optional scores on the project's rubric, a whole-number input per criterion, for any
    verdict; whether a score fits its criterion is the review service's to say."""

    def add_rubric(self, rubric: list[dict]) -> None:
        self.rubric = rubric
        for criterion in rubric:
            low, high = criterion["min"], criterion["max"]
            self.fields[f"rubric_{criterion['name']}"] = forms.IntegerField(
                label=criterion["name"].replace("_", " ").capitalize(), required=False,
                help_text=criterion["description"],
                widget=forms.NumberInput(attrs={"min": low, "max": high, "step": 1,
                                                "placeholder": f"{low} to {high}"}))

    def rubric_fields(self) -> list[forms.BoundField]:
        return [self[f"rubric_{criterion['name']}"] for criterion in self.rubric]

    def rubric_scores(self) -> dict[str, int]:
        """The scores given, by criterion; criteria left empty are not scored."""
        scores = {c["name"]: self.cleaned_data.get(f"rubric_{c['name']}") for c in self.rubric}
        return {name: score for name, score in scores.items() if score is not None}


class VerdictForm(RubricScores, forms.Form):
    """Accept or reject: the comment is optional to accept and required to reject."""

    comment = forms.CharField(required=False, max_length=5000, strip=True,
                              widget=forms.Textarea(attrs={"rows": 3}), help_text=COMMENT_HELP)

    def __init__(self, *args, rubric: list[dict] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_rubric(list(rubric))


def initial_answer(item, questions: list[dict], answer: dict) -> dict[str, Any]:
    """The answer form's initial values for a stored answer (the inverse of
    ``AttemptForm.answer_value``)."""
    initial: dict[str, Any] = {}
    for question in questions:
        name, value = question["name"], answer.get(question["name"])
        if value is None:
            continue
        if question["kind"] == "pairwise" and isinstance(value, dict):
            initial[field_name(item.pk, name)] = value.get("choice")
            initial[field_name(item.pk, name, "strength")] = value.get("strength")
        elif question["kind"] == "ranking":
            for place, index in enumerate(value, 1):
                initial[field_name(item.pk, name, str(index))] = place
        elif question["kind"] == "spans":
            initial[field_name(item.pk, name)] = json.dumps(value)
        else:
            initial[field_name(item.pk, name)] = value
    return initial


class FixForm(RubricScores, AttemptForm):
    """The corrected answer to one item, rubric scores for the expert's, and a comment."""

    comment = forms.CharField(required=False, max_length=5000, strip=True,
                              widget=forms.Textarea(attrs={"rows": 2}), help_text=COMMENT_HELP)

    def __init__(self, *args, questions: list[dict], item, answer: dict,
                 rubric: list[dict] = (), **kwargs) -> None:
        kwargs.setdefault("initial", initial_answer(item, questions, answer))
        super().__init__(*args, questions=questions, items=[item], **kwargs)
        self.item = item
        self.add_rubric(list(rubric))

    def question_fields(self, item, question: dict) -> dict[str, forms.Field]:
        """Spans are marked in the item's text as the work page's partial shows it."""
        found = super().question_fields(item, question)
        if question["kind"] == "spans":
            text = ShownField(question["field"], "text", "").element_id + "-text"
            for field in found.values():
                field.widget.attrs["data-spans-for"] = text
        return found

    def answer(self) -> dict[str, Any]:
        return self.answers()[str(self.item.pk)]
