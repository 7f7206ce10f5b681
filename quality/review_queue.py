"""The review queue: which annotations wait for a QA lead's verdict, in what order, and on
which projects a user may give one; putting annotations in it and closing their reviews.

The REST API's queue and the workspace's review pages read the same QuerySets, so both
show the same work in the same order: what a rule sent first, then disputed items, then
requested reviews, then the random sample; oldest first within each.
"""

import hashlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet

from accounts.access import ROLES_FOR, Action
from tasks.models import Annotation, Assignment, Project

from .models import Review

WAITING = Q(reviews__verdict="",
            reviews__annotation__assignment__status=Assignment.Status.SUBMITTED)


def waiting_reviews(project: Project | int) -> QuerySet[Review]:
    """The project's reviews waiting for a verdict, most important first."""
    return (Review.objects.filter(project=project, verdict="",
                                  annotation__assignment__status=Assignment.Status.SUBMITTED)
            .order_by("-priority", "created_at", "id"))


def reviewable_projects(user) -> QuerySet[Project]:
    """The projects whose work the user may judge (as a QA lead, owner or admin of the
    project's organization, or as an operator), each with the number of reviews waiting."""
    if not user.is_authenticated:
        return Project.objects.none()
    projects = Project.objects.all()
    if not user.is_staff:
        projects = projects.filter(organization__memberships__user=user.pk,
                                   organization__memberships__role__in=ROLES_FOR[Action.REVIEW])
    return projects.annotate(waiting=Count("reviews", filter=WAITING))


def next_waiting(project: Project | int, *, after: int | None = None) -> Review | None:
    """The first review in the queue, leaving out the annotation just decided."""
    reviews = waiting_reviews(project)
    if after is not None:
        reviews = reviews.exclude(annotation_id=after)
    return reviews.first()


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


def decide(annotation: Annotation, *, reviewer, verdict: str, comment: str = "",
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

