"""Active time from heartbeats: what counts, what an idle gap loses, how two leases share one
expert's clock, where the weekly cap stops an hourly week, and what submit and skip add."""

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from config.exceptions import Conflict
from tasks import services
from tasks.activity import counted_seconds, record_heartbeat, week_start
from tasks.models import Assignment
from tasks.routing import next_assignment
from tasks.signals import annotation_submitted
from tests import factories
from tests.concurrency import deadlocks, deadlocks_since, race

pytestmark = pytest.mark.django_db
ANSWER = {"better": "A"}


def hourly(customer, *, cap_hours="40", items=3):
    factories.fund(factories.organization_of(customer), "1000.00")
    return factories.project(customer, items=items, contract="hourly", hourly_rate="40.00",
                             weekly_cap_hours=Decimal(cap_hours))


def lease(expert, project, *, started_ago_s: float = 0) -> Assignment:
    """A live lease that began `started_ago_s` seconds ago."""
    assignment = next_assignment(expert, project, rng=random.Random(0)).assignment
    if started_ago_s:
        leased_at = timezone.now() - timedelta(seconds=started_ago_s)
        Assignment.objects.filter(pk=assignment.pk).update(leased_at=leased_at)
    return Assignment.objects.get(pk=assignment.pk)


def beat(assignment, at: datetime):
    return record_heartbeat(assignment_id=assignment.pk, user=assignment.expert, now=at)


def test_counted_seconds_are_the_gap_rounded_down_up_to_the_idle_threshold():
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert counted_seconds(start, start + timedelta(seconds=29.9), idle_gap_s=120) == 29
    assert counted_seconds(start, start + timedelta(seconds=120), idle_gap_s=120) == 120
    assert counted_seconds(start, start + timedelta(seconds=121), idle_gap_s=120) == 0
    assert counted_seconds(start, start - timedelta(seconds=5), idle_gap_s=120) == 0
    assert counted_seconds(start, start + timedelta(seconds=30), idle_gap_s=120,
                           cap_left=12) == 12
    assert counted_seconds(start, start + timedelta(seconds=30), idle_gap_s=120,
                           cap_left=-3) == 0


def test_a_heartbeat_counts_the_time_since_the_lease_began(customer, expert):
    project = factories.project(customer, items=2)
    assignment = lease(expert, project)
    result = beat(assignment, assignment.leased_at + timedelta(seconds=30))
    assert (result.active_s, result.counted_s, result.week_logged_s) == (30, 30, 30)
    assert (result.cap_left_s, result.cap_reached) == (None, False)
    assignment.refresh_from_db()
    assert assignment.active_s == 30
    assert assignment.last_active_at == assignment.leased_at + timedelta(seconds=30)


def test_an_idle_gap_counts_nothing_and_the_clock_restarts_after_it(customer, expert, settings):
    settings.ACTIVITY_IDLE_GAP_S = 120
    project = factories.project(customer, items=2)
    assignment = lease(expert, project)
    start = assignment.leased_at
    beat(assignment, start + timedelta(seconds=30))
    away = beat(assignment, start + timedelta(seconds=30 + 121))
    assert (away.counted_s, away.active_s) == (0, 30)
    back = beat(assignment, start + timedelta(seconds=30 + 121 + 30))
    assert (back.counted_s, back.active_s) == (30, 60)


def test_two_leases_beating_in_turn_never_count_one_moment_twice(customer, expert):
    project = factories.project(customer, items=3)
    first, second = lease(expert, project), lease(expert, project)
    start = max(first.leased_at, second.leased_at)
    assert beat(first, start + timedelta(seconds=30)).counted_s == 30
    assert beat(second, start + timedelta(seconds=40)).counted_s == 10
    assert beat(first, start + timedelta(seconds=60)).counted_s == 20
    assert beat(second, start + timedelta(seconds=60)).counted_s == 0
    total = sum(Assignment.objects.filter(expert=expert).values_list("active_s", flat=True))
    assert total == 60


def test_a_lease_that_began_after_the_last_activity_counts_from_its_start(customer, expert):
    project = factories.project(customer, items=3)
    first = lease(expert, project)
    beat(first, first.leased_at + timedelta(seconds=10))
    second = lease(expert, project)
    Assignment.objects.filter(pk=second.pk).update(
        leased_at=first.leased_at + timedelta(seconds=50))
    second.refresh_from_db()
    assert beat(second, second.leased_at + timedelta(seconds=20)).counted_s == 20


def test_the_weekly_cap_clamps_an_hourly_week(customer, expert):
    project = hourly(customer, cap_hours="0.02")  # 72 seconds
    done, working = lease(expert, project), lease(expert, project)
    Assignment.objects.filter(pk=done.pk).update(active_s=60)
    at = working.leased_at + timedelta(seconds=30)
    result = beat(working, at)
    assert (result.counted_s, result.active_s, result.week_logged_s) == (12, 12, 72)
    assert (result.cap_left_s, result.cap_reached) == (0, True)
    after = beat(working, at + timedelta(seconds=30))
    assert (after.counted_s, after.active_s, after.cap_reached) == (0, 12, True)


def test_time_counts_toward_the_week_its_lease_began(customer, expert):
    project = hourly(customer, cap_hours="0.02")
    last_week, this_week = lease(expert, project), lease(expert, project)
    monday = week_start(timezone.now())
    Assignment.objects.filter(pk=last_week.pk).update(
        leased_at=monday - timedelta(days=1), active_s=72)
    result = beat(this_week, this_week.leased_at + timedelta(seconds=30))
    assert (result.counted_s, result.week_logged_s, result.cap_left_s) == (30, 30, 42)


def test_a_heartbeat_needs_the_experts_own_live_lease(customer, expert):
    project = factories.project(customer, items=3)
    assignment = lease(expert, project)
    with pytest.raises(Assignment.DoesNotExist):
        record_heartbeat(assignment_id=assignment.pk, user=factories.expert())
    with pytest.raises(Conflict) as expired:
        beat(assignment, assignment.expires_at)
    assert expired.value.code == "expired"
    services.submit(assignment_id=assignment.pk, user=expert, answer=ANSWER)
    with pytest.raises(Conflict) as submitted:
        record_heartbeat(assignment_id=assignment.pk, user=expert)
    assert submitted.value.code == "already_submitted"


def test_submit_counts_the_last_stretch_before_receivers_read_it(customer, expert):
    project = hourly(customer)
    assignment = lease(expert, project, started_ago_s=50)
    beat(assignment, assignment.leased_at + timedelta(seconds=30))
    seen = []

    def receiver(sender, annotation, **kwargs):
        seen.append(annotation.assignment.active_s)

    annotation_submitted.connect(receiver)
    try:
        services.submit(assignment_id=assignment.pk, user=expert, answer=ANSWER)
    finally:
        annotation_submitted.disconnect(receiver)
    assignment.refresh_from_db()
    assert 50 <= assignment.active_s <= 52
    assert seen == [assignment.active_s]
    assert assignment.last_active_at == assignment.submitted_at


def test_submit_without_heartbeats_leaves_active_time_alone(customer, expert):
    project = factories.project(customer, items=2)
    assignment = lease(expert, project, started_ago_s=40)
    services.submit(assignment_id=assignment.pk, user=expert, answer=ANSWER, duration_s=25)
    assignment.refresh_from_db()
    assert (assignment.active_s, assignment.last_active_at) == (0, None)
    assert assignment.duration_s == 25


def test_skip_counts_the_last_stretch_and_expiry_counts_nothing(customer, expert):
    project = factories.project(customer, items=3)
    skipped = lease(expert, project, started_ago_s=40)
    beat(skipped, skipped.leased_at + timedelta(seconds=20))
    services.skip(assignment_id=skipped.pk, user=expert, reason="Outside my expertise")
    skipped.refresh_from_db()
    assert 40 <= skipped.active_s <= 42
    assert skipped.status == Assignment.Status.SKIPPED


@pytest.mark.postgres
def test_concurrent_heartbeats_on_two_leases_count_at_most_the_wall_time(customer):
    expert = factories.expert()
    project = factories.project(customer, items=3)
    leases = [lease(expert, project), lease(expert, project)]
    began = timezone.now() - timedelta(seconds=5)
    Assignment.objects.filter(pk__in=[a.pk for a in leases]).update(leased_at=began)

    threads = 8
    ready = threading.Barrier(threads)

    def beats(assignment):
        def run():
            counted = 0
            for _ in range(3):
                counted += record_heartbeat(assignment_id=assignment.pk,
                                            user=expert).counted_s
                time.sleep(0.05)
            return counted
        return connected(ready, run)

    results = race(*[beats(leases[n % 2]) for n in range(threads)])
    ended = timezone.now()
    assert not [r for r in results if isinstance(r, Exception)], results
    total = sum(Assignment.objects.filter(pk__in=[a.pk for a in leases])
                .values_list("active_s", flat=True))
    assert total == sum(results)
    assert 5 <= total <= (ended - began).total_seconds()


@pytest.mark.postgres
def test_a_heartbeat_racing_the_submission_of_its_lease_never_deadlocks(customer):
    expert = factories.expert()
    project = factories.project(customer, items=3)
    leases = [lease(expert, project, started_ago_s=5) for _ in range(3)]
    Assignment.objects.filter(pk__in=[a.pk for a in leases]).update(
        last_active_at=timezone.now() - timedelta(seconds=2))
    deadlocks_before = deadlocks()
    for n, assignment in enumerate(leases):
        other = leases[(n + 1) % len(leases)]
        ready = threading.Barrier(3)
        results = race(
            connected(ready, lambda a=assignment: services.submit(
                assignment_id=a.pk, user=expert, answer=ANSWER)),
            connected(ready, lambda a=assignment: record_heartbeat(assignment_id=a.pk,
                                                                   user=expert)),
            connected(ready, lambda a=other: record_heartbeat(assignment_id=a.pk,
                                                              user=expert)))
        refused = [r for r in results[1:] if isinstance(r, Exception)]
        assert all(isinstance(r, Conflict) and r.code == "already_submitted" for r in refused), \
            results
        assert not isinstance(results[0], Exception), results
    submitted = Assignment.objects.filter(pk__in=[a.pk for a in leases])
    assert {a.status for a in submitted} == {Assignment.Status.SUBMITTED}
    assert deadlocks_since(deadlocks_before) == 0, "a retry hid a deadlock"


def connected(ready: threading.Barrier, call):
    """`call`, started once every racing thread holds its connection: opening one takes
    longer than the transactions that race."""
    def run():
        connection.ensure_connection()
        ready.wait()
        return call()
    return run
