"""Active time on leases and the weekly cap of hourly contracts.

A lease's active time (``Assignment.active_s``) grows from the expert's heartbeats: the
workspace sends one while an item is open and focused, API clients may too. Time is booked
to the week in which its lease began (weeks run from Monday 00:00 UTC), for the cap and for
the weekly payment alike, so that one lease never splits between two weeks.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ExpertProfile
from config.exceptions import Conflict
from config.transactions import retried_on_deadlock

from .models import Assignment, Project


def week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of the week holding `moment`."""
    utc = moment.astimezone(UTC)
    monday = utc.date() - timedelta(days=utc.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def cap_seconds(project: Project) -> int:
    """The project's weekly cap per expert, in seconds."""
    return int(project.weekly_cap_hours * 3600)


def logged_seconds(project_id: int, expert_id: int, week: datetime) -> int:
    """Active seconds the expert logged on the project's leases of the week starting `week`."""
    total = (Assignment.objects
             .filter(project_id=project_id, expert_id=expert_id, leased_at__gte=week,
                     leased_at__lt=week + timedelta(days=7))
             .aggregate(total=Sum("active_s"))["total"])
    return int(total or 0)


def cap_left_s(project: Project, expert_id: int, now: datetime) -> int:
    """Seconds the expert may still log on the project this week; the cap binds hourly
    contracts only, so per-task projects have no limit here (None would mislead callers
    that add, so they get the week's length)."""
    if project.contract != Project.Contract.HOURLY:
        return 7 * 24 * 3600
    return max(0, cap_seconds(project) - logged_seconds(project.pk, expert_id,
                                                        week_start(now)))


@dataclass(frozen=True)
class Heartbeat:
    """What one heartbeat did: the lease's active time, the seconds this beat added, and the
    expert's week on the project (the lease's week) against its cap, None without one."""

    active_s: int
    counted_s: int
    week_logged_s: int
    cap_left_s: int | None
    cap_reached: bool


def counted_seconds(previous: datetime, now: datetime, *, idle_gap_s: int,
                    cap_left: int | None = None) -> int:
    """Whole seconds of activity between the expert's previous sign of activity and now.

    A gap longer than the idle threshold counts nothing at all: the expert was away, and
    nobody can tell which part of it was work. Seconds are rounded down, so that the time
    counted never exceeds the time that passed; `cap_left` bounds the result.
    """
    gap = (now - previous).total_seconds()
    if gap <= 0 or gap > idle_gap_s:
        return 0
    counted = int(gap)
    return counted if cap_left is None else max(0, min(counted, cap_left))


def lock_expert(expert_id: int) -> None:
    """Queue the expert's own activity behind the profile row: two tabs or two leases
    beating at once read each other's last activity instead of counting one moment twice.
    Every path that counts activity takes this lock after the assignment's, and only when
    it counts: a submission of a lease without heartbeats, nearly every submission made
    through the API, takes none. (`next` takes it first, but never waits on a lease.)"""
    list(ExpertProfile.objects.select_for_update().filter(pk=expert_id).values_list("pk"))


@dataclass(frozen=True)
class Gap:
    """The activity a lease may count now, and the week it is booked to."""

    counted_s: int
    week_logged_s: int  # the expert's seconds on the project that week, before counting
    cap_s: int | None


def final_gap(assignment: Assignment, project: Project, now: datetime) -> Gap:
    """What the expert's activity since their previous sign of it adds to this lease.

    The previous sign is the latest `last_active_at` among all the expert's leases, or this
    lease's start when that is later; the caller holds `lock_expert`. On an hourly project
    the week's total never passes the cap. One query, for heartbeats, submissions and skips.
    """
    week = week_start(assignment.leased_at)
    mine = Assignment.objects.filter(expert_id=assignment.expert_id)
    hourly = project.contract == Project.Contract.HOURLY
    logged = Subquery(
        mine.filter(project_id=project.pk, leased_at__gte=week,
                    leased_at__lt=week + timedelta(days=7))
        .order_by().values("expert_id").annotate(total=Sum("active_s")).values("total"))
    latest = Subquery(mine.filter(last_active_at__isnull=False).order_by("-last_active_at")
                      .values("last_active_at")[:1])
    latest_at, week_logged = (Assignment.objects.filter(pk=assignment.pk)
                              .annotate(latest=latest, logged=Coalesce(logged, Value(0)))
                              .values_list("latest", "logged").get())
    previous = max(latest_at, assignment.leased_at) if latest_at else assignment.leased_at
    cap = cap_seconds(project) if hourly else None
    counted = counted_seconds(previous, now, idle_gap_s=settings.ACTIVITY_IDLE_GAP_S,
                              cap_left=None if cap is None else cap - week_logged)
    return Gap(counted_s=counted, week_logged_s=week_logged, cap_s=cap)


def count_last_stretch(assignment: Assignment, project: Project, now: datetime) -> None:
    """Add to a lease that is being submitted or skipped the activity since the expert's
    previous sign of it, as a heartbeat now would. A lease without heartbeats counts nothing
    and takes no lock: most answers sent through the API never had one."""
    if assignment.last_active_at is None:
        return
    lock_expert(assignment.expert_id)
    assignment.active_s += final_gap(assignment, project, now).counted_s
    assignment.last_active_at = now


def require_live(assignment: Assignment, now: datetime) -> None:
    """Only a lease still held may be answered, skipped, extended or worked on."""
    if assignment.status != Assignment.Status.ASSIGNED:
        raise Conflict(f"This assignment is already {assignment.status}.",
                       code=f"already_{assignment.status}")
    if assignment.expires_at <= now:
        raise Conflict("This assignment expired; ask for the next one.", code="expired")


@retried_on_deadlock
@transaction.atomic
def record_heartbeat(*, assignment_id: int, user, now: datetime | None = None) -> Heartbeat:
    """Count the expert's activity on a live lease since their previous sign of it.

    Raises Assignment.DoesNotExist for a lease that is not the user's and Conflict for one
    that is no longer live. Accepted on per-task projects too: estimates and effective
    rates read the same time.
    """
    now = now or timezone.now()
    try:
        assignment = (Assignment.objects.select_for_update(of=("self",))
                      .select_related("project").get(pk=assignment_id, expert_id=user.pk))
    except Assignment.DoesNotExist as exc:
        raise Assignment.DoesNotExist("No such assignment.") from exc
    require_live(assignment, now)
    lock_expert(user.pk)
    gap = final_gap(assignment, assignment.project, now)
    assignment.active_s += gap.counted_s
    assignment.last_active_at = now
    Assignment.objects.filter(pk=assignment.pk).update(
        active_s=F("active_s") + gap.counted_s, last_active_at=now)
    week_logged = gap.week_logged_s + gap.counted_s
    cap_left = None if gap.cap_s is None else max(0, gap.cap_s - week_logged)
    return Heartbeat(active_s=assignment.active_s, counted_s=gap.counted_s,
                     week_logged_s=week_logged, cap_left_s=cap_left,
                     cap_reached=cap_left == 0)
