"""Active time on leases and the weekly cap of hourly contracts.

A lease's active time (``Assignment.active_s``) grows from the expert's heartbeats: the
workspace sends one while an item is open and focused, API clients may too. Time is booked
to the week in which its lease began (weeks run from Monday 00:00 UTC), for the cap and for
the weekly payment alike, so that one lease never splits between two weeks.
"""

from datetime import UTC, datetime, timedelta

from django.db.models import Sum

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
