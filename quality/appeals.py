"""Appeals: an expert asks, once, for a rejection or a quality action to be looked at again.

An appeal goes to a QA lead other than the one who decided first, where the organization has
one: among its members with the review right, the one with the fewest pending appeals. The
decision and its reason are recorded for both sides. Upheld, a rejection is overturned and
paid (the money app held its price when the appeal was filed), and a quality action is undone
as a reversal undoes it, a removal's voided work overturned and paid too. An appeal nobody
decides by ``due_at`` is upheld automatically: a customer who lets it lapse loses it.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.access import ROLES_FOR, Action, require
from accounts.models import Membership
from config.exceptions import Conflict
from tasks import services as task_services
from tasks import webhooks
from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment, Project
from tasks.signals import assignment_pay_requested, rejection_appeal_denied, rejection_appealed

from .history import DEADLINE, OPERATOR
from .models import Appeal, QualityAction, QualityRule, Review
from .rules import UNDO

logger = logging.getLogger(__name__)

FIRST_DECIDER_REFUSAL = ("You decided this first; another QA lead decides this appeal, so that "
                         "the expert gets a second pair of eyes.")


def window() -> timedelta:
    return timedelta(days=settings.APPEAL_WINDOW_DAYS)


def appealable_until(moment: datetime | None) -> datetime | None:
    """The last moment a decision taken at ``moment`` may be appealed."""
    return moment + window() if moment else None


def open_for_appeal(decided_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether a decision taken at ``decided_at`` may still be appealed."""
    until = appealable_until(decided_at)
    return until is not None and (now or timezone.now()) <= until


# Filing -------------------------------------------------------------------------------------

def _rejected_work(expert, annotation_id: int) -> tuple[Annotation, datetime]:
    annotation = (Annotation.objects.select_related("assignment", "project")
                  .get(pk=annotation_id, expert_id=expert.pk))
    assignment = Assignment.objects.select_for_update().get(pk=annotation.assignment_id)
    if assignment.status != Assignment.Status.REJECTED:
        raise Conflict(f"Only rejected work can be appealed; this is {assignment.status}.",
                       code="not_rejected")
    annotation.assignment = assignment
    return annotation, assignment.finished_at


def _first_reviewer_id(annotation_id: int) -> int | None:
    """Who rejected: the reviewer of the latest rejecting review; None when a rule voided
    the work (its review has no reviewer)."""
    return (Review.objects.filter(annotation_id=annotation_id, verdict=Review.Verdict.REJECT)
            .order_by("-decided_at", "-id").values_list("reviewer_id", flat=True).first())


def choose_assignee(organization_id: int, first_decided_by_id: int | None, expert_id: int):
    """The organization's member with the review right, other than the first decider and
    the expert, with the fewest pending appeals (the lowest id on a tie); None when there is
    no such member."""
    reviewers = Membership.objects.filter(organization_id=organization_id,
                                          role__in=ROLES_FOR[Action.REVIEW])
    candidates = (get_user_model().objects.filter(pk__in=reviewers.values("user_id"),
                                                  is_active=True)
                  .exclude(pk__in=[first_decided_by_id, expert_id])
                  .annotate(pending=Count("assigned_appeals",
                                          filter=Q(assigned_appeals__status=Appeal.Status.PENDING)))
                  .order_by("pending", "pk"))
    return candidates.first()


@transaction.atomic
def file_appeal(*, expert, reason: str, annotation_id: int | None = None,
                quality_action_id: int | None = None) -> Appeal:
    """The expert appeals their own rejected annotation or a quality action in force on
    them, within APPEAL_WINDOW_DAYS of the decision, once. Another expert's work does not
    exist for them (DoesNotExist)."""
    if (annotation_id is None) == (quality_action_id is None):
        raise ValidationError({"non_field_errors": [
            "Appeal either one annotation or one quality action."]})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the decision should change."]})
    now = timezone.now()
    if annotation_id is not None:
        annotation, decided_at = _rejected_work(expert, annotation_id)
        project, first = annotation.project, _first_reviewer_id(annotation.pk)
        subject = {"subject": Appeal.Subject.REJECTION, "annotation": annotation}
        existing = Appeal.objects.filter(annotation_id=annotation.pk)
    else:
        action = (QualityAction.objects.select_for_update(of=("self",)).select_related("project")
                  .get(pk=quality_action_id, expert_id=expert.pk))
        if action.reversed_at is not None:
            raise Conflict("This action was reversed already; there is nothing to appeal.",
                           code="reversed")
        project, first, decided_at = action.project, None, action.created_at
        subject = {"subject": Appeal.Subject.QUALITY_ACTION, "quality_action": action}
        existing = Appeal.objects.filter(quality_action_id=action.pk)
    if existing.exists():
        raise Conflict("You appealed this decision already; an appeal is heard once.",
                       code="already_appealed")
    if decided_at and not open_for_appeal(decided_at, now):
        raise Conflict(f"Decisions may be appealed for {settings.APPEAL_WINDOW_DAYS} days; this "
                       f"one is from {decided_at:%Y-%m-%d}.", code="too_late")
    assignee = choose_assignee(project.organization_id, first, expert.pk)
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                project=project, expert=expert, reason=reason, first_decided_by_id=first,
                assignee=assignee, due_at=now + timedelta(days=settings.APPEAL_DECISION_DAYS),
                **subject)
    except IntegrityError as exc:  # a concurrent filing of the same appeal won
        raise Conflict("You appealed this decision already; an appeal is heard once.",
                       code="already_appealed") from exc
    if appeal.subject == Appeal.Subject.REJECTION:
        rejection_appealed.send(sender=Project, assignment=annotation.assignment,
                                appeal_id=appeal.pk)
    webhooks.appeal_filed(payload(appeal))
    return appeal


# Deciding -----------------------------------------------------------------------------------

def _paid(expert_id: int, assignment_ids: list[int]) -> dict[int, tuple[Decimal, str]]:
    """What the expert was paid for these assignments, as the money app answers."""
    paid: dict[int, tuple[Decimal, str]] = {}
    if assignment_ids:
        for _, answer in assignment_pay_requested.send(sender=Assignment, expert=expert_id,
                                                       assignment_ids=assignment_ids):
            paid.update(answer or {})
    return paid


def _overturn(assignment_id: int, *, by, note: str, now: datetime) -> bool:
    """Approve rejected work as the appeal decided, with a review on record for the expert's
    history; False when the work is no longer rejected."""
    assignment = Assignment.objects.select_for_update().get(pk=assignment_id)
    if assignment.status != Assignment.Status.REJECTED:
        return False
    task_services.overturn_rejection(assignment, by=by)
    annotation = Annotation.objects.get(assignment_id=assignment_id)
    Review.objects.create(
        annotation=annotation, project_id=annotation.project_id, reason=Review.Reason.MANUAL,
        priority=Review.PRIORITY["manual"], reviewer=by, verdict=Review.Verdict.ACCEPT,
        comment=note, decided_at=now)
    Annotation.objects.filter(pk=annotation.pk).update(held_for_review=False)
    return True


def _pay_lines(appeal: Appeal, assignment_ids: list[int]) -> list[dict[str, Any]]:
    paid = _paid(appeal.expert_id, assignment_ids)
    return [{"assignment": pk, "amount": str(paid[pk][0]), "currency": paid[pk][1]}
            for pk in assignment_ids if pk in paid]


def _uphold_rejection(appeal: Appeal, *, by, now: datetime) -> dict[str, Any]:
    assignment_id = appeal.annotation.assignment_id
    if not _overturn(assignment_id, by=by, note=f"Rejection overturned on appeal. "
                                                f"{appeal.decision_reason}", now=now):
        return {"restored": "The work was no longer rejected; nothing changed."}
    details: dict[str, Any] = {"restored": "The rejection was overturned: the work is approved.",
                               "overturned_assignments": [assignment_id],
                               "paid": _pay_lines(appeal, [assignment_id])}
    if appeal.project.contract == Project.Contract.HOURLY:
        details["hourly"] = ("Hourly contract: the time on this work was paid with the week's "
                             "hours either way; the work now counts as approved.")
    return details


def _uphold_action(appeal: Appeal, *, by, now: datetime) -> dict[str, Any]:
    action = QualityAction.objects.select_for_update(of=("self",)).get(
        pk=appeal.quality_action_id)
    details: dict[str, Any] = {}
    if action.reversed_at is None:
        action.reversed_at, action.reversed_by = now, by
        action.reversal_note = f"Upheld on appeal. {appeal.decision_reason}"
        action.save(update_fields=["reversed_at", "reversed_by", "reversal_note"])
        # The removal's voided work is overturned below rather than left voided, so the
        # undo reads the action without it.
        undone = QualityAction(pk=action.pk, project_id=action.project_id,
                               expert_id=action.expert_id, action=action.action,
                               details={**action.details, "voided_assignments": []})
        action.details["reversal"] = UNDO[action.action](undone)
        action.save(update_fields=["details"])
        details["restored"] = action.details["reversal"]
    else:
        details["restored"] = "The action had been reversed already."
    if action.action == QualityRule.Action.REMOVE:
        overturned = [pk for pk in action.details.get("voided_assignments", [])
                      if _overturn(pk, by=by, note="Voided work approved: the removal was "
                                                   "overturned on appeal.", now=now)]
        details["overturned_assignments"] = overturned
        details["paid"] = _pay_lines(appeal, overturned)
    return details


@transaction.atomic
def _decide(appeal: Appeal, *, by, upheld: bool, reason: str, automatic: bool = False,
            now: datetime | None = None) -> Appeal:
    now = now or timezone.now()
    appeal.decision_reason = reason
    if upheld and appeal.subject == Appeal.Subject.REJECTION:
        details = _uphold_rejection(appeal, by=by, now=now)
    elif upheld:
        details = _uphold_action(appeal, by=by, now=now)
    else:
        details = {"restored": "Nothing: the decision stands."}
        if appeal.subject == Appeal.Subject.REJECTION:
            rejection_appeal_denied.send(sender=Project, assignment=appeal.annotation.assignment,
                                         appeal_id=appeal.pk)
    appeal.status = Appeal.Status.UPHELD if upheld else Appeal.Status.DENIED
    appeal.decided_by, appeal.decided_at, appeal.automatic = by, now, automatic
    appeal.details = details
    appeal.save(update_fields=["status", "decision_reason", "decided_by", "decided_at",
                               "automatic", "details"])
    webhooks.appeal_decided(payload(appeal))
    return appeal


def _locked(queryset, *, skip_locked: bool = False) -> Appeal | None:
    return (queryset.select_for_update(of=("self",), skip_locked=skip_locked)
            .select_related("project__organization", "annotation__assignment").first())


@transaction.atomic
def decide_appeal(*, appeal_id: int, by, upheld: bool, reason: str) -> Appeal:
    """A QA lead, owner or admin of the project's organization upholds or denies a pending
    appeal, with a reason the expert reads. Nobody decides their own appeal, and the first
    decider may not decide it when another QA lead was assigned. Paying an upheld rejection
    may find the funds short: 409, and the appeal stays pending."""
    appeal = _locked(Appeal.objects.filter(pk=appeal_id))
    if appeal is None:
        raise Appeal.DoesNotExist("No such appeal.")
    require(by, Action.REVIEW, appeal.project.organization_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Give the expert the reason for the decision."]})
    if appeal.status != Appeal.Status.PENDING:
        raise Conflict(f"This appeal was {appeal.status} already.", code="decided")
    if by.pk == appeal.expert_id:
        raise PermissionDenied("Nobody decides their own appeal.")
    if appeal.assignee_id is not None and by.pk == appeal.first_decided_by_id:
        raise PermissionDenied(FIRST_DECIDER_REFUSAL)
    return _decide(appeal, by=by, upheld=upheld, reason=reason)


def lapse_reason(due_at: datetime) -> str:
    return f"No decision by {due_at:%Y-%m-%d %H:%M} UTC: decided in the expert's favour."


def decide_lapsed_appeals(now: datetime | None = None) -> int:
    """Uphold every pending appeal past its deadline, each in a transaction of its own;
    returns how many were decided. Appeals another run is deciding are skipped; one whose
    payment finds the funds short stays pending for the next run."""
    now = now or timezone.now()
    decided = 0
    due = Appeal.objects.filter(status=Appeal.Status.PENDING, due_at__lte=now)
    for appeal_id in due.order_by("due_at", "pk").values_list("pk", flat=True):
        try:
            with transaction.atomic():
                appeal = _locked(due.filter(pk=appeal_id), skip_locked=True)
                if appeal is None:
                    continue
                _decide(appeal, by=None, upheld=True, reason=lapse_reason(appeal.due_at),
                        automatic=True, now=now)
        except Conflict as exc:
            logger.warning("Lapsed appeal %s stays pending: %s", appeal_id, exc.message)
            continue
        decided += 1
    return decided


# Reading --------------------------------------------------------------------------------------

def in_queue_order(queryset: QuerySet[Appeal], *, user=None) -> QuerySet[Appeal]:
    """Pending appeals first (with ``user``, those assigned to them first), soonest due
    first; then decided ones, newest decision first."""
    waiting = Q(status=Appeal.Status.PENDING)
    pending = Case(When(waiting, then=Value(0)), default=Value(1))
    mine = (Case(When(waiting & Q(assignee_id=user.pk), then=Value(0)), default=Value(1))
            if user is not None else Value(1))
    due = Case(When(waiting, then=F("due_at")))
    return queryset.order_by(pending, mine, due.asc(nulls_last=True),
                             F("decided_at").desc(nulls_last=True), "-id")


def decider_roles(appeals: Sequence[Appeal]) -> dict[int, str]:
    """Who decided each appeal, as the expert may know them: the role in the organization, a
    platform operator, or the deadline; never their identity ("" while pending). One query
    for any number of appeals (their project and decided_by loaded with them)."""
    deciders = {appeal.decided_by_id for appeal in appeals if appeal.decided_by_id}
    role_of = {(user, organization): Membership.Role(role).label
               for user, organization, role in Membership.objects.filter(
                   user_id__in=deciders,
                   organization_id__in={appeal.project.organization_id for appeal in appeals}
               ).values_list("user_id", "organization_id", "role")} if deciders else {}
    words = {}
    for appeal in appeals:
        if appeal.automatic:
            words[appeal.pk] = DEADLINE
        elif appeal.decided_by_id is None:
            words[appeal.pk] = ""
        else:
            words[appeal.pk] = role_of.get((appeal.decided_by_id,
                                            appeal.project.organization_id)) or (
                OPERATOR if appeal.decided_by.is_staff else "Reviewer")
    return words


def payload(appeal: Appeal) -> dict[str, Any]:
    """The appeal as the customer's webhook receives it: the expert by pseudonym."""
    return {
        "id": appeal.pk, "project": appeal.project_id, "subject": appeal.subject,
        "annotation": appeal.annotation_id, "quality_action": appeal.quality_action_id,
        "expert": expert_pseudonym(appeal.project_id, appeal.expert_id),
        "reason": appeal.reason, "status": appeal.status,
        "due_at": appeal.due_at.isoformat(),
        "decision_reason": appeal.decision_reason,
        "decided_at": appeal.decided_at.isoformat() if appeal.decided_at else None,
        "automatic": appeal.automatic, "details": appeal.details,
    }
