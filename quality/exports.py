"""Training-ready exports built on consensus (quality.consensus).

* ``consensus``: one row per item, gold items included and flagged: ``external_id``,
  ``is_gold``, the item's ``data`` and per question the final ``answer``, its
  ``confidence``, the experts' ``agreement`` with it, the number of ``annotations`` and the
  ``method`` that chose it.
* ``dpo`` (in place of the per-annotation pairs of tasks.export): one pair per consensus
  preference whose margin, the Bradley-Terry probability that the chosen completion beats the
  rejected one, reaches ``?min_margin=`` (default 0.6). A pairwise consensus gives one pair (a
  tie none), a ranking the best completion against each other one. A reviewer's fix is
  certain (margin 1). Items nobody answered give nothing.
* ``sft`` (in place of every counted text answer): the texts reviewers accepted or fixed,
  that is answers whose latest review verdict is accept or fix, with the fix's text. A
  project that samples nothing for review (``review_rate`` 0) has no such verdicts to wait
  for, so there the approved answers are taken instead (approved by review or automatically
  after the project's delay).

Like the built-in training views, dpo and sft leave gold items out. This module registers
the views when the quality app's models load.
"""

from collections.abc import Iterable, Iterator

import numpy as np
from django.core.exceptions import ValidationError

from tasks.export import (
    CHUNK_SIZE,
    ExportUnavailable,
    Row,
    chat_rows,
    prompt_field,
    prompt_turns,
    register_view,
)
from tasks.models import Annotation, Assignment, Project

from .consensus import ACCEPTED, QuestionConsensus, consensus, latest_verdicts

DEFAULT_MIN_MARGIN = 0.6


@register_view("consensus", columns=["external_id", "is_gold", "data", "consensus"])
def consensus_rows(project: Project) -> Iterator[Row]:
    for item in consensus(project):
        yield {"external_id": item.external_id, "is_gold": item.is_gold, "data": item.data,
               "consensus": {name: answer.as_dict()
                             for name, answer in item.questions.items()}}


def _min_margin(value: str | None) -> float:
    if value is None:
        return DEFAULT_MIN_MARGIN
    try:
        margin = float(value)
    except ValueError:
        margin = float("nan")
    if not 0 <= margin <= 1:
        raise ValidationError({"min_margin": [f"A number from 0 to 1, not {value!r}."]})
    return margin


@register_view("dpo", columns=["prompt", "chosen", "rejected", "margin"], replace=True,
               params={"min_margin": "the least Bradley-Terry probability that the chosen "
                                     "completion beats the rejected one (0 to 1, default "
                                     f"{DEFAULT_MIN_MARGIN})."})
def dpo_rows(project: Project, min_margin: str | None = None) -> Iterator[Row]:
    questions = [q for q in project.questions if q["kind"] in ("pairwise", "ranking")]
    if not questions:
        raise ExportUnavailable("The dpo view needs a pairwise or ranking question; this "
                                "project has none.")
    field = prompt_field(project, "dpo")
    return _dpo_rows(project, field, questions, _min_margin(min_margin))


def preference_pairs(question: dict, answer: QuestionConsensus
                     ) -> Iterator[tuple[int, int, float]]:
    """(chosen, rejected, margin) completion indices of one consensus preference."""
    if answer.answer is None:
        return
    if question["kind"] == "pairwise":
        value = answer.answer
        choice = value["choice"] if isinstance(value, dict) else value
        margin = 1.0 if answer.scores is None else answer.confidence
        if choice in ("A", "B"):
            yield (0, 1, margin) if choice == "A" else (1, 0, margin)
        return
    best, *others = answer.answer
    for other in others:
        if answer.scores is None:
            yield best, other, 1.0
        else:
            gap = answer.scores[other] - answer.scores[best]
            yield best, other, float(1.0 / (1.0 + np.exp(gap)))


def _dpo_rows(project: Project, field: dict, questions: list[dict],
              min_margin: float) -> Iterator[Row]:
    conversational = field["type"] == "messages"
    for item in consensus(project, questions=questions, gold=False):
        turns = prompt_turns(field, item.data)
        if not turns:
            continue
        prompt = turns if conversational else turns[0]["content"]
        for question in questions:
            completions = item.data[question["field"]]
            for chosen, rejected, margin in preference_pairs(
                    question, item.questions[question["name"]]):
                if margin < min_margin:
                    continue
                if conversational:
                    yield {"prompt": prompt,
                           "chosen": [{"role": "assistant", "content": completions[chosen]}],
                           "rejected": [{"role": "assistant",
                                         "content": completions[rejected]}],
                           "margin": margin}
                else:
                    yield {"prompt": prompt, "chosen": completions[chosen],
                           "rejected": completions[rejected], "margin": margin}


@register_view("sft", columns=["messages"], replace=True)
def sft_rows(project: Project) -> Iterator[Row]:
    question = next((q["name"] for q in project.questions if q["kind"] == "text"), None)
    if question is None:
        raise ExportUnavailable("The sft view needs a text question; this project has none.")
    field = prompt_field(project, "sft")
    return chat_rows(field, question, _accepted_texts(project))


def _accepted_texts(project: Project) -> Iterable[tuple[dict, dict]]:
    """(item data, effective answer) of the answers the sft view takes, in annotation order."""
    annotations = Annotation.objects.filter(project=project, item__is_gold=False)
    if project.review_rate > 0:
        annotations = (annotations.filter(assignment__status__in=Assignment.COUNTED)
                       .annotate(verdict=latest_verdicts()).filter(verdict__in=ACCEPTED))
    else:
        annotations = annotations.filter(assignment__status=Assignment.Status.APPROVED)
    rows = (annotations.order_by("id").values_list("item__data", "answer", "final_answer")
            .iterator(chunk_size=CHUNK_SIZE))
    for data, answer, final_answer in rows:
        yield data, answer if final_answer is None else final_answer
