"""Every change the quality app makes, one transaction each.

Trust is a Beta-binomial posterior (quality.trust) with the prior Beta(2, 2): an expert
nobody has checked stands at 0.5, the same value `accounts.Expertise.trust` starts from, and
about twenty gold answers outweigh the prior, while two lucky ones only reach 0.67. Every
scored gold answer (and every item of a qualification test) folds its score into the
expert's trust on the project and in the project's domain; the domain mean is copied to the
expert's Expertise row so that routing's `min_trust` floor reads it without a join.

What happens when an expert submits (`check_submission`, run by the receiver of
`tasks.signals.annotation_submitted` inside the submit transaction): gold answers are scored;
an item that reached its overlap with disagreeing answers gets one more slot, or, at the
project's `max_overlap`, goes to review as disputed; the annotation goes to review when a
rule made the expert's work reviewed or the project's sample picks it; then the project's
rules are evaluated for that expert only.
"""

import hashlib
import random
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.access import Action, require
from accounts.models import Domain, Expertise, ExpertProfile
from accounts.services import qualify_expertise
from config.exceptions import Conflict
from config.rawsql import instances, json_value, statement_cursor
from config.transactions import retried_on_deadlock
from tasks import schema
from tasks import services as task_services
from tasks.models import Annotation, Assignment, Item, Project, ProjectExpert
from tasks.routing import admitting, check_can_work, release

from . import rules as metrics
from . import trust
from .models import (
    GoldResult,
    QualificationAttempt,
    QualificationItem,
    QualificationTest,
    QualityAction,
    QualityRule,
    Review,
    TrustScore,
)
from .scoring import score_answer

OVERTURN_WINDOW = timedelta(days=30)


# Trust.

def _fold_trust(expert_id: int, scores: Sequence[float], *, project_id: int | None = None,
                domain_id: int | None = None) -> TrustScore:
    """Add scores to one TrustScore under its row lock, creating it at the prior."""
    scope = {"project_id": project_id, "domain_id": domain_id}
    prior = trust.PRIOR
    TrustScore.objects.bulk_create(
        [TrustScore(expert_id=expert_id, alpha=prior.alpha, beta=prior.beta, mean=prior.mean,
                    lower=prior.lower, **scope)],
        ignore_conflicts=True)
    row = TrustScore.objects.select_for_update().get(expert_id=expert_id, **scope)
    posterior = trust.Trust(row.alpha, row.beta, row.answers, row.mean, row.lower)
    for score in scores:
        posterior = trust.update(posterior, score)
    row.alpha, row.beta = posterior.alpha, posterior.beta
    row.mean, row.lower = posterior.mean, posterior.lower
    row.answers += len(scores)
    row.save(update_fields=["alpha", "beta", "mean", "lower", "answers", "updated_at"])
    return row


def _fold_domain_trust(expert_id: int, domain_id: int, scores: Sequence[float]) -> TrustScore:
    """Domain trust, copied to the expert's Expertise in that domain when they have one (a
    claim is not created here: trust alone does not make anyone an expert in a domain)."""
    row = _fold_trust(expert_id, scores, domain_id=domain_id)
    Expertise.objects.filter(expert_id=expert_id, domain_id=domain_id).update(
        trust=Decimal(f"{row.mean:.4f}"))
    return row


def score_against_gold(questions: Sequence[dict], answer: dict,
                       gold: dict) -> tuple[float | None, dict[str, float]]:
    """Mean score over the questions the gold answer covers, and the score of each.

    Free text cannot be scored and is left out; a question the gold covers but the expert
    left unanswered scores 0. None when nothing could be scored.
    """
    per_question: dict[str, float] = {}
    for question in questions:
        name = question["name"]
        if name not in gold:
            continue
        if answer.get(name) is None:
            if question["kind"] != "text":
                per_question[name] = 0.0
            continue
        score = score_answer(question, answer[name], gold[name])
        if score is not None:
            per_question[name] = score
    if not per_question:
        return None, per_question
    return statistics.fmean(per_question.values()), per_question


@transaction.atomic(savepoint=False)
def score_gold(annotation: Annotation, project: Project) -> GoldResult | None:
    """Score an answer on a gold item and fold it into the expert's trust."""
    gold = Item.objects.values_list("gold", flat=True).get(pk=annotation.item_id)
    score, per_question = score_against_gold(project.questions, annotation.answer, gold)
    if score is None:
        return None
    result = GoldResult.objects.create(annotation=annotation, project=project,
                                       expert_id=annotation.expert_id, score=score,
                                       per_question=per_question)
    _fold_trust(annotation.expert_id, [score], project_id=project.pk)
    _fold_domain_trust(annotation.expert_id, project.domain_id, [score])
    return result


# Reviews.

def sampled_for_review(annotation_id: int, rate: Decimal | float) -> bool:
    """Whether the project's review sample takes this annotation: a hash of its id, so the
    same annotation is always in or out, whoever asks and however often."""
    digest = hashlib.sha256(f"review-sample:{annotation_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < float(rate)


@transaction.atomic(savepoint=False)
def enqueue_reviews(annotation_ids: Iterable[int], *, project_id: int, reason: str) -> None:
    """Put annotations in the review queue and hold back their automatic approval. One
    already waiting keeps its place but takes the more urgent reason."""
    annotation_ids = list(annotation_ids)
    priority = Review.PRIORITY[reason]
    Review.objects.bulk_create(
        [Review(annotation_id=pk, project_id=project_id, reason=reason, priority=priority)
         for pk in annotation_ids], ignore_conflicts=True)
    Review.objects.filter(annotation_id__in=annotation_ids, verdict="",
                          priority__lt=priority).update(reason=reason, priority=priority)
    Annotation.objects.filter(pk__in=annotation_ids).update(held_for_review=True)


def _decide(annotation: Annotation, *, reviewer, verdict: str, comment: str = "",
            answer: Any = None, now: datetime) -> Review:
    """Close the annotation's pending review with the verdict, or record a manual one."""
    review = (Review.objects.select_for_update().filter(annotation=annotation, verdict="")
              .first())
    if review is None:
        review = Review(annotation=annotation, project_id=annotation.project_id,
                        reason=Review.Reason.MANUAL, priority=Review.PRIORITY["manual"])
    review.reviewer, review.verdict, review.comment = reviewer, verdict, comment
    review.answer, review.decided_at = answer, now
    review.save()
    Annotation.objects.filter(pk=annotation.pk).update(held_for_review=False)
    return review


def _reviewable(annotation_id: int, user) -> Annotation:
    annotation = (Annotation.objects.select_related("project__organization", "item",
                                                    "assignment")
                  .get(pk=annotation_id))
    require(user, Action.REVIEW, annotation.project.organization_id)
    return annotation


@retried_on_deadlock
@transaction.atomic
def review_annotation(*, annotation_id: int, reviewer, verdict: str, answer: Any = None,
                      comment: str = "") -> Review:
    """A QA lead's verdict: accept approves the work, reject voids it (the item gets its
    slot back and the expert reads the comment), fix replaces the answer and approves."""
    annotation = _reviewable(annotation_id, reviewer)
    comment = comment.strip()
    if verdict == Review.Verdict.REJECT and not comment:
        raise ValidationError({"comment": ["A rejection needs a comment the expert can read."]})
    if verdict == Review.Verdict.FIX:
        if answer is None:
            raise ValidationError({"answer": ["A fix needs the corrected answer."]})
        errors = schema.validate_answer(annotation.project.questions, annotation.item.data,
                                        answer)
        if errors:
            raise ValidationError({"answer": [f"{name}: {message}" for name, messages in
                                              errors.items() for message in messages]})
    assignment = Assignment.objects.select_for_update().get(pk=annotation.assignment_id)
    if assignment.status != Assignment.Status.SUBMITTED:
        raise Conflict(f"Only submitted work can be reviewed; this is {assignment.status}.",
                       code=f"already_{assignment.status}")
    now = timezone.now()
    if verdict == Review.Verdict.REJECT:
        task_services.reject_assignment(assignment)
    else:
        if verdict == Review.Verdict.FIX:
            Annotation.objects.filter(pk=annotation.pk).update(final_answer=answer)
        task_services.approve_assignment(assignment, by=reviewer)
    review = _decide(annotation, reviewer=reviewer, verdict=verdict, comment=comment,
                     answer=answer if verdict == Review.Verdict.FIX else None, now=now)
    evaluate_rules(annotation.project, annotation.expert_id, now=now)
    return review


@transaction.atomic
def overturn(*, annotation_id: int, user, note: str = "") -> Review:
    """Approve rejected work after all, within OVERTURN_WINDOW of the rejection; the item
    keeps the extra answer if its slot was refilled meanwhile."""
    annotation = _reviewable(annotation_id, user)
    assignment = Assignment.objects.select_for_update().get(pk=annotation.assignment_id)
    if assignment.status != Assignment.Status.REJECTED:
        raise Conflict(f"Only rejected work can be overturned; this is {assignment.status}.",
                       code="not_rejected")
    now = timezone.now()
    if assignment.finished_at and assignment.finished_at + OVERTURN_WINDOW < now:
        raise Conflict(f"Rejections can be overturned for {OVERTURN_WINDOW.days} days; this "
                       f"one is from {assignment.finished_at:%Y-%m-%d}.", code="too_late")
    task_services.overturn_rejection(assignment, by=user)
    review = Review.objects.create(
        annotation=annotation, project_id=annotation.project_id, reason=Review.Reason.MANUAL,
        priority=Review.PRIORITY["manual"], reviewer=user, verdict=Review.Verdict.ACCEPT,
        comment=f"Rejection overturned. {note.strip()}".strip(), decided_at=now)
    Annotation.objects.filter(pk=annotation.pk).update(held_for_review=False)
    return review


# Dynamic overlap.

def _leading_share(votes: Iterable[tuple[Any, float]]) -> float:
    totals: Counter = Counter()
    for value, weight in votes:
        totals[value] += weight
    total = sum(totals.values())
    return max(totals.values()) / total if total else 1.0


def disputed(project: Project, answers: Sequence[tuple[dict, float]]) -> bool:
    """Whether trust-weighted answers to one item disagree beyond the project's thresholds.

    Label and pairwise questions: the leading answer's share of the weight is below
    `agreement_threshold` (pairwise strength aside); multi-label questions the same, option
    by option. Ratings: the spread (max - min) is above `rating_spread_threshold`. Other
    kinds have no cheap test of agreement and never dispute an item.
    """
    threshold = float(project.agreement_threshold)
    for question in project.questions:
        kind, name = question["kind"], question["name"]
        given = [(answer[name], weight) for answer, weight in answers
                 if answer.get(name) is not None]
        if len(given) < 2:
            continue
        if kind in ("label", "pairwise"):
            shares = [_leading_share((metrics.choice(v), w) for v, w in given)]
        elif kind == "multi_label":
            shares = [_leading_share((option in v, w) for v, w in given)
                      for option in question["options"]]
        elif kind == "rating":
            values = [v for v, _ in given]
            if max(values) - min(values) > project.rating_spread_threshold:
                return True
            continue
        else:
            continue
        if min(shares) < threshold:
            return True
    return False


# The item under its row lock, every counted answer on it, and each answering expert's
# trust in the project: one query, as it runs whenever an item reaches its overlap. Each
# answer's assignment is looked up by its key rather than joined, so that the plan stays a
# few index probes even where the statistics still describe a near-empty table.
SETTLE_SQL = """
SELECT i.overlap, i.annotated, n.id, n.expert_id, n.answer, t.mean
FROM tasks_item i
JOIN tasks_annotation n ON n.item_id = i.id
LEFT JOIN quality_trustscore t ON t.project_id = %s AND t.expert_id = n.expert_id
WHERE i.id = %s AND (SELECT a.status FROM tasks_assignment a WHERE a.id = n.assignment_id)
                    IN ('submitted', 'approved')
ORDER BY n.id
{lock}
"""


@transaction.atomic(savepoint=False)
def settle_overlap(annotation: Annotation, project: Project) -> None:
    """When the item just reached its overlap with disputed answers, ask for one more, up to
    `max_overlap`; beyond it, send every answer on the item to review. The item's row lock
    is held while its overlap changes, so `filled <= overlap` holds whatever runs alongside.
    """
    lock = "FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""
    with statement_cursor() as cursor:
        cursor.execute(SETTLE_SQL.format(lock=lock), [project.pk, annotation.item_id])
        rows = cursor.fetchall()
    if not rows:
        return
    overlap, annotated = rows[0][:2]
    if annotated < overlap:
        return
    answers = [(json_value(answer), trust.PRIOR.mean if mean is None else mean)
               for *_, answer, mean in rows]
    if not disputed(project, answers):
        return
    if overlap < project.max_overlap:
        Item.objects.filter(pk=annotation.item_id).update(overlap=F("overlap") + 1)
    else:
        enqueue_reviews([annotation_id for _, _, annotation_id, *_ in rows],
                        project_id=project.pk, reason=Review.Reason.DISPUTED)


SUBMISSION_PROJECT_SQL = """
SELECT p.id, p.domain_id, p.questions, p.overlap, p.max_overlap, p.review_rate,
  p.agreement_threshold, p.rating_spread_threshold,
  EXISTS (SELECT 1 FROM tasks_projectexpert r
          WHERE r.project_id = p.id AND r.expert_id = %s AND r.review_all) AS review_all,
  EXISTS (SELECT 1 FROM quality_qualityrule q
          WHERE q.project_id = p.id AND q.active) AS has_rules
FROM tasks_project p WHERE p.id = %s
"""


@transaction.atomic(savepoint=False)
def check_submission(annotation: Annotation, *, reached_overlap: bool = True) -> None:
    """Everything quality does when an expert submits, inside the submit transaction.

    It runs on every submission, so the project and its two flags come in one plain query,
    and an item that has not reached its overlap yet is not even looked at.
    """
    [project] = instances(Project, SUBMISSION_PROJECT_SQL, [annotation.expert_id,
                                                           annotation.project_id])
    is_gold = annotation.assignment.is_gold
    if is_gold:
        score_gold(annotation, project)
    elif reached_overlap:
        settle_overlap(annotation, project)
    if project.review_all:
        enqueue_reviews([annotation.pk], project_id=project.pk, reason=Review.Reason.RULE)
    elif not is_gold and sampled_for_review(annotation.pk, project.review_rate):
        enqueue_reviews([annotation.pk], project_id=project.pk, reason=Review.Reason.SAMPLE)
    if project.has_rules:
        evaluate_rules(project, annotation.expert_id)


# Quality rules.

def check_rule(values: dict[str, Any]) -> None:
    """Settings a rule's fields cannot check alone: rates are shares, counts positive."""
    value = Decimal(values["value"])
    if values["metric"] in metrics.RATE_METRICS and not 0 <= value <= 1:
        raise ValidationError({"value": ["This metric is a share between 0 and 1."]})
    if value < 0:
        raise ValidationError({"value": ["Must not be negative."]})
    if values.get("window_size", 1) < 1:
        raise ValidationError({"window_size": ["Must be at least 1."]})
    if values.get("suspend_days", 1) < 1:
        raise ValidationError({"suspend_days": ["Must be at least 1."]})


RULE_FIELDS = {"name", "metric", "window", "window_size", "min_evidence", "comparator", "value",
               "action", "suspend_days", "active"}


@transaction.atomic
def create_rule(*, user, project: Project, metric: str, comparator: str, value: Decimal,
                action: str, **options: Any) -> QualityRule:
    """Declare "if <metric> over <window> <comparator> <value> then <action>"; `options`
    are the other rule settings (name, window, window_size, min_evidence, suspend_days)."""
    require(user, Action.REVIEW, project.organization_id)
    unknown = set(options) - RULE_FIELDS
    if unknown:
        raise ValidationError({name: ["Unknown rule setting."] for name in sorted(unknown)})
    values = {"metric": metric, "comparator": comparator, "value": value, "action": action,
              **options}
    check_rule(values)
    return QualityRule.objects.create(project=project, created_by=user, **values)


@transaction.atomic
def update_rule(*, user, rule: QualityRule, **changes: Any) -> QualityRule:
    """Change a rule; what it already did stays on record (and live) until reversed."""
    rule = QualityRule.objects.select_for_update().get(pk=rule.pk)
    require(user, Action.REVIEW, rule.project.organization_id)
    unknown = set(changes) - RULE_FIELDS
    if unknown:
        raise ValidationError({name: ["Unknown rule setting."] for name in sorted(unknown)})
    for name, value in changes.items():
        setattr(rule, name, value)
    check_rule({name: getattr(rule, name) for name in RULE_FIELDS})
    rule.save()
    return rule


@transaction.atomic
def delete_rule(*, user, rule: QualityRule) -> None:
    """Delete a rule; its actions stay on record, and live until a QA lead reverses them."""
    require(user, Action.REVIEW, rule.project.organization_id)
    rule.delete()


@transaction.atomic(savepoint=False)
def evaluate_rules(project: Project, expert_id: int, *,
                   now: datetime | None = None) -> list[QualityAction]:
    """Apply the project's active rules to one expert; returns the actions taken.

    A rule with a live action on the expert waits until a QA lead reverses it, and after a
    reversal it reads only what the expert did since, so it never acts twice on one state.
    Experts removed from the project are left alone: nothing they do there can change.
    """
    now = now or timezone.now()
    if ProjectExpert.objects.filter(project=project, expert_id=expert_id,
                                    access=ProjectExpert.Access.REMOVED).exists():
        return []
    active = list(QualityRule.objects.filter(project=project, active=True))
    live: set[int] = set()
    since: dict[int, datetime] = {}
    for rule_id, reversed_at in QualityAction.objects.filter(
            rule__in=active, expert_id=expert_id).values_list("rule_id", "reversed_at"):
        if reversed_at is None:
            live.add(rule_id)
        elif rule_id not in since or reversed_at > since[rule_id]:
            since[rule_id] = reversed_at
    taken = []
    for rule in active:
        if rule.pk in live:
            continue
        measurement = metrics.measure(rule, project, expert_id, since=since.get(rule.pk),
                                      now=now)
        if (measurement.value is None or measurement.evidence < rule.min_evidence
                or not metrics.breaches(rule.comparator, measurement.value, float(rule.value))):
            continue
        action = _act(rule, project, expert_id, measurement, now)
        if action is not None:
            taken.append(action)
            if action.action == QualityRule.Action.REMOVE:
                break
    return taken


def _act(rule: QualityRule, project: Project, expert_id: int,
         measurement: metrics.Measurement, now: datetime) -> QualityAction | None:
    try:
        with transaction.atomic():
            action = QualityAction.objects.create(
                rule=rule, project=project, expert_id=expert_id, action=rule.action,
                reason=metrics.describe(rule, measurement), metric_value=measurement.value,
                details={"metric": rule.metric, "evidence": measurement.evidence})
    except IntegrityError:  # a concurrent evaluation acted on the same finding first
        return None
    EFFECTS[rule.action](action, project, now)
    action.save(update_fields=["details"])
    return action


def _flag(action: QualityAction, project: Project, now: datetime) -> None:
    """A flag only records the finding, for the QA lead and the expert to see."""


def _require_review(action: QualityAction, project: Project, now: datetime) -> None:
    roster, _ = ProjectExpert.objects.select_for_update().get_or_create(
        project=project, expert_id=action.expert_id)
    roster.review_all = True
    roster.save(update_fields=["review_all", "updated_at"])
    waiting = list(Annotation.objects.filter(
        project=project, expert_id=action.expert_id,
        assignment__status=Assignment.Status.SUBMITTED).values_list("pk", flat=True))
    enqueue_reviews(waiting, project_id=project.pk, reason=Review.Reason.RULE)
    action.details["queued_for_review"] = len(waiting)


def _remove(action: QualityAction, project: Project, now: datetime) -> None:
    roster, created = ProjectExpert.objects.select_for_update().get_or_create(
        project=project, expert_id=action.expert_id,
        defaults={"access": ProjectExpert.Access.REMOVED, "reason": action.reason})
    action.details["previous_access"] = None if created else roster.access
    roster.access, roster.reason = ProjectExpert.Access.REMOVED, action.reason
    roster.save(update_fields=["access", "reason", "updated_at"])
    mine = Assignment.objects.filter(project=project, expert_id=action.expert_id)
    voided = list(mine.filter(status=Assignment.Status.SUBMITTED).order_by("pk")
                  .values_list("pk", flat=True))
    for assignment_id in voided:
        task_services.reject_assignment(Assignment(pk=assignment_id))
    for annotation in Annotation.objects.filter(assignment_id__in=voided):
        _decide(annotation, reviewer=None, verdict=Review.Verdict.REJECT,
                comment=f"Voided: you were removed from the project. {action.reason}.",
                now=now)
    leases = list(mine.select_for_update().filter(status=Assignment.Status.ASSIGNED))
    release(leases, status=Assignment.Status.EXPIRED, now=now)
    action.details["voided_assignments"] = voided
    action.details["released_assignments"] = [lease.pk for lease in leases]


def _suspend(action: QualityAction, project: Project, now: datetime) -> None:
    """Suspend every expertise that admits the expert to the project (the domain's own, its
    parent's and its subdomains'), since any one of them lets routing through."""
    until = now + timedelta(days=action.rule.suspend_days)
    parent_id = Domain.objects.values_list("parent_id", flat=True).get(pk=project.domain_id)
    changed = []
    for expertise in Expertise.objects.select_for_update(of=("self",)).filter(
            admitting(project.domain_id, parent_id), expert_id=action.expert_id):
        changed.append({"id": expertise.pk, "until": until.isoformat(),
                        "previous_until": expertise.suspended_until.isoformat()
                        if expertise.suspended_until else None,
                        "previous_reason": expertise.suspension_reason})
        expertise.suspended_until = max(until, expertise.suspended_until or until)
        expertise.suspension_reason = action.reason
        expertise.save(update_fields=["suspended_until", "suspension_reason"])
    action.details["suspended_until"] = until.isoformat()
    action.details["expertise"] = changed


EFFECTS = {
    QualityRule.Action.FLAG: _flag,
    QualityRule.Action.REQUIRE_REVIEW: _require_review,
    QualityRule.Action.REMOVE: _remove,
    QualityRule.Action.SUSPEND: _suspend,
}


def _other_live(action: QualityAction) -> bool:
    return QualityAction.objects.filter(
        project_id=action.project_id, expert_id=action.expert_id, action=action.action,
        reversed_at__isnull=True).exclude(pk=action.pk).exists()


def _undo_review(action: QualityAction) -> str:
    if _other_live(action):
        return "Another live action still has all of this expert's work reviewed."
    ProjectExpert.objects.filter(project_id=action.project_id,
                                 expert_id=action.expert_id).update(review_all=False)
    return ("New work is no longer reviewed as a rule; annotations already in the review "
            "queue stay there.")


def _undo_remove(action: QualityAction) -> str:
    voided = len(action.details.get("voided_assignments", []))
    kept = (f" The {voided} annotation(s) voided by the removal stay voided; a QA lead may "
            f"overturn each rejection within {OVERTURN_WINDOW.days} days." if voided else "")
    if _other_live(action):
        return "Another live action still keeps the expert off the project." + kept
    ProjectExpert.objects.filter(project_id=action.project_id,
                                 expert_id=action.expert_id).update(
        access=ProjectExpert.Access.ALLOWED, reason="", updated_at=timezone.now())
    return "The expert may work on the project again." + kept


def _undo_suspend(action: QualityAction) -> str:
    lifted = 0
    for change in action.details.get("expertise", []):
        previous = change["previous_until"]
        # A suspension set later than this one is someone else's decision: leave it.
        lifted += Expertise.objects.filter(
            pk=change["id"], suspended_until=datetime.fromisoformat(change["until"])).update(
            suspended_until=datetime.fromisoformat(previous) if previous else None,
            suspension_reason=change["previous_reason"])
    return "The suspension was lifted." if lifted else "A later suspension remains in force."


UNDO = {
    QualityRule.Action.FLAG: lambda action: "The flag was withdrawn.",
    QualityRule.Action.REQUIRE_REVIEW: _undo_review,
    QualityRule.Action.REMOVE: _undo_remove,
    QualityRule.Action.SUSPEND: _undo_suspend,
}


@transaction.atomic
def reverse_action(*, action_id: int, user, note: str = "") -> QualityAction:
    """A QA lead undoes what a rule did: re-allow, stop reviewing everything, lift the
    suspension. Voided annotations stay voided (each may be overturned on its own)."""
    action = (QualityAction.objects.select_for_update(of=("self",))
              .select_related("project__organization").get(pk=action_id))
    require(user, Action.REVIEW, action.project.organization_id)
    if action.reversed_at is not None:
        raise Conflict("This action was already reversed.", code="already_reversed")
    action.reversed_at, action.reversed_by = timezone.now(), user
    action.reversal_note = note.strip()
    action.save(update_fields=["reversed_at", "reversed_by", "reversal_note"])
    action.details["reversal"] = UNDO[action.action](action)
    action.save(update_fields=["details"])
    return action


# Qualification tests.

def _schema_error(exc: schema.SchemaError) -> ValidationError:
    return ValidationError(exc.errors)


def check_qualification_items(fields: list[dict], questions: list[dict],
                              items: Sequence[dict]) -> list[str]:
    """Problems with test items (`{"data", "gold"}`), named by position: every item needs
    valid data and a gold answer that scores at least one question."""
    validator = schema.ItemValidator(fields, questions)
    problems = []
    for n, item in enumerate(items):
        found = validator.validate(item.get("data"))
        if not found:
            found = validator.validate_gold(item["data"], item.get("gold"))
            if not found and not item["gold"]:
                found = [("gold", "A gold answer needs at least one question.")]
        problems += [f"items[{n}].{where}: {message}" for where, message in found]
    return problems


@transaction.atomic
def create_qualification_test(*, user, domain: Domain, name: str, fields: list,
                              questions: list, items: Sequence[dict],
                              **options: Any) -> QualificationTest:
    """Operators write a domain's test: its schema, settings and gold items in one go."""
    require(user, Action.OPERATE, message="Only operators write qualification tests.")
    try:
        fields, questions = schema.build_schema(None, fields, questions)
    except schema.SchemaError as exc:
        raise _schema_error(exc) from exc
    if not items:
        raise ValidationError({"items": ["A test needs at least one item."]})
    problems = check_qualification_items(fields, questions, items)
    if problems:
        raise ValidationError({"items": problems})
    test = QualificationTest.objects.create(domain=domain, name=name, fields=fields,
                                            questions=questions, **options)
    QualificationItem.objects.bulk_create(
        [QualificationItem(test=test, data=item["data"], gold=item["gold"]) for item in items])
    return test


def retry_at(test: QualificationTest, last: QualificationAttempt | None) -> datetime | None:
    """When the expert may start the test again after their last attempt; None if now."""
    if last is None or last.status == QualificationAttempt.Status.IN_PROGRESS:
        return None
    if last.status == QualificationAttempt.Status.PASSED:
        return None
    ended = last.submitted_at or last.expires_at
    return ended + timedelta(seconds=test.retry_after_s)


def expire_attempts(*, now: datetime | None = None, **filters: Any) -> int:
    """Attempts whose time ran out without an answer count as expired (and as a failure
    for the retry wait)."""
    return QualificationAttempt.objects.filter(
        status=QualificationAttempt.Status.IN_PROGRESS, expires_at__lte=now or timezone.now(),
        **filters).update(status=QualificationAttempt.Status.EXPIRED)


@transaction.atomic
def start_attempt(*, test_id: int, user,
                  rng: random.Random | None = None) -> QualificationAttempt:
    """Draw the test's items for the expert and start the clock.

    Items the expert met in earlier attempts come last, so a retry is a new test as far as
    the item pool allows. Refused while an attempt runs, after a pass, and before
    `retry_after_s` has passed since a failed or expired attempt.
    """
    profile = ExpertProfile.objects.select_for_update().filter(user=user).first()
    check_can_work(profile)
    test = QualificationTest.objects.get(pk=test_id, active=True)
    now = timezone.now()
    expire_attempts(now=now, test=test, expert=user)
    attempts = QualificationAttempt.objects.filter(test=test, expert=user)
    last = attempts.first()
    if last is not None and last.status == QualificationAttempt.Status.IN_PROGRESS:
        raise Conflict(f"You have an attempt in progress until {last.expires_at:%Y-%m-%d %H:%M} "
                       f"UTC; submit it first.", code="attempt_in_progress")
    if attempts.filter(status=QualificationAttempt.Status.PASSED).exists():
        raise Conflict("You passed this test already.", code="already_passed")
    retry = retry_at(test, last)
    if retry is not None and retry > now:
        raise Conflict(f"You may retry this test from {retry:%Y-%m-%d %H:%M} UTC.",
                       code="retry_later")
    pool = list(test.items.values_list("pk", flat=True))
    if not pool:
        raise Conflict("This test has no items yet.", code="no_items")
    seen = set(QualificationAttempt.items.through.objects.filter(
        qualificationattempt__in=attempts).values_list("qualificationitem_id", flat=True))
    rng = rng or random.SystemRandom()
    rng.shuffle(pool)
    pool.sort(key=lambda pk: pk in seen)
    attempt = QualificationAttempt.objects.create(
        test=test, expert=user, started_at=now,
        expires_at=now + timedelta(seconds=test.time_limit_s))
    attempt.items.set(pool[:test.items_per_attempt])
    return attempt


def _grade(test: QualificationTest, items: dict[str, QualificationItem],
           answers: Any) -> list[float]:
    """Check every answer (all or nothing, like an assignment's) and score each item."""
    if not isinstance(answers, dict):
        raise ValidationError({"answers": ["Expected an object mapping item ids to answers."]})
    problems = [f"item {key}: not part of this attempt" for key in answers
                if str(key) not in items]
    answers = {str(key): value for key, value in answers.items()}
    for key, item in items.items():
        if answers.get(key) is None:
            problems.append(f"item {key}: no answer")
            continue
        errors = schema.validate_answer(test.questions, item.data, answers[key])
        problems += [f"item {key}: {name}: {message}" for name, messages in errors.items()
                     for message in messages]
    if problems:
        raise ValidationError({"answers": problems})
    scores = [score_against_gold(test.questions, answers[key], item.gold)[0]
              for key, item in items.items()]
    return [score for score in scores if score is not None]


def submit_attempt(*, attempt_id: int, user, answers: Any) -> QualificationAttempt:
    """Score the attempt; at the test's pass mark the expert is qualified in its domain.

    Each scored item also counts as a gold answer in the domain's trust, so a newly
    qualified expert arrives with earned trust rather than the prior alone. An attempt past
    its time limit becomes expired (that is kept) and the submission is refused.
    """
    with transaction.atomic():
        attempt = (QualificationAttempt.objects.select_for_update(of=("self",))
                   .select_related("test").get(pk=attempt_id, expert=user))
        if attempt.status != QualificationAttempt.Status.IN_PROGRESS:
            raise Conflict(f"This attempt is already {attempt.status}.",
                           code=f"already_{attempt.status}")
        now = timezone.now()
        expired = attempt.expires_at <= now
        if expired:
            attempt.status = QualificationAttempt.Status.EXPIRED
            attempt.save(update_fields=["status"])
        else:
            _finish(attempt, user, answers, now)
    if expired:
        raise Conflict(f"The time for this attempt ran out at "
                       f"{attempt.expires_at:%Y-%m-%d %H:%M:%S} UTC.", code="expired")
    return attempt


def _finish(attempt: QualificationAttempt, user, answers: Any, now: datetime) -> None:
    test = attempt.test
    items = {str(item.pk): item for item in attempt.items.all()}
    scores = _grade(test, items, answers)
    score = Decimal(f"{statistics.fmean(scores):.4f}") if scores else Decimal(0)
    attempt.answers = {str(key): value for key, value in answers.items()}
    attempt.score, attempt.submitted_at = score, now
    passed = score >= test.pass_mark
    attempt.status = (QualificationAttempt.Status.PASSED if passed
                      else QualificationAttempt.Status.FAILED)
    attempt.save(update_fields=["answers", "score", "submitted_at", "status"])
    if passed:
        qualify_expertise(expert=user.expert_profile, domain=test.domain, score=score,
                          source=Expertise.Source.TEST)
    if scores:
        _fold_domain_trust(user.pk, test.domain_id, scores)

