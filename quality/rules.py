"""Quality rules: their definitions, what they do to an expert, and undoing it.

A rule reads one metric (quality.metrics) for one expert over a window and, when the value
breaches its threshold on enough evidence, acts: flag, require review of all the expert's
work, remove the expert from the project, or suspend the expertise that admits them. Each
action is recorded with its reason in words and stays live until a QA lead reverses it.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import Action, require
from accounts.models import Domain, Expertise
from config.exceptions import Conflict
from tasks import services as task_services
from tasks.models import Annotation, Assignment, Project, ProjectExpert
from tasks.routing import admitting, release

from . import metrics
from .models import QualityAction, QualityRule, Review
from .review_queue import decide, enqueue_reviews


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
        decide(annotation, reviewer=None, verdict=Review.Verdict.REJECT,
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
            f"overturn each rejection within {Review.OVERTURN_WINDOW.days} days." if voided else "")
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

