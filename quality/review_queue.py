"""The review queue: which annotations wait for a QA lead's verdict, in what order, and on
which projects a user may give one.

The REST API's queue and the workspace's review pages read the same QuerySets, so both
show the same work in the same order: what a rule sent first, then disputed items, then
requested reviews, then the random sample; oldest first within each.
"""

from django.db.models import Count, Q, QuerySet

from accounts.access import ROLES_FOR, Action
from tasks.models import Assignment, Project

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
