"""An expert's own record of work: what became of each answer, in words the expert may read.

Experts read the outcome of a review and the reviewer's reason, never who the reviewer is:
the reviewer is named by their role in the customer's organization ("QA lead"), as the API
shows experts the reason and no reviewer. Gold flags, gold answers and other experts' answers
are not read here at all.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from accounts.models import Membership
from tasks.models import Annotation, Assignment, Project
from tasks.signals import assignment_pay_requested

from .models import Appeal, QualityAction, Review

OPERATOR = "Platform operator"
RULE = "Quality rule"
DEADLINE = "Appeal deadline"


@dataclass(frozen=True)
class Outcome:
    """Where an answer stands after review, for one row of the expert's history."""

    code: str  # accepted, rejected, fixed, approved, waiting or "" (nothing to review)
    label: str
    reviewer: str = ""
    comment: str = ""
    decided_at: datetime | None = None


VERDICTS = {Review.Verdict.ACCEPT: ("accepted", "Accepted"),
            Review.Verdict.REJECT: ("rejected", "Rejected"),
            Review.Verdict.FIX: ("fixed", "Fixed by the reviewer")}


def assignments_of(expert) -> QuerySet[Assignment]:
    """The expert's assignments, newest first, with what a history row shows."""
    return (Assignment.objects.held_by(expert)
            .select_related("project", "item", "annotation")
            .only("id", "status", "leased_at", "submitted_at", "finished_at", "price",
                  "project__id", "project__name", "project__currency",
                  "project__contract", "project__organization_id", "item__id", "item__external_id",
                  "annotation__id", "annotation__held_for_review")
            .order_by("-leased_at", "-id"))


def reviewer_roles(reviews: Sequence[Review],
                   organization_of: dict[int, int]) -> dict[int, str]:
    """Each review's reviewer as the expert may know them: their role in the organization
    whose work it is, "Platform operator" for staff, "Quality rule" when a rule decided."""
    reviewers = {review.reviewer_id for review in reviews if review.reviewer_id}
    memberships = Membership.objects.filter(
        user_id__in=reviewers, organization_id__in=set(organization_of.values())
    ).values_list("user_id", "organization_id", "role")
    role_of = {(user, org): Membership.Role(role).label for user, org, role in memberships}
    words = {}
    for review in reviews:
        if review.reviewer_id is None:
            # Nobody decided: a rule voided the work, or an appeal's deadline passed.
            words[review.pk] = RULE if review.verdict == Review.Verdict.REJECT else DEADLINE
            continue
        organization = organization_of[review.annotation_id]
        words[review.pk] = role_of.get((review.reviewer_id, organization)) or (
            OPERATOR if review.reviewer.is_staff else "Reviewer")
    return words


def reviews_by_annotation(annotation_ids: Iterable[int]) -> dict[int, list[Review]]:
    """Every review of these annotations, oldest first, pending ones included."""
    found: dict[int, list[Review]] = {}
    for review in (Review.objects.filter(annotation_id__in=list(annotation_ids))
                   .select_related("reviewer").order_by("created_at", "id")):
        found.setdefault(review.annotation_id, []).append(review)
    return found


def outcome(assignment: Assignment, reviews: Sequence[Review], roles: dict[int, str]) -> Outcome:
    decided = [review for review in reviews if review.verdict]
    if decided:
        last = max(decided, key=lambda review: (review.decided_at, review.pk))
        code, label = VERDICTS[last.verdict]
        return Outcome(code, label, roles[last.pk], last.comment, last.decided_at)
    status = assignment.status
    if status == Assignment.Status.APPROVED:
        return Outcome("approved", "Approved automatically", decided_at=assignment.finished_at)
    if status == Assignment.Status.REJECTED:
        return Outcome("rejected", "Rejected", decided_at=assignment.finished_at)
    if status == Assignment.Status.SUBMITTED:
        waiting = any(not review.verdict for review in reviews)
        return Outcome("waiting", "Waiting for review" if waiting else "Waiting for approval")
    return Outcome("", "")


def annotation_of(assignment: Assignment) -> Annotation | None:
    """The assignment's answer; None until it was submitted (or when it was skipped)."""
    try:
        return assignment.annotation
    except Annotation.DoesNotExist:
        return None


def outcomes(assignments: Sequence[Assignment]) -> dict[int, Outcome]:
    """The outcome of each assignment, keyed by its id, in two queries for any number."""
    answered = {annotation.pk: a for a in assignments
                if (annotation := annotation_of(a)) is not None}
    reviews = reviews_by_annotation(answered)
    flat = [review for group in reviews.values() for review in group]
    roles = reviewer_roles(flat, {pk: a.project.organization_id for pk, a in answered.items()})
    return {a.pk: outcome(a, reviews.get(getattr(annotation_of(a), "pk", None), []), roles)
            for a in assignments}


@dataclass(frozen=True)
class Record:
    """One assignment read back in full: its answer, its outcome and every verdict on it,
    each with the reviewer's role."""

    annotation: Annotation | None
    outcome: Outcome
    verdicts: list[tuple[Review, str]]


def record_of(assignment: Assignment) -> Record:
    annotation = annotation_of(assignment)
    if annotation is None:
        return Record(None, outcome(assignment, [], {}), [])
    reviews = reviews_by_annotation([annotation.pk]).get(annotation.pk, [])
    roles = reviewer_roles(reviews, {annotation.pk: assignment.project.organization_id})
    return Record(annotation, outcome(assignment, reviews, roles),
                  [(review, roles[review.pk]) for review in reviews if review.verdict])


def pay(expert, assignments: Sequence[Assignment]) -> dict[int, tuple[Decimal, str]]:
    """What the expert was paid for each approved assignment, and for hourly work whatever
    became of it (its time is paid weekly, rejected or not), as the app that keeps the money
    answers it: ``{assignment_id: (amount, currency)}``; unpaid work is absent."""
    approved = [a.pk for a in assignments if a.status == Assignment.Status.APPROVED
                or a.project.contract == Project.Contract.HOURLY]
    paid: dict[int, tuple[Decimal, str]] = {}
    if approved:
        for _, answer in assignment_pay_requested.send(sender=Assignment, expert=expert,
                                                       assignment_ids=approved):
            paid.update(answer or {})
    return paid


def actions_of(expert) -> QuerySet[QualityAction]:
    """Quality actions taken on the expert, newest first: what, why, and whether undone."""
    return (QualityAction.objects.filter(expert=expert.pk).select_related("project")
            .only("id", "action", "reason", "created_at", "reversed_at", "reversal_note",
                  "details", "project__id", "project__name")
            .order_by("-created_at", "-id"))


def appeals_of(expert) -> QuerySet[Appeal]:
    """The expert's appeals, newest first, with what they appealed."""
    return (Appeal.objects.of_expert(expert)
            .select_related("project", "annotation__item", "quality_action", "decided_by")
            .order_by("-created_at", "-id"))


def appeals_on(expert, *, annotation_ids: Iterable[int] = (),
               action_ids: Iterable[int] = ()) -> dict[tuple[str, int], Appeal]:
    """The expert's appeals of these annotations and quality actions, keyed
    ``("annotation", id)`` or ``("quality_action", id)``, in one query."""
    annotation_ids, action_ids = list(annotation_ids), list(action_ids)
    if not annotation_ids and not action_ids:
        return {}
    found = {}
    for appeal in appeals_of(expert).filter(Q(annotation_id__in=annotation_ids)
                                            | Q(quality_action_id__in=action_ids)):
        if appeal.annotation_id:
            found["annotation", appeal.annotation_id] = appeal
        else:
            found["quality_action", appeal.quality_action_id] = appeal
    return found
