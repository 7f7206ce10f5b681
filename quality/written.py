"""The agreement report's section on written answers: one entry per text question.

Agreement statistics have nothing to say about free text, which is most of what experts
write for supervised fine-tuning, so this section measures it the ways a QA lead can act on:

* what reviewers decided: of an expert's reviewed answers, the share accepted, fixed and
  rejected, how much of the answer a fix rewrote (normalised edit distance between the
  expert's text and the reviewer's) and the mean rubric score per criterion;
* how long answers are and how long they took, with the answers whose length or time is an
  outlier among all answers to the question;
* how alike the answers to the same item are: each expert's mean similarity to the other
  answers on their items, and per item with several answers the text consensus (the answer
  closest to the others) and its confidence, listing the items whose answers agree least.

Answers, lengths, times and similarity come from the counted human work the rest of the
report reads (submitted or approved, gold items out). Reviews are read on their own, since a
rejected answer leaves the counted work but is exactly what a rejection rate counts: the
latest verdict a QA lead gave each answer on a non-gold item, verdicts a rule gave (voiding
a removed expert's work) left out, as they judge the expert rather than the text. Rubric
scores are the latest given to the answer, and count for the project's current criteria
and ranges only. The math is in
``quality.texts``.
"""

import statistics
from collections import defaultdict
from typing import Any

import numpy as np
from django.db.models import QuerySet

from tasks.export import expert_pseudonym
from tasks.models import Item, Project

from . import texts
from .models import Review

LEAST_AGREEING = 10
EXCERPT = 160
CHUNK_SIZE = 20_000
VERDICTS = (Review.Verdict.ACCEPT, Review.Verdict.FIX, Review.Verdict.REJECT)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1].rstrip() + "…"


def _rubric_scores(rubric: list[dict], scores: Any) -> dict[str, int]:
    """The scores that fit the project's rubric as it stands."""
    if not isinstance(scores, dict):
        return {}
    return {c["name"]: scores[c["name"]] for c in rubric
            if isinstance(scores.get(c["name"]), int)
            and c["min"] <= scores[c["name"]] <= c["max"]}


class _Tally:
    """What one expert's (or the whole question's) answers and reviews add up to."""

    def __init__(self) -> None:
        self.lengths: list[int] = []
        self.length_flags = {"low": 0, "high": 0}
        self.time_flags = {"low": 0, "high": 0}
        self.seconds: list[float] = []
        self.verdicts = dict.fromkeys(VERDICTS, 0)
        self.fix_distances: list[float] = []
        self.rubric: dict[str, list[int]] = defaultdict(list)
        self.similarity: list[float] = []

    def add_answer(self, text: str, seconds: float | None, length_flag: int,
                   time_flag: int) -> None:
        self.lengths.append(len(text))
        if seconds is not None:
            self.seconds.append(seconds)
        if length_flag:
            self.length_flags["low" if length_flag < 0 else "high"] += 1
        if time_flag:
            self.time_flags["low" if time_flag < 0 else "high"] += 1

    def add_review(self, verdict: str, fix_distance: float | None,
                   scores: dict[str, int]) -> None:
        self.verdicts[verdict] += 1
        if fix_distance is not None:
            self.fix_distances.append(fix_distance)
        for criterion, score in scores.items():
            self.rubric[criterion].append(score)

    def figures(self, rubric: list[dict]) -> dict:
        reviewed = sum(self.verdicts.values())
        return {
            "answers": len(self.lengths),
            "median_length": float(statistics.median(self.lengths)) if self.lengths else None,
            "median_seconds": float(statistics.median(self.seconds)) if self.seconds else None,
            "length_outliers": dict(self.length_flags),
            "time_outliers": dict(self.time_flags),
            "reviewed": reviewed,
            "accepted": self.verdicts[Review.Verdict.ACCEPT],
            "fixed": self.verdicts[Review.Verdict.FIX],
            "rejected": self.verdicts[Review.Verdict.REJECT],
            "acceptance_rate": (self.verdicts[Review.Verdict.ACCEPT] / reviewed
                                if reviewed else None),
            "fix_rate": self.verdicts[Review.Verdict.FIX] / reviewed if reviewed else None,
            "rejection_rate": (self.verdicts[Review.Verdict.REJECT] / reviewed
                               if reviewed else None),
            "mean_fix_distance": _mean(self.fix_distances),
            "rubric": {c["name"]: _mean(self.rubric[c["name"]]) for c in rubric},
            "similarity_to_others": _mean(self.similarity),
        }


def _latest_reviews(project: Project) -> list[tuple]:
    """Per answer on the project's non-gold items, the latest verdict a QA lead gave it:
    (expert id, the expert's answer, verdict, the fix, rubric scores). The scores are the
    latest given, so that overturning a scored rejection keeps them."""
    rows = (Review.objects.filter(project=project, reviewer__isnull=False,
                                  annotation__assignment__is_gold=False)
            .exclude(verdict="").order_by("annotation_id", "decided_at", "id")
            .values_list("annotation_id", "annotation__expert_id", "annotation__answer",
                         "verdict", "answer", "rubric").iterator(chunk_size=CHUNK_SIZE))
    latest: dict[int, tuple] = {}
    for annotation_id, expert_id, answer, verdict, fix, scores in rows:
        earlier = latest.get(annotation_id)
        if not scores and earlier is not None:
            scores = earlier[4]
        latest[annotation_id] = (expert_id, answer, verdict, fix, scores)
    return list(latest.values())


def written_answers(project: Project, counted: QuerySet) -> list[dict]:
    """One entry per text question of the project (see the module doc); ``counted`` is the
    report's counted human work."""
    questions = [q for q in project.questions if q["kind"] == "text"]
    if not questions:
        return []
    rubric = project.rubric or []
    reviews = _latest_reviews(project)
    return [_question(project, question, counted, reviews, rubric) for question in questions]


def _question(project: Project, question: dict, counted: QuerySet, reviews: list,
              rubric: list[dict]) -> dict:
    name = question["name"]
    rows = (counted.order_by("item_id", "id")
            .values_list("item_id", "expert_id", f"answer__{name}", "assignment__duration_s")
            .iterator(chunk_size=CHUNK_SIZE))
    answers = [(item, expert, text, seconds) for item, expert, value, seconds in rows
               if (text := _text(value)) is not None]
    total = _Tally()
    experts: dict[int, _Tally] = defaultdict(_Tally)
    length_flags = texts.outliers([len(text) for _, _, text, _ in answers]).tolist()
    durations = np.array([np.nan if seconds is None else seconds
                          for _, _, _, seconds in answers], dtype=float)
    timed = ~np.isnan(durations)
    time_flags = np.zeros(len(answers), dtype=int)
    time_flags[timed] = texts.outliers(durations[timed])
    for (_, expert, text, seconds), length_flag, time_flag in zip(
            answers, length_flags, time_flags.tolist(), strict=True):
        for target in (experts[expert], total):
            target.add_answer(text, seconds, length_flag, time_flag)
    for expert_id, answer, verdict, fix, scores in reviews:
        original = _text(answer.get(name)) if isinstance(answer, dict) else None
        if original is None:
            continue
        distance = None
        if verdict == Review.Verdict.FIX:
            fixed = fix.get(name) if isinstance(fix, dict) else None
            # A fix that drops the text rewrote all of it.
            distance = texts.normalised_edit_distance(
                original, fixed if isinstance(fixed, str) else "")
        for target in (experts[expert_id], total):
            target.add_review(verdict, distance, _rubric_scores(rubric, scores))

    consensus = _consensus(project, answers, experts, total)
    rows_out = [{"expert": expert_pseudonym(project.pk, expert_id), **tally.figures(rubric)}
                for expert_id, tally in experts.items()]
    rows_out.sort(key=lambda row: (-row["answers"], row["expert"]))
    return {"question": name, "items": len({item for item, _, _, _ in answers}),
            "experts_count": len(rows_out), **total.figures(rubric),
            "rubric_criteria": [c["name"] for c in rubric],
            "consensus": consensus, "experts": rows_out}


def _consensus(project: Project, answers: list, experts: dict[int, _Tally],
               total: _Tally) -> dict:
    """The text consensus of every item with several answers, each answer's similarity to
    the others credited to its expert, and the items that agree least."""
    groups: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for item, expert, text, _ in answers:
        groups[item].append((expert, text))
    item_ids = list(groups)
    found = texts.text_consensus([[text for _, text in groups[item]] for item in item_ids])
    shared = []
    for item, consensus in zip(item_ids, found, strict=True):
        if consensus is None:
            continue
        shared.append((consensus.confidence, item, consensus))
        for (expert, _), similarity in zip(groups[item], consensus.mean_similarity.tolist(),
                                           strict=True):
            experts[expert].similarity.append(similarity)
            total.similarity.append(similarity)
    shared.sort(key=lambda entry: (entry[0], entry[1]))
    worst = shared[:LEAST_AGREEING]
    external = dict(Item.objects.filter(pk__in=[item for _, item, _ in worst])
                    .values_list("id", "external_id"))
    return {
        "items": len(shared),
        "mean_confidence": _mean([confidence for confidence, _, _ in shared]),
        "tied": sum(1 for _, _, consensus in shared if consensus.tied),
        "least_agreeing": [{
            "item": item, "external_id": external.get(item),
            "answers": len(groups[item]), "confidence": confidence, "tied": consensus.tied,
            "consensus": _excerpt(groups[item][consensus.index][1]),
            "consensus_expert": expert_pseudonym(project.pk, groups[item][consensus.index][0]),
        } for confidence, item, consensus in worst],
    }
