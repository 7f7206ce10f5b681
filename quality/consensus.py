"""Consensus answers per item and question, for the consensus and dpo exports.

The crowd's answer to each question is `quality.crowd.crowd_answer`, the one definition the
agreement report, the rules and the experts list read too; this module turns it into
answers in the question's own shape:

* ``label``: the label Dawid-Skene chose (gold items held at their gold answers, EM
  started from the trust-weighted vote), or with too few answers per expert the
  trust-weighted vote; the plain majority is given alongside.
* ``pairwise`` and ``ranking``: the Bradley-Terry order of the completions; a pairwise
  answer is the side it prefers, "tie" when it prefers neither, with the A / B / tie
  majority alongside.
* ``rating``: the median, rounded half down onto an ordinal scale, or the mean on an
  interval one; both are given.
* ``multi_label``: per-option majority; ``spans``: token majority merged back into spans.
* ``text``: the reviewer's pick, the latest answer a reviewer accepted or fixed; without
  one, the answer most similar to the item's other answers (TF-IDF cosine,
  quality.texts), its mean similarity to them as confidence.

Ties are drawn from the project's seed (`quality.crowd.tie_seed`), so the exports and the
report resolve a tied item the same way; ``tied`` says where that happened. A reviewer's
fix (``Annotation.final_answer``) wins over all of these, with confidence 1; when several
answers to one item were fixed, the latest answer's fix wins.

Each question's consensus carries a ``confidence`` (the Dawid-Skene posterior, the
Bradley-Terry probability that the first beats the second, the majority's share, or for
ratings 1 - spread), an ``agreement`` (how close the experts' answers are to the final
answer, unit by unit: exact match for categories, 1 - distance / range for ordered scales,
the side for pairwise) and the number of answers behind it.

The work is the counted answers (submitted or approved), gold items included and flagged.
Consensus is computed a chunk of ``CHUNK_ITEMS`` items at a time, so an export never holds a
project in memory; Dawid-Skene therefore learns each expert's confusion within the chunk,
with trust carrying their record across chunks and gold items anchoring each chunk.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from django.db.models import OuterRef, Subquery

from tasks.models import Annotation, Assignment, Item, Project

from . import texts
from .aggregation import (
    majority,
    multi_label_consensus,
    rating_consensus,
    span_consensus,
    unit_keys,
)
from .crowd import CrowdAnswer, crowd_answer, tie_seed
from .models import Review, TrustScore
from .units import Units, build_units

CHUNK_ITEMS = 2000
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
    rows = items.values_list("id", "external_id", "data", "is_gold", "gold").iterator(
        chunk_size=chunk_items)
    crowd = Crowd(TrustScore.objects.means_on(project), tie_seed(project.pk))
    questions = project.questions if questions is None else questions
    while chunk := list(islice(rows, chunk_items)):
        yield from chunk_consensus(questions, chunk, crowd)


@dataclass(frozen=True)
class Crowd:
    """What the crowd answer knows of a project beyond its answers: each expert's trust
    mean and the seed its ties are drawn from."""

    trust: dict[int, float]
    seed: int


def chunk_consensus(questions: Sequence[dict], chunk: Sequence[tuple],
                    crowd: Crowd) -> list[ItemConsensus]:
    """Consensus for a chunk of (id, external_id, data, is_gold, gold) item rows."""
    ids = [row[0] for row in chunk]
    data = {row[0]: row[2] for row in chunk}
    gold = {row[0]: row[4] for row in chunk if row[3] and row[4]}
    answers = list(
        Annotation.objects.filter(item_id__in=ids, assignment__status__in=Assignment.COUNTED)
        .order_by("id").values_list("id", "item_id", "expert_id", "answer", "final_answer"))
    picked = _reviewers_picks(ids) if any(q["kind"] == "text" for q in questions) else {}
    by_question = {q["name"]: question_consensus(q, answers, data, crowd, picked, gold)
                   for q in questions}
    return [ItemConsensus(item_id, external_id, item_data, is_gold,
                          {name: per_item.get(item_id) or QuestionConsensus()
                           for name, per_item in by_question.items()})
            for item_id, external_id, item_data, is_gold, _ in chunk]


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
                       crowd: Crowd, picked: dict[int, int],
                       gold: dict[int, dict]) -> dict[int, QuestionConsensus]:
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
    answer = crowd_answer(units, trust=crowd.trust, seed=crowd.seed,
                          gold={item: value[name] for item, value in gold.items()
                                if value.get(name) is not None})
    out = _SHAPES[kind](question, units, answer, fields, crowd.seed)
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
    """The reviewer's pick; without one, the answer closest to the item's other answers
    (quality.texts.text_consensus, TF-IDF cosine), with its mean similarity as confidence."""
    out: dict[int, QuestionConsensus] = {}
    written: dict[int, list[str]] = {}
    for item_id, _, text, _ in triples:
        out.setdefault(item_id, QuestionConsensus()).annotations += 1
        written.setdefault(item_id, []).append(text)
    texts_of = {annotation_id: (final_answer or answer).get(name)
                for annotation_id, _, _, answer, final_answer in answers}
    for item_id, annotation_id in picked.items():
        text = texts_of.get(annotation_id)
        if isinstance(text, str) and text.strip():
            entry = out.setdefault(item_id, QuestionConsensus())
            entry.answer, entry.method = text, "review"
    open_items = [item_id for item_id, group in written.items()
                  if len(group) >= 2 and out[item_id].method is None]
    chosen = texts.text_consensus([written[item_id] for item_id in open_items])
    for item_id, found in zip(open_items, chosen, strict=True):
        entry = out[item_id]
        entry.answer, entry.confidence = written[item_id][found.index], found.confidence
        entry.method, entry.details = "text_similarity", {"tied": found.tied}
    return out


def _per_item(units: Units) -> dict[int, QuestionConsensus]:
    return {item_id: QuestionConsensus() for item_id in units.item_ids.tolist()}


def _label(question: dict, units: Units, answer: CrowdAnswer, fields: dict | None,
           seed: int) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    labels = units.value_labels
    chosen = np.searchsorted(units.value_domain, answer.values)
    vote = majority(units.packed(), units.value_domain, seed=seed, keys=unit_keys(units))
    winner = np.searchsorted(units.value_domain, vote.values)
    for unit, item_id in enumerate(units.item_ids.tolist()):
        entry = out[item_id]
        entry.answer = labels[chosen[unit]]
        entry.confidence = float(answer.confidence[unit])
        entry.method = answer.method
        entry.details = {"majority": labels[winner[unit]],
                         "majority_share": float(vote.confidence[unit]),
                         "tied": bool(answer.tied[unit])}
    return out


def _preference(question: dict, units: Units, answer: CrowdAnswer, fields: dict | None,
                seed: int) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    ranked = answer.ranked
    pairwise = question["kind"] == "pairwise"
    if pairwise:
        vote = majority(units.packed(), units.value_domain, seed=seed, keys=unit_keys(units))
        winner = np.searchsorted(units.value_domain, vote.values)
    for i, item_id in enumerate(ranked.item_ids.tolist()):
        entry = out[item_id]
        width = int(ranked.n_completions[i])
        entry.scores = ranked.scores[i, :width]
        entry.confidence = float(ranked.confidence[i])
        entry.method = answer.method
        if not pairwise:
            entry.answer = ranked.order[i, :width].tolist()
            continue
        value = float(answer.values[i])
        choice = "tie" if value == 0 else "A" if value < 0 else "B"
        entry.answer = ({"choice": choice, "strength": max(int(abs(value)), 1)}
                        if question.get("strength") else choice)
        entry.details = {"majority": units.value_labels[winner[i]],
                         "tied": bool(vote.tied[i])}
    return out


def _rating(question: dict, units: Units, answer: CrowdAnswer, fields: dict | None,
            seed: int) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    rc = rating_consensus(units.packed(), question["min"], question["max"])
    for unit, item_id in enumerate(units.item_ids.tolist()):
        entry = out[item_id]
        entry.answer = float(answer.values[unit])
        entry.confidence = float(answer.confidence[unit])
        entry.method = answer.method
        entry.details = {"median": float(rc.median[unit]), "mean": float(rc.mean[unit])}
    return out


def _per_option(question: dict, units: Units, answer: CrowdAnswer, fields: dict | None,
                seed: int) -> dict:
    out = _per_item(units)
    if units.n_units == 0:
        return out
    if question["kind"] == "multi_label":
        merged = multi_label_consensus(units, question["options"], seed=seed)
    else:
        merged = span_consensus(units, fields, seed=seed)
    tied = np.bincount(units.unit_item, weights=answer.tied, minlength=len(units.item_ids))
    for index, (item_id, entry) in enumerate(out.items()):
        entry.answer = merged.answers[item_id]
        entry.confidence = float(merged.confidence[item_id])
        entry.method = answer.method
        entry.details = {"tied": bool(tied[index])}
    return out


_SHAPES = {
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
