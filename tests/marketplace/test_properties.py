"""Random sequences of deposits, refunds, leases, submissions, approvals, rejections,
overturns, skips, expiries, bonuses and payouts, each committed on PostgreSQL (so the deferred
trigger checks every transaction), keep the books balanced: every transaction sums to zero,
every balance but the cash counterpart is non-negative and equals its entries, and an
organization's deposits are exactly its available, reserved and spent funds."""

import contextlib
import itertools
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import F, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from accounts.models import Expertise
from config.exceptions import Conflict
from marketplace import hourly, jobs, ledger, services, statements
from marketplace.ledger import money
from marketplace.models import Deposit, Payout, TimeEntry, WeeklyPayment
from tasks import services as task_services
from tasks.activity import cap_left_s, week_start
from tasks.models import Assignment, Project
from tasks.routing import next_assignment, reclaim_expired
from tests import factories
from tests.marketplace.conftest import (
    assert_books_balance,
    available,
    earned,
    hourly_project,
    paid_project,
    payable,
    reserved,
)

pytestmark = pytest.mark.postgres
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("30.00"), places=2)
FUNDING = st.decimals(min_value=Decimal("5.00"), max_value=Decimal("60.00"), places=2)
EXPERT = st.integers(min_value=0, max_value=2)
references = itertools.count()


class WorkLoop(RuleBasedStateMachine):
    """The work loop's moves that both money machines make on `self.project`: submit,
    skip, expire and decide a random assignment in the state each move needs."""

    project: Project

    def pick(self, data, status: str) -> Assignment | None:
        ids = list(Assignment.objects.filter(project=self.project, status=status)
                   .values_list("pk", flat=True))
        return Assignment.objects.get(pk=data.draw(st.sampled_from(ids))) if ids else None

    @rule(data=st.data())
    def submit(self, data):
        if assignment := self.pick(data, Assignment.Status.ASSIGNED):
            task_services.submit(assignment_id=assignment.pk, user=assignment.expert,
                                 answer={"better": "A"})

    @rule(data=st.data())
    def skip(self, data):
        if assignment := self.pick(data, Assignment.Status.ASSIGNED):
            task_services.skip(assignment_id=assignment.pk, user=assignment.expert)

    @rule()
    def expire(self):
        reclaim_expired(now=timezone.now() + timedelta(days=1))

    @rule(data=st.data(), approve=st.sampled_from([True, True, False]))
    def decide(self, data, approve):
        if assignment := self.pick(data, Assignment.Status.SUBMITTED):
            if approve:
                task_services.approve_assignment(assignment)
            else:
                task_services.reject_assignment(assignment)


class Books(WorkLoop):
    def __init__(self):
        super().__init__()
        self.owner = factories.customer()
        self.organization = factories.organization_of(self.owner)
        self.operator = factories.staff_user()
        self.project = paid_project(self.owner, price="3.35", items=60)
        services.set_quality_bonus(project=self.project, rate=Decimal("0.150"),
                                   min_trust=Decimal("0.600"), by=self.owner)
        self.experts = [factories.expert() for _ in range(3)]
        Expertise.objects.filter(expert_id=self.experts[0].pk).update(trust=Decimal("0.9"))

    @initialize(amount=FUNDING)
    def fund(self, amount):
        self.deposit(amount)

    @rule(amount=FUNDING)
    def deposit(self, amount):
        services.record_deposit(organization=self.organization, amount=amount, currency="USD",
                                reference=f"wire-{next(references)}", by=self.operator)

    @rule(amount=AMOUNTS)
    def refund(self, amount):
        with contextlib.suppress(ValidationError):  # more than the organization has available
            services.record_deposit(organization=self.organization, amount=amount,
                                    currency="USD", reference=f"refund-{next(references)}",
                                    by=self.operator, kind=Deposit.Kind.REFUND)

    @rule(expert=EXPERT, seed=st.integers(0, 1000),
          then=st.sampled_from(["hold", "submit", "approve", "approve", "reject"]))
    def lease(self, expert, seed, then):
        """Lease, and most often go on with the task at once, as experts and reviewers do."""
        with contextlib.suppress(Conflict):  # the expert holds as many leases as allowed
            leased = next_assignment(self.experts[expert], self.project,
                                     rng=random.Random(seed)).assignment
            if leased is None or then == "hold":
                return
            task_services.submit(assignment_id=leased.pk, user=leased.expert,
                                 answer={"better": "A"})
            if then == "approve":
                task_services.approve_assignment(leased)
            elif then == "reject":
                task_services.reject_assignment(leased)

    @rule(data=st.data())
    def overturn(self, data):
        if assignment := self.pick(data, Assignment.Status.REJECTED):
            with contextlib.suppress(Conflict):  # the organization cannot pay it now
                task_services.overturn_rejection(assignment, by=self.operator)

    @rule(expert=EXPERT, amount=AMOUNTS)
    def bonus(self, expert, amount):
        # No funds, or the expert never worked on the project.
        with contextlib.suppress(Conflict, ValidationError):
            services.grant_bonus(project=self.project, expert=self.experts[expert],
                                 amount=amount, reason="Good work", by=self.owner,
                                 idempotency_key=f"bonus-{next(references)}")

    @rule(expert=EXPERT, share=st.integers(min_value=1, max_value=120))
    def payout(self, expert, share):
        """Withdraw a share of the balance; above 100% is refused."""
        earned = statements.earnings(self.experts[expert], "USD")["balance"]
        amount = money(max(earned, Decimal("1.00")) * share / 100)
        with contextlib.suppress(ValidationError):  # above the balance or below the minimum
            services.request_payout(expert=self.experts[expert], amount=amount,
                                    currency="USD")

    @rule()
    def process_payouts(self):
        jobs.process_payouts()

    @rule(data=st.data())
    def fail_payout(self, data):
        ids = list(Payout.objects.filter(expert__in=self.experts, status="requested")
                   .values_list("pk", flat=True))
        if ids:
            services.settle_payout(payout=Payout(pk=data.draw(st.sampled_from(ids))),
                                   paid=False, reason="Bank refused", by=self.operator)

    @invariant()
    def books_balance(self):
        assert_books_balance()

    @invariant()
    def deposits_are_available_reserved_or_spent(self):
        balance = statements.organization_balance(self.organization, "USD")
        assert balance["deposits"] - balance["refunds"] == (
            balance["available"] + balance["reserved"] + balance["spent"])


def test_random_money_flows_keep_the_books_balanced(db):
    run_state_machine_as_test(Books, settings=settings(
        max_examples=15, stateful_step_count=50, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))


HOURLY_FUNDING = st.decimals(min_value=Decimal("10.00"), max_value=Decimal("80.00"), places=2)


class HourlyBooks(WorkLoop):
    """Hourly work at random: leases, active time within the window and the weekly cap,
    extensions, submissions, decisions, overturns, skips, expiries, fraud withholding and
    weekly payments. Decided work holds nothing, the payable account is exactly the time
    awaiting payment, and each expert earned exactly their weekly payments."""

    def __init__(self):
        super().__init__()
        self.owner = factories.customer()
        self.organization = factories.organization_of(self.owner)
        self.operator = factories.staff_user()
        # 37.50/h, twenty-minute leases (12.50 each) and a cap of half an hour: the cap
        # binds an expert's second lease once the first has logged ten minutes.
        self.project = hourly_project(self.owner, rate="37.50", cap_hours="0.5", items=40,
                                      assignment_ttl_s=1200)
        self.experts = [factories.expert() for _ in range(3)]

    @initialize(amount=HOURLY_FUNDING)
    def fund(self, amount):
        self.deposit(amount)

    @rule(amount=HOURLY_FUNDING)
    def deposit(self, amount):
        services.record_deposit(organization=self.organization, amount=amount, currency="USD",
                                reference=f"wire-{next(references)}", by=self.operator)

    @rule(expert=EXPERT, seed=st.integers(0, 1000), share=st.integers(0, 100),
          then=st.sampled_from(["hold", "submit", "approve", "reject", "skip"]))
    def lease(self, expert, seed, share, then):
        """Lease, work a share of the time allowed, and most often go on with the task at
        once, as experts and reviewers do."""
        with contextlib.suppress(Conflict):  # the expert holds as many leases as allowed
            leased = next_assignment(self.experts[expert], self.project,
                                     rng=random.Random(seed)).assignment
            if leased is None:
                return
            self.log(leased, share)
            if then == "skip":
                task_services.skip(assignment_id=leased.pk, user=leased.expert)
            elif then != "hold":
                task_services.submit(assignment_id=leased.pk, user=leased.expert,
                                     answer={"better": "A"})
                if then == "approve":
                    task_services.approve_assignment(leased)
                elif then == "reject":
                    task_services.reject_assignment(leased)

    def log(self, assignment: Assignment, share: int) -> None:
        """Active time grows as heartbeats make it, here to `share` percent of the most the
        lease may log: its window, within what the week's cap leaves beside the expert's
        other leases."""
        assignment.refresh_from_db()
        window = int((assignment.expires_at - assignment.leased_at).total_seconds())
        most = min(window, assignment.active_s + cap_left_s(
            self.project, assignment.expert_id, assignment.leased_at))
        seconds = max(assignment.active_s, most * share // 100)
        Assignment.objects.filter(pk=assignment.pk).update(active_s=seconds)

    @rule(data=st.data(), share=st.integers(0, 100))
    def work(self, data, share):
        if assignment := self.pick(data, Assignment.Status.ASSIGNED):
            self.log(assignment, share)

    @rule(data=st.data(), earlier=st.integers(0, 1800))
    def extend(self, data, earlier):
        """Extend a lease that began `earlier` seconds sooner, so that its window grows."""
        assignment = self.pick(data, Assignment.Status.ASSIGNED)
        if assignment is None:
            return
        started = assignment.leased_at - timedelta(seconds=earlier)
        if week_start(started) != week_start(assignment.leased_at):
            return
        Assignment.objects.filter(pk=assignment.pk).update(leased_at=started)
        try:
            task_services.extend(assignment_id=assignment.pk, user=assignment.expert)
        except Conflict:  # not funded: the lease stays as it was
            Assignment.objects.filter(pk=assignment.pk).update(
                leased_at=F("leased_at") + timedelta(seconds=earlier))

    @rule(data=st.data())
    def overturn(self, data):
        if assignment := self.pick(data, Assignment.Status.REJECTED):
            task_services.overturn_rejection(assignment, by=self.operator)

    @rule(data=st.data())
    def withhold(self, data):
        ids = list(TimeEntry.objects.filter(project=self.project, status="payable")
                   .values_list("assignment_id", flat=True))
        if ids:
            hourly.withhold_time(assignment=Assignment(pk=data.draw(st.sampled_from(ids))),
                                 reason="Fraud", by=self.operator)

    @rule()
    def pay(self):
        hourly.pay_weekly(timezone.now() + timedelta(days=7))

    @invariant()
    def books_balance(self):
        assert_books_balance()

    @invariant()
    def deposits_are_available_reserved_payable_or_paid(self):
        deposits = Deposit.objects.filter(organization=self.organization).aggregate(
            total=Sum("amount"))["total"]
        paid = WeeklyPayment.objects.filter(project=self.project).aggregate(
            total=Sum("amount"))["total"] or 0
        assert deposits == (
            available(self.organization) + reserved(self.organization)
            + payable(self.organization) + paid)

    @invariant()
    def payable_is_the_time_awaiting_payment(self):
        awaiting = TimeEntry.objects.filter(project=self.project, status="payable").aggregate(
            total=Sum("amount"))["total"] or 0
        assert payable(self.organization) == awaiting

    @invariant()
    def decided_work_holds_nothing(self):
        decided = Assignment.objects.filter(project=self.project).exclude(
            status__in=["assigned", "submitted"]).values_list("pk", flat=True)
        assert ledger.outstanding_holds(decided) == {}

    @invariant()
    def experts_earned_their_weekly_payments(self):
        for expert in self.experts:
            nets = WeeklyPayment.objects.filter(expert=expert).aggregate(
                total=Sum("net"))["total"] or 0
            assert earned(expert) == nets


def test_random_hourly_work_keeps_the_books_balanced(db):
    run_state_machine_as_test(HourlyBooks, settings=settings(
        max_examples=6, stateful_step_count=30, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
