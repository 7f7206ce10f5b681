"""Consensus answers per item and question, for the consensus and dpo exports.

Per question kind:

* ``label``: Dawid-Skene, started from a vote weighted by each expert's trust on the project
  (``TrustScore.mean``; the prior mean for experts without one), so that experts with a gold
  record outweigh a coordinated wrong majority. It needs enough answers per expert to learn
  from: where the experts of a chunk have fewer than ``MIN_DAWID_SKENE_ANSWERS`` answers
  each (the median), the trust-weighted vote itself is the answer. The plain majority is
  given alongside.
* ``pairwise`` and ``ranking``: the Bradley-Terry order of the completions (choix, through
  ``quality.aggregation.rank_consensus``); a pairwise answer is the side it prefers, "tie"
  when it prefers neither, with the A / B / tie majority alongside.
* ``rating``: the median, or the mean for interval questions; both are given.
* ``multi_label``: per-option majority; ``spans``: token majority merged back into spans.
* ``text``: the reviewer's pick, the latest answer a reviewer accepted or fixed.

A reviewer's fix (``Annotation.final_answer``) wins over all of these, with confidence 1;
when several answers to one item were fixed, the latest answer's fix wins.

Each question's consensus carries a ``confidence`` (the Dawid-Skene posterior, the
Bradley-Terry probability that the first beats the second, the majority's share, or for
ratings 1 - spread), an ``agreement`` (how close the experts' answers are to the final
answer, unit by unit: exact match for categories, 1 - distance / range for ordered scales,
the side for pairwise) and the number of answers behind it.

The work is the counted answers (submitted or approved), gold items included and flagged.
Consensus is computed a chunk of ``CHUNK_ITEMS`` items at a time, so an export never holds a
project in memory; Dawid-Skene therefore learns each expert's confusion within the chunk,
with trust carrying their record across chunks.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from django.db.models import OuterRef, Subquery

from tasks.models import Annotation, Assignment, Item, Project

from .aggregation import (
    dawid_skene,
    majority,
    multi_label_consensus,
    rank_consensus,
    rating_consensus,
    span_consensus,
)
from .models import Review, TrustScore
from .trust import PRIOR
from .units import Units, build_units

CHUNK_ITEMS = 2000
# Dawid-Skene learns a confusion matrix per expert; with only a few answers each it finds
# degenerate fits (every expert "always says y") and reports them with full confidence.
MIN_DAWID_SKENE_ANSWERS = 20
ACCEPTED = (Review.Verdict.ACCEPT, Review.Verdict.FIX)


@dataclass
class QuestionConsensus:
    """One question's consensus on one item. ``scores`` are the Bradley-Terry
    log-strengths of the item's completions (pairwise and ranking), for preference pairs."""

    answer: Any = None
    confidence: float | None = None
    agreement: float | None = None
    annotations: int = 0
    method: str | None = None
    details: dict = field(default_factory=dict)
    scores: np.ndarray | None = None

    def as_dict(self) -> dict:
        return {"answer": self.answer, "confidence": self.confidence,
                "agreement": self.agreement, "annotations": self.annotations,
                "method": self.method, **self.details}


@dataclass
class ItemConsensus:
    item_id: int
    external_id: str
    data: dict
    is_gold: bool
    questions: dict[str, QuestionConsensus]


def trust_weights(project: Project) -> dict[int, float]:
    """Each expert's trust mean on the project; experts without a record get the prior's."""
    return dict(TrustScore.objects.filter(project=project)
                .values_list("expert_id", "mean"))


def latest_verdicts() -> Subquery:
    """The verdict of an outer annotation's latest decided review."""
    return Subquery(Review.objects.filter(annotation=OuterRef("pk")).exclude(verdict="")
                    .order_by("-decided_at", "-id").values("verdict")[:1])


def consensus(project: Project, *, questions: Sequence[dict] | None = None,
              gold: bool = True, chunk_items: int = CHUNK_ITEMS) -> Iterator[ItemConsensus]:
    """Every item of the project (gold items unless `gold` is False) with the consensus of
    `questions` (all of the project's by default), in id order, a chunk of items at a time."""
    items = Item.objects.filter(project=project).order_by("id")
    if not gold:
        items = items.filter(is_gold=False)
    rows = items.values_list("id", "external_id", "data", "is_gold").iterator(
        chunk_size=chunk_items)
    trust = trust_weights(project)
    questions = project.questions if questions is None else questions
    while chunk := list(islice(rows, chunk_items)):
        yield from chunk_consensus(questions, chunk, trust)


def chunk_consensus(questions: Sequence[dict], chunk: Sequence[tuple],
                    trust: dict[int, float]) -> list[ItemConsensus]:
    """Consensus for a chunk of (id, external_id, data, is_gold) item rows."""
    ids = [row[0] for row in chunk]
    data = {row[0]: row[2] for row in chunk}
    answers = list(
        Annotation.objects.filter(item_id__in=ids, assignment__status__in=Assignment.COUNTED)
        .order_by("id").values_list("id", "item_id", "expert_id", "answer", "final_answer"))
    picked = _reviewers_picks(ids) if any(q["kind"] == "text" for q in questions) else {}
    by_question = {q["name"]: question_consensus(q, answers, data, trust, picked)
                   for q in questions}
    return [ItemConsensus(item_id, external_id, item_data, is_gold,
                          {name: per_item.get(item_id) or QuestionConsensus()
                           for name, per_item in by_question.items()})
            for item_id, external_id, item_data, is_gold in chunk]


def _reviewers_picks(item_ids: Iterable[int]) -> dict[int, int]:
    """Per item, the latest annotation a reviewer accepted or fixed (as its latest verdict)."""
    picks = (Annotation.objects.filter(item_id__in=item_ids)
             .annotate(verdict=latest_verdicts()).filter(verdict__in=ACCEPTED)
             .order_by("id").values_list("item_id", "id"))
    return dict(picks)


def _fields(question: dict, data: dict[int, dict]) -> dict | None:
    if question["kind"] == "ranking":
        return {pk: len(values.get(question["field"]) or ()) for pk, values in data.items()}
    if question["kind"] == "spans":
        return {pk: values.get(question["field"]) or "" for pk, values in data.items()}
    return None


def question_consensus(question: dict, answers: Sequence[tuple], data: dict[int, dict],
                       trust: dict[int, float],
                       picked: dict[int, int]) -> dict[int, QuestionConsensus]:
    """Per item id, the consensus of one question over the chunk's answers."""
    name, kind = question["name"], question["kind"]
    fixes: dict[int, Any] = {}
    triples = []
    for annotation_id, item_id, expert_id, answer, final_answer in answers:
        if final_answer is not None and final_answer.get(name) is not None:
            fixes[item_id] = final_answer[name]
        value = answer.get(name)
        if kind == "text":
            value = value if isinstance(value, str) and value.strip() else None
        if value is not None:
            triples.append((item_id, expert_id, value, annotation_id))
    if kind == "text":
        return _text_consensus(name, triples, answers, picked)
    fields = _fields(question, data)
    units = build_units([t[:3] for t in triples], question, fields)
    out = _AGGREGATORS[kind](question, units, trust, fields)
    counts = np.bincount(np.searchsorted(units.item_ids, [t[0] for t in triples]),
                         minlength=len(units.item_ids)) if triples else []
    for item_id, n in zip(units.item_ids.tolist(), counts, strict=True):
        out[item_id].annotations = int(n)
    for item_id, value in fixes.items():
        entry = out.setdefault(item_id, QuestionConsensus())
        entry.answer, entry.confidence, entry.method = value, 1.0, "review"
        entry.scores = None
    _agreement(question, units, out, fields)
    return out


def _text_consensus(name: str, triples: list, answers: Sequence[tuple],
                    picked: dict[int, int]) -> dict[int, QuestionConsensus]:
    out: dict[int, QuestionConsensus] = {}
    for item_id, _, _, _ in triples:
        out.setdefault(item_id, QuestionConsensus()).annotations += 1
    texts = {annotation_id: (final_answer or answer).get(name)
             for annotation_id, _, _, answer, final_answer in answers}
    for item_id, annotation_id in picked.items():
        text = texts.get(annotation_id)
        if isinstance(text, str) and text.strip():
            entry = out.setdefault(item_id, QuestionConsensus())
            entry.answer, entry.method = text, "review"
    return out


def _per_item(units: Units) -> dict[int, QuestionConsensus]:
    return {item_id: QuestionConsensus() for item_id in units.item_ids.tolist()}


def _label(question: dict, units: Units, trust: dict[int, float],
           fields: dict | None) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    labels = units.value_labels
    prior = PRIOR.mean
    weights = [trust.get(int(expert), prior) for expert in units.annotator_ids]
    if np.median(np.bincount(units.annotator_idx)) >= MIN_DAWID_SKENE_ANSWERS:
        fitted = dawid_skene(units.unit_idx, units.annotator_idx, units.codes(),
                             len(units.value_domain), weights_init=weights)
        chosen, confidence, method = fitted.labels, fitted.confidence, "dawid_skene"
    else:
        weighted = majority(units.matrix(), units.value_domain, weights=weights)
        chosen = np.searchsorted(units.value_domain, weighted.values)
        confidence, method = weighted.confidence, "weighted_majority"
    vote = majority(units.packed(), units.value_domain)
    winner = np.searchsorted(units.value_domain, vote.values)
    for unit, item_id in enumerate(units.item_ids.tolist()):
        entry = out[item_id]
        entry.answer = labels[chosen[unit]]
        entry.confidence = float(confidence[unit])
        entry.method = method
        entry.details = {"majority": labels[winner[unit]],
                         "majority_share": float(vote.confidence[unit])}
    return out


def _preference(question: dict, units: Units, trust: dict[int, float],
                fields: dict | None) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    ranked = rank_consensus(units)
    pairwise = question["kind"] == "pairwise"
    if pairwise:
        vote = majority(units.packed(), units.value_domain)
        winner = np.searchsorted(units.value_domain, vote.values)
    for i, item_id in enumerate(ranked.item_ids.tolist()):
        entry = out[item_id]
        width = int(ranked.n_completions[i])
        entry.scores = ranked.scores[i, :width]
        entry.confidence = float(ranked.confidence[i])
        entry.method = "bradley_terry"
        if not pairwise:
            entry.answer = ranked.order[i, :width].tolist()
            continue
        choice = ("tie" if np.isclose(entry.scores[0], entry.scores[1])
                  else "A" if ranked.order[i, 0] == 0 else "B")
        entry.answer = _with_strength(question, units, i, choice)
        entry.details = {"majority": units.value_labels[winner[i]]}
    return out


def _with_strength(question: dict, units: Units, unit: int, choice: str) -> Any:
    """A strength question's answer: the median strength of the answers on the chosen side."""
    if not question.get("strength"):
        return choice
    lo, hi = np.searchsorted(units.unit_idx, [unit, unit + 1])
    values = units.values[lo:hi]
    side = {"A": values < 0, "B": values > 0, "tie": values == 0}[choice]
    strengths = np.abs(values[side])
    strength = int(np.ceil(np.median(strengths) - 0.5)) if len(strengths) else 1
    return {"choice": choice, "strength": max(strength, 1)}


def _rating(question: dict, units: Units, trust: dict[int, float],
            fields: dict | None) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    rc = rating_consensus(units.packed(), question["min"], question["max"])
    interval = units.level == "interval"
    for unit, item_id in enumerate(units.item_ids.tolist()):
        entry = out[item_id]
        median, mean = float(rc.median[unit]), float(rc.mean[unit])
        entry.answer = mean if interval else median
        entry.confidence = float(rc.confidence[unit])
        entry.method = "mean" if interval else "median"
        entry.details = {"median": median, "mean": mean}
    return out


def _per_option(question: dict, units: Units, trust: dict[int, float],
                fields: dict | None) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    if question["kind"] == "multi_label":
        merged = multi_label_consensus(units, question["options"])
    else:
        merged = span_consensus(units, fields)
    for item_id, entry in out.items():
        entry.answer = merged.answers[item_id]
        entry.confidence = float(merged.confidence[item_id])
        entry.method = "majority"
    return out


_AGGREGATORS = {
    "label": _label,
    "pairwise": _preference,
    "ranking": _preference,
    "rating": _rating,
    "multi_label": _per_option,
    "spans": _per_option,
}


def _agreement(question: dict, units: Units, out: dict[int, QuestionConsensus],
               fields: dict | None) -> None:
    """Set each item's agreement: the mean closeness of its answers to the final answer."""
    finals = [(item_id, "final", entry.answer) for item_id, entry in out.items()
              if entry.answer is not None and entry.annotations]
    if not finals or units.n_units == 0:
        return
    if question["kind"] == "rating":
        final_of_unit = np.array([out[i].answer for i in units.item_ids.tolist()], dtype=float)
    else:
        final_units = build_units(finals, question, fields)
        final_of_unit = _align(units, final_units)
    answer_final = final_of_unit[units.unit_idx]
    values = units.values
    if question["kind"] == "pairwise":
        closeness = (np.sign(values) == np.sign(answer_final)).astype(float)
    elif units.level == "nominal":
        closeness = (values == answer_final).astype(float)
    else:
        span = float(max(units.value_domain[-1] - units.value_domain[0], 1))
        closeness = np.clip(1.0 - np.abs(values - answer_final) / span, 0.0, 1.0)
    scored = ~np.isnan(answer_final)
    item = units.unit_item[units.unit_idx]
    total = np.bincount(item[scored], weights=closeness[scored], minlength=len(units.item_ids))
    count = np.bincount(item[scored], minlength=len(units.item_ids))
    for index, item_id in enumerate(units.item_ids.tolist()):
        if count[index]:
            out[item_id].agreement = float(total[index] / count[index])


def _align(units: Units, final: Units) -> np.ndarray:
    """Per unit of `units`, the value `final` gives the same (item, part); nan if none."""
    width = int(max(units.unit_part.max(initial=0), final.unit_part.max(initial=0))) + 1
    keys = units.item_ids[units.unit_item] * width + units.unit_part
    final_keys = final.item_ids[final.unit_item[final.unit_idx]] * width + \
        final.unit_part[final.unit_idx]
    order = np.argsort(final_keys)
    position = np.searchsorted(final_keys[order], keys)
    position = np.minimum(position, len(order) - 1)
    found = final_keys[order][position] == keys
    return np.where(found, final.values[order][position], np.nan)
