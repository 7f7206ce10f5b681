"""The metrics quality rules read, and how a rule's verdict is put into words.

Every metric is measured for one expert on one project over a window: their last N answers
or their last N days, and never before `since` (the moment a QA lead last reversed what the
rule did, so that a reversal is a fresh start rather than an invitation to act again at once).
A measurement carries its evidence, the number of observations behind it, because a rule
acts only on at least `min_evidence` of them.

What an observation is, per metric:

* gold_accuracy: a gold answer's score (GoldResult); the value is their mean.
* gold_accuracy_lower: the same scores; the value is the 5% lower bound of the Beta
  posterior (quality.trust), which a few lucky answers cannot lift.
* median_seconds: an answered assignment with a duration.
* agreement_with_consensus: a counted answer on a non-gold item that met another expert's
  answer there; the value is the mean of quality.crowd's leave-one-out scores over every
  unit of those answers, the figure the agreement report gives the expert.
* skip_rate: an assignment the expert skipped or answered.
* rejection_rate: an answer a reviewer decided on; rejected ones count against the expert
  (a rejection later overturned does not).
"""

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment, Item, Project, ProjectExpert

from . import crowd, trust
from .models import AgreementReport, GoldResult, QualityAction, QualityRule, Review
from .report import counted_annotations
from .units import build_units, is_answer

METRIC_WORDS = {
    QualityRule.Metric.GOLD_ACCURACY: "Gold accuracy",
    QualityRule.Metric.GOLD_ACCURACY_LOWER: "Gold accuracy (lower bound)",
    QualityRule.Metric.MEDIAN_SECONDS: "Median seconds per task",
    QualityRule.Metric.AGREEMENT: "Agreement with consensus",
    QualityRule.Metric.SKIP_RATE: "Skip rate",
    QualityRule.Metric.REJECTION_RATE: "Rejection rate",
}
COMPARATOR_WORDS = {
    QualityRule.Comparator.LT: "is below",
    QualityRule.Comparator.LTE: "is at or below",
    QualityRule.Comparator.GT: "is above",
    QualityRule.Comparator.GTE: "is at or above",
}
RATE_METRICS = frozenset(set(QualityRule.Metric) - {QualityRule.Metric.MEDIAN_SECONDS})


@dataclass(frozen=True)
class Measurement:
    value: float | None
    evidence: int


def breaches(comparator: str, value: float, threshold: float) -> bool:
    return {
        QualityRule.Comparator.LT: value < threshold,
        QualityRule.Comparator.LTE: value <= threshold,
        QualityRule.Comparator.GT: value > threshold,
        QualityRule.Comparator.GTE: value >= threshold,
    }[comparator]


def _number(metric: str, value: float) -> str:
    return f"{value:.1f}" if metric == QualityRule.Metric.MEDIAN_SECONDS else f"{value:.2f}"


def describe(rule: QualityRule, measurement: Measurement) -> str:
    """The rule's finding in words the expert and the QA lead read, e.g. "Gold accuracy
    0.45 over the last 20 answers is below 0.60"."""
    if rule.window == QualityRule.Window.DAYS:
        days = "day" if rule.window_size == 1 else f"{rule.window_size} days"
        answers = "1 answer" if measurement.evidence == 1 else f"{measurement.evidence} answers"
        window = f"over the last {days} ({answers})"
    elif measurement.evidence == 1:
        window = "over the last answer"
    else:
        window = f"over the last {measurement.evidence} answers"
    return (f"{METRIC_WORDS[rule.metric]} {_number(rule.metric, measurement.value)} {window} "
            f"{COMPARATOR_WORDS[rule.comparator]} {_number(rule.metric, float(rule.value))}")


# Measuring an expert on a project.

@dataclass(frozen=True)
class Window:
    """The last `size` observations, or those of the last `size` days; never before `since`.
    """

    kind: str
    size: int
    since: datetime | None = None
    now: datetime | None = None

    def apply(self, queryset: QuerySet, time_field: str, order: Sequence[str]) -> QuerySet:
        if self.since is not None:
            queryset = queryset.filter(**{f"{time_field}__gt": self.since})
        queryset = queryset.order_by(*order)
        if self.kind == QualityRule.Window.DAYS:
            start = (self.now or timezone.now()) - timedelta(days=self.size)
            return queryset.filter(**{f"{time_field}__gte": start})
        return queryset[:self.size]


def _gold_scores(project: Project, expert_id: int, window: Window) -> list[float]:
    rows = GoldResult.objects.filter(project=project, expert_id=expert_id)
    return list(window.apply(rows, "created_at", ["-created_at", "-id"])
                .values_list("score", flat=True))


def gold_accuracy(project: Project, expert_id: int, window: Window) -> Measurement:
    scores = _gold_scores(project, expert_id, window)
    return Measurement(statistics.fmean(scores) if scores else None, len(scores))


def gold_accuracy_lower(project: Project, expert_id: int, window: Window) -> Measurement:
    scores = _gold_scores(project, expert_id, window)
    return Measurement(trust.from_scores(scores).lower if scores else None, len(scores))


ANSWERED = (Assignment.Status.SUBMITTED, Assignment.Status.APPROVED,
            Assignment.Status.REJECTED)


def median_seconds(project: Project, expert_id: int, window: Window) -> Measurement:
    rows = Assignment.objects.filter(project=project, expert_id=expert_id, status__in=ANSWERED,
                                     duration_s__isnull=False)
    durations = list(window.apply(rows, "submitted_at", ["-submitted_at", "-id"])
                     .values_list("duration_s", flat=True))
    return Measurement(statistics.median(durations) if durations else None, len(durations))


def skip_rate(project: Project, expert_id: int, window: Window) -> Measurement:
    rows = Assignment.objects.filter(project=project, expert_id=expert_id,
                                     status__in=(*ANSWERED, Assignment.Status.SKIPPED))
    statuses = list(window.apply(rows, "leased_at", ["-leased_at", "-id"])
                    .values_list("status", flat=True))
    skipped = sum(status == Assignment.Status.SKIPPED for status in statuses)
    return Measurement(skipped / len(statuses) if statuses else None, len(statuses))


def rejection_rate(project: Project, expert_id: int, window: Window) -> Measurement:
    # Reviews decided by a person; the ones a rule closed when it removed the expert are not
    # a reviewer's judgement of the work.
    reviews = Review.objects.filter(project=project, annotation__expert_id=expert_id,
                                    reviewer__isnull=False).exclude(verdict="")
    statuses = list(window.apply(reviews, "decided_at", ["-decided_at", "-id"])
                    .values_list("annotation_id", "annotation__assignment__status"))
    latest = dict(reversed(statuses))  # one verdict per annotation: where it stands now
    rejected = sum(status == Assignment.Status.REJECTED for status in latest.values())
    return Measurement(rejected / len(latest) if latest else None, len(latest))


def agreement_by_expert(project: Project,
                        own: QuerySet[Annotation]) -> dict[int, list[tuple[float, int]]]:
    """Per expert, for each of their answers in `own` that met another expert's answer on
    some unit: the summed agreement over those units and their number (quality.crowd's
    leave-one-out scores, over every counted answer on the same items, the report's
    population)."""
    mine = set(own.values_list("expert_id", "item_id"))
    # A subquery rather than a list of ids: an expert may have answered thousands of items.
    rows = list(counted_annotations(project).filter(item_id__in=own.values("item_id"))
                .values_list("item_id", "expert_id", "answer"))
    totals: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0, 0])
    for question in project.questions:
        if question["kind"] == "text":
            continue
        name = question["name"]
        triples = [(item_id, expert_id, answer[name]) for item_id, expert_id, answer in rows
                   if is_answer(answer.get(name), question["kind"])]
        if not triples:
            continue
        units = build_units(triples, question, _item_fields(question, triples))
        score, scored = crowd.leave_one_out_scores(units)
        items = units.item_ids[units.unit_item[units.unit_idx]][scored].tolist()
        experts = units.annotator_ids[units.annotator_idx][scored].tolist()
        for item_id, expert_id, value in zip(items, experts, score[scored].tolist(),
                                             strict=True):
            total = totals[expert_id, item_id]
            total[0] += value
            total[1] += 1
    out: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for (expert_id, item_id), (total, count) in totals.items():
        if (expert_id, item_id) in mine:
            out[expert_id].append((total, count))
    return out


def _item_fields(question: dict, triples: list[tuple]) -> dict | None:
    """What units of a ranking or spans question need to know of their items."""
    if question["kind"] not in ("ranking", "spans"):
        return None
    values = Item.objects.filter(pk__in={t[0] for t in triples}).values_list(
        "id", f"data__{question['field']}")
    if question["kind"] == "ranking":
        return {pk: len(value or ()) for pk, value in values}
    return {pk: value or "" for pk, value in values}


def pooled(scores: Sequence[tuple[float, int]]) -> float | None:
    """The mean agreement over every scored unit of the answers (as the report pools it)."""
    units = sum(count for _, count in scores)
    return sum(total for total, _ in scores) / units if units else None


def agreement_with_consensus(project: Project, expert_id: int, window: Window) -> Measurement:
    own = window.apply(counted_annotations(project).filter(expert_id=expert_id),
                       "created_at", ["-created_at", "-id"])
    scores = agreement_by_expert(project, own)[expert_id]
    return Measurement(pooled(scores), len(scores))


METRICS = {
    QualityRule.Metric.GOLD_ACCURACY: gold_accuracy,
    QualityRule.Metric.GOLD_ACCURACY_LOWER: gold_accuracy_lower,
    QualityRule.Metric.MEDIAN_SECONDS: median_seconds,
    QualityRule.Metric.AGREEMENT: agreement_with_consensus,
    QualityRule.Metric.SKIP_RATE: skip_rate,
    QualityRule.Metric.REJECTION_RATE: rejection_rate,
}


def measure(rule: QualityRule, project: Project, expert_id: int, *,
            since: datetime | None = None, now: datetime | None = None) -> Measurement:
    """The rule's metric for the expert over the rule's window."""
    window = Window(rule.window, rule.window_size, since, now)
    return METRICS[rule.metric](project, expert_id, window)


def expert_stats(project: Project, expert_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Everything the project's expert list shows, for a page of experts, over all their
    work on the project: a handful of grouped queries, not a few per expert."""
    stats: dict[int, dict[str, Any]] = {
        pk: {"annotations": 0, "gold_answered": 0, "gold_accuracy": None,
             "gold_accuracy_lower": trust.PRIOR.lower,
             "agreement_with_consensus": None, "median_seconds": None, "skip_rate": None}
        for pk in expert_ids}
    assignments = Assignment.objects.filter(project=project, expert_id__in=expert_ids)
    durations: dict[int, list[float]] = defaultdict(list)
    counts: dict[int, Counter] = defaultdict(Counter)
    for expert_id, status, duration in assignments.values_list("expert_id", "status",
                                                               "duration_s"):
        counts[expert_id][status] += 1
        if status in ANSWERED and duration is not None:
            durations[expert_id].append(duration)
    gold: dict[int, list[float]] = defaultdict(list)
    for expert_id, score in GoldResult.objects.filter(
            project=project, expert_id__in=expert_ids).values_list("expert_id", "score"):
        gold[expert_id].append(score)
    agreement = agreement_by_expert(
        project, counted_annotations(project).filter(expert_id__in=expert_ids))
    for expert_id, row in stats.items():
        answered = sum(counts[expert_id][status] for status in ANSWERED)
        skipped = counts[expert_id][Assignment.Status.SKIPPED]
        row["annotations"] = answered
        row["skip_rate"] = skipped / (skipped + answered) if skipped + answered else None
        if durations[expert_id]:
            row["median_seconds"] = statistics.median(durations[expert_id])
        if gold[expert_id]:
            row["gold_answered"] = len(gold[expert_id])
            row["gold_accuracy"] = statistics.fmean(gold[expert_id])
            row["gold_accuracy_lower"] = trust.from_scores(gold[expert_id]).lower
        row["agreement_with_consensus"] = pooled(agreement[expert_id])
    return stats


def experts_on(project: Project) -> QuerySet:
    """Ids of the experts who worked on the project or stand on its roster."""
    return (Assignment.objects.filter(project=project).order_by().values("expert_id")
            .union(ProjectExpert.objects.filter(project=project).order_by()
                   .values("expert_id")))


def fitted_experts(project: Project) -> tuple[int | None, dict[str, dict]]:
    """What Dawid-Skene learned of each expert in the project's latest done agreement
    report, by pseudonym: spammer score and, per label question, confusion matrix and
    accuracy. A whole-project fit, so the list reads it from the report rather than fitting
    it again for every page; the report's id says how fresh it is."""
    latest = (AgreementReport.objects.filter(project=project, status=AgreementReport.Status.DONE)
              .order_by("-finished_at", "-id").values_list("id", "result").first())
    if latest is None:
        return None, {}
    report_id, result = latest
    return report_id, {row["expert"]: {"spammer_score": row.get("spammer_score"),
                                       "dawid_skene": row.get("dawid_skene") or {}}
                       for row in (result or {}).get("experts", [])}


def expert_rows(project: Project, expert_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The project's expert list for a page of experts, in the given order: each one's
    figures (``expert_stats``), pseudonym, standing on the roster, the quality actions in
    force on them and what the latest report's Dawid-Skene fit learned of them. Both the
    REST API and the workspace show these rows."""
    stats = expert_stats(project, expert_ids)
    report_id, fitted = fitted_experts(project)
    roster = {row.expert_id: row for row in
              ProjectExpert.objects.filter(project=project, expert_id__in=expert_ids)}
    flags: dict[int, list[QualityAction]] = {pk: [] for pk in expert_ids}
    for flag in QualityAction.objects.filter(project=project, expert_id__in=expert_ids,
                                             reversed_at__isnull=True):
        flags[flag.expert_id].append(flag)
    rows = []
    for pk in expert_ids:
        pseudonym = expert_pseudonym(project.pk, pk)
        fit = fitted.get(pseudonym, {})
        rows.append({**stats[pk], "expert_id": pk, "expert": pseudonym,
                     "access": roster[pk].access if pk in roster else None,
                     "review_all": roster[pk].review_all if pk in roster else False,
                     "flags": flags[pk], "spammer_score": fit.get("spammer_score"),
                     "dawid_skene": fit.get("dawid_skene", {}), "report": report_id})
    return rows
