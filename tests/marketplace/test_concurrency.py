"""Races on PostgreSQL: threads with their own connections start together at a barrier.
Leases never reserve beyond the funds, approvals pay once, payouts never overdraw and are
never paid twice, however the calls interleave."""

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.exceptions import Conflict
from config.transactions import ATTEMPTS
from marketplace import hourly, jobs, services
from marketplace.models import Payout, TimeEntry, Transaction, WeeklyPayment
from marketplace.receivers import reserve_for_lease
from quality import reviews
from quality.models import QualityRule, Review
from tasks import services as task_services
from tasks.jobs import auto_approve
from tasks.models import Assignment, ProjectExpert
from tasks.signals import assignment_approved, assignment_leased
from tests import factories
from tests.concurrency import deadlocks, deadlocks_since, race
from tests.conftest import client_for
from tests.marketplace.conftest import (
    assert_books_balance,
    available,
    deposit,
    earned,
    hourly_project,
    lease,
    paid_project,
    payable,
    reserved,
    submit,
)

pytestmark = pytest.mark.postgres


def test_concurrent_leases_never_reserve_beyond_the_funds(customer):
    organization = factories.organization_of(customer)
    deposit(organization, "20.00")
    project = paid_project(customer, items=12)
    experts = [factories.expert() for _ in range(12)]
    results = race(*[lambda e=e: lease(e, project).assignment for e in experts])
    leased = [r for r in results if isinstance(r, Assignment)]
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(leased) == 5
    assert Assignment.objects.count() == 5
    assert (available(organization), reserved(organization)) == (0, Decimal("20.00"))
    assert_books_balance()


def test_concurrent_approvals_pay_once(customer, staff):
    organization = factories.organization_of(customer)
    deposit(organization, "40.00")
    project = paid_project(customer, items=4, auto_approve_after_s=0)
    expert = factories.expert()
    assignments = [submit(lease(expert, project, seed).assignment) for seed in range(4)]
    calls = [lambda a=a: task_services.approve_assignment(a, by=staff)
             for a in assignments for _ in range(3)]
    results = race(*calls, auto_approve, auto_approve)
    approved = [r for r in results if isinstance(r, Assignment)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(approved) + sum(r for r in results if isinstance(r, int)) == 4
    assert len(approved) + len(conflicts) == len(calls)
    assert Transaction.objects.filter(kind="approval").count() == 4
    assert earned(expert) == Decimal("12.80")
    assert available(organization) == Decimal("24.00")
    assert_books_balance()


def test_concurrent_payout_requests_never_overdraw(customer):
    organization = factories.organization_of(customer)
    deposit(organization, "40.00")
    project = paid_project(customer, items=5)
    expert = factories.expert()
    for seed in range(5):
        task_services.approve_assignment(submit(lease(expert, project, seed).assignment))
    assert earned(expert) == Decimal("16.00")
    results = race(*[lambda: services.request_payout(expert=expert, amount=Decimal("5.00"),
                                                     currency="USD") for _ in range(8)])
    made = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert (len(made), len(refused)) == (3, 5), results
    assert earned(expert) == Decimal("1.00")
    assert_books_balance()


def test_retries_with_one_idempotency_key_make_one_payout(customer):
    organization = factories.organization_of(customer)
    deposit(organization, "40.00")
    project = paid_project(customer, items=3)
    expert = factories.expert()
    for seed in range(3):
        task_services.approve_assignment(submit(lease(expert, project, seed).assignment))
    clients = [client_for(expert) for _ in range(6)]
    responses = race(*[lambda c=c: c.post("/api/v1/me/payouts/", {"amount": "2.00"},
                                          format="json", HTTP_IDEMPOTENCY_KEY="same")
                       for c in clients])
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert Payout.objects.count() == 1
    assert earned(expert) == Decimal("7.60")


def test_payout_runs_racing_pay_each_payout_once(customer, settings):
    organization = factories.organization_of(customer)
    deposit(organization, "80.00")
    project = paid_project(customer, items=10)
    experts = [factories.expert() for _ in range(5)]
    for n, expert in enumerate(experts):
        for seed in range(2):
            task_services.approve_assignment(
                submit(lease(expert, project, n * 10 + seed).assignment))
    for expert in experts:
        for _ in range(3):
            services.request_payout(expert=expert, amount=Decimal("2.00"), currency="USD")
    settings.PAYOUT_RESEND_AFTER_S = 0  # every run also re-sends whatever is processing
    race(*[lambda: jobs.process_payouts(limit=4) for _ in range(4)])
    while jobs.process_payouts():
        pass
    assert set(Payout.objects.values_list("status", flat=True)) == {"paid"}
    paid = Counter(Transaction.objects.filter(kind="payout_paid")
                   .values_list("payout_id", flat=True))
    assert len(paid) == 15 and set(paid.values()) == {1}
    listed = Counter()
    for path in (settings.VAR_DIR / "payouts").glob("payouts-*.csv"):
        listed.update(line.split(",")[0] for line in path.read_text().splitlines()[1:])
    assert len(listed) == 15 and set(listed.values()) == {1}, "each payout in one file once"
    for expert in experts:
        assert earned(expert) == Decimal("0.40")
    assert_books_balance()


def test_a_review_that_removes_an_expert_and_a_lease_of_their_item_both_succeed(customer):
    """The review pays (locking the accounts) and then removes the expert (locking the items
    of their leases); the lease locks its item and then reserves (locking the accounts).
    Each waits for the other in the middle once, so PostgreSQL has to abort one of them."""
    organization = factories.organization_of(customer)
    deposit(organization, "100.00")
    project = paid_project(customer, items=2, overlap=2)
    removed, other, newcomer = factories.expert(), factories.expert(), factories.expert()
    answered = submit(lease(removed, project).assignment)
    submit(lease(other, project).assignment)  # the answered item is full now
    kept = lease(removed, project).assignment
    QualityRule.objects.create(project=project, metric="skip_rate", comparator="gte",
                               value="0", action="remove", min_evidence=1)
    middle = threading.Barrier(2, timeout=10)
    waited = set()

    def meet(name):
        if name not in waited:
            waited.add(name)
            middle.wait()

    def after_payment(sender, assignment, **kwargs):
        meet("review")

    def before_reservation(sender, assignment, **kwargs):
        meet("lease")

    before = deadlocks()
    assignment_approved.connect(after_payment, weak=False, dispatch_uid="test.after_payment")
    assignment_leased.disconnect(dispatch_uid="marketplace.reserve_for_lease")
    assignment_leased.connect(before_reservation, weak=False, dispatch_uid="test.before")
    assignment_leased.connect(reserve_for_lease, dispatch_uid="marketplace.reserve_for_lease")
    try:
        review, leased = race(
            lambda: reviews.review_annotation(
                annotation_id=answered.annotation.pk, reviewer=customer, verdict="accept"),
            lambda: lease(newcomer, project).assignment)
    finally:
        assignment_approved.disconnect(dispatch_uid="test.after_payment")
        assignment_leased.disconnect(dispatch_uid="test.before")
    # At least the one they were set up to meet in; on a loaded machine the retried side may
    # meet the survivor once more before it is through, which the retry also absorbs.
    assert 1 <= deadlocks_since(before) < ATTEMPTS
    assert isinstance(review, Review), review
    # The lease, run again while the review still holds the item, may find nothing free.
    assert leased is None or isinstance(leased, Assignment), leased
    assert leased is None or leased.item_id == kept.item_id
    assert ProjectExpert.objects.get(project=project, expert=removed).access == "removed"
    assert Assignment.objects.get(pk=kept.pk).status == "expired"
    assert_books_balance()


def decided_time(expert, project, seconds: int, seed: int) -> Assignment:
    """An approved hourly lease with `seconds` of active time, as heartbeats would log."""
    assignment = lease(expert, project, seed).assignment
    Assignment.objects.filter(pk=assignment.pk).update(active_s=seconds)
    return task_services.approve_assignment(submit(assignment))


def test_concurrent_hourly_leases_never_hold_beyond_the_funds(customer):
    organization = factories.organization_of(customer)
    deposit(organization, "100.00")
    project = hourly_project(customer, items=6)  # a lease holds an hour: 36.00
    experts = [factories.expert() for _ in range(6)]
    results = race(*[lambda e=e: lease(e, project).assignment for e in experts])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len([r for r in results if isinstance(r, Assignment)]) == 2
    assert (available(organization), reserved(organization)) == (Decimal("28.00"),
                                                                 Decimal("72.00"))
    assert_books_balance()


def test_weekly_payment_runs_racing_pay_each_entry_once(customer):
    organization = factories.organization_of(customer)
    deposit(organization, "300.00")
    project = hourly_project(customer, items=6)
    experts = [factories.expert() for _ in range(3)]
    for n, expert in enumerate(experts):
        for seed in range(2):
            decided_time(expert, project, 600 + 100 * seed, n * 10 + seed)
    next_week = timezone.now() + timedelta(days=7)
    results = race(*[lambda: hourly.pay_weekly(next_week) for _ in range(4)])
    assert sum(results) == 3, results
    assert WeeklyPayment.objects.count() == 3
    assert set(TimeEntry.objects.values_list("status", flat=True)) == {"paid"}
    assert Transaction.objects.filter(kind="hourly_payment").count() == 3
    for expert in experts:
        assert earned(expert) == Decimal("10.40")  # 13.00 less the fee
    assert payable(organization) == 0
    assert_books_balance()


def test_withholding_racing_the_weekly_payment_one_wins(customer, staff):
    organization = factories.organization_of(customer)
    deposit(organization, "200.00")
    project = hourly_project(customer, items=3)
    next_week = timezone.now() + timedelta(days=7)
    for seed in range(3):
        expert = factories.expert()
        assignment = decided_time(expert, project, 1000, seed)
        withheld, paid = race(
            lambda a=assignment: hourly.withhold_time(assignment=a, reason="Fraud", by=staff),
            lambda: hourly.pay_weekly(next_week))
        entry = TimeEntry.objects.get(assignment=assignment)
        if entry.status == "withheld":
            assert isinstance(withheld, TimeEntry) and paid == 0, (withheld, paid)
            assert earned(expert) == 0
        else:
            assert isinstance(withheld, Conflict) and withheld.code == "paid", withheld
            assert paid == 1 and earned(expert) == Decimal("8.00")
        assert payable(organization) == 0
    assert_books_balance()
