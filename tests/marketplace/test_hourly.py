"""Money of hourly contracts: the hold at lease and extension, the hold given back at
submission, decided time booked once (rejected time included), fraud withholding, and the
weekly payment. At 36.00/h a second of active time costs a cent; the fee is 20%."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.utils import timezone

from config.exceptions import Conflict
from marketplace import jobs
from marketplace.hourly import cost, pay_weekly, withhold_time
from marketplace.models import TimeEntry, Transaction, WeeklyPayment
from tasks import services as task_services
from tasks.activity import record_heartbeat, week_start
from tasks.models import Assignment
from tasks.routing import reclaim_expired
from tests import factories
from tests.marketplace.conftest import (
    assert_books_balance,
    available,
    deposit,
    earned,
    fees,
    hourly_project,
    lease,
    paid_project,
    payable,
    reserved,
    submit,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(organization):
    deposit(organization, "100.00")
    return organization


def log_time(assignment, seconds: int):
    """Give a lease `seconds` of active time, as its heartbeats would have."""
    Assignment.objects.filter(pk=assignment.pk).update(active_s=seconds)
    assignment.refresh_from_db()
    return assignment


def worked(expert, project, seconds: int, seed: int = 0):
    """A lease of the project with `seconds` of active time, submitted."""
    return submit(log_time(lease(expert, project, seed).assignment, seconds))


def keys(kind: str) -> list[str]:
    return list(Transaction.objects.filter(kind=kind).order_by("pk")
                .values_list("idempotency_key", flat=True))


def next_week():
    return timezone.now() + timedelta(days=7)


class TestCost:
    @pytest.mark.parametrize(("rate", "seconds", "expected"), [
        ("36.00", 1, "0.01"), ("36.00", 3600, "36.00"), ("40.00", 23400, "260.00"),
        ("25.00", 90, "0.63"), ("15.00", 1, "0.00"), ("40.00", 1, "0.01"),
    ])
    def test_active_time_costs_the_rate_per_hour_to_the_cent(self, rate, seconds, expected):
        assert cost(Decimal(rate), seconds) == Decimal(expected)


class TestLease:
    def test_a_lease_holds_the_cost_of_its_window(self, customer, funded, expert):
        project = hourly_project(customer)
        assignment = lease(expert, project).assignment
        assert assignment.price == 0
        assert (available(funded), reserved(funded)) == (Decimal("64.00"), Decimal("36.00"))
        assert keys("reservation") == [f"reserve:{assignment.pk}"]
        assert_books_balance()

    def test_the_weekly_cap_bounds_the_hold(self, customer, funded, expert):
        project = hourly_project(customer, cap_hours="0.5")
        first = lease(expert, project, seed=1).assignment
        assert reserved(funded) == Decimal("18.00")
        log_time(first, 600)
        lease(expert, project, seed=2)
        assert reserved(funded) == Decimal("30.00")  # 18.00 + 1200 s left of the cap

    def test_short_funds_refuse_the_lease(self, customer, organization, expert):
        deposit(organization, "35.99")
        project = hourly_project(customer)
        result = lease(expert, project)
        assert result.assignment is None
        assert "cannot cover 1.00 h of work at 36.00 USD/h" in result.reasons[project.pk]
        assert not Assignment.objects.exists()
        assert (available(organization), reserved(organization)) == (Decimal("35.99"), 0)


class TestExtension:
    def started_earlier(self, assignment, seconds: int):
        Assignment.objects.filter(pk=assignment.pk).update(
            leased_at=F("leased_at") - timedelta(seconds=seconds))

    def test_an_extension_tops_the_hold_up_to_the_longer_window(self, customer, funded,
                                                                  expert):
        project = hourly_project(customer)
        assignment = lease(expert, project).assignment
        self.started_earlier(assignment, 1800)
        extended = task_services.extend(assignment_id=assignment.pk, user=expert)
        extended.refresh_from_db()
        window = int((extended.expires_at - extended.leased_at).total_seconds())
        assert 5400 <= window < 5460  # the extension came a moment after the lease
        assert reserved(funded) == cost(Decimal("36.00"), window)
        assert keys("reservation") == [
            f"reserve:{assignment.pk}",
            f"reserve:{assignment.pk}:{window}s"]
        assert_books_balance()

    def test_the_cap_left_at_lease_bounds_the_extension(self, customer, funded, expert):
        project = hourly_project(customer, cap_hours="1")
        assignment = log_time(lease(expert, project).assignment, 1000)
        self.started_earlier(assignment, 1800)
        task_services.extend(assignment_id=assignment.pk, user=expert)
        assert reserved(funded) == Decimal("36.00")
        assert len(keys("reservation")) == 1

    def test_an_extension_the_funds_cannot_cover_is_refused(self, customer, organization,
                                                              expert):
        deposit(organization, "36.00")
        project = hourly_project(customer)
        assignment = lease(expert, project).assignment
        self.started_earlier(assignment, 1800)
        with pytest.raises(Conflict) as excinfo:
            task_services.extend(assignment_id=assignment.pk, user=expert)
        assert excinfo.value.code == "insufficient_funds"
        assert Assignment.objects.get(pk=assignment.pk).expires_at == assignment.expires_at
        assert (available(organization), reserved(organization)) == (0, Decimal("36.00"))


class TestCapRaise:
    def test_raising_the_cap_tops_up_the_holds_of_live_leases(self, customer, funded, expert):
        project = hourly_project(customer, cap_hours="0.5")
        assignment = lease(expert, project).assignment
        assert reserved(funded) == Decimal("18.00")
        task_services.update_project(user=customer, project=project, weekly_cap_hours="2")
        assert reserved(funded) == Decimal("36.00")  # the whole hour's window now
        assert keys("reservation") == [f"reserve:{assignment.pk}",
                                       f"reserve:{assignment.pk}:3600s"]
        log_time(assignment, 3000)
        submit(assignment)
        assert reserved(funded) == Decimal("30.00")
        assert_books_balance()

    def test_a_raise_the_funds_cannot_hold_is_refused(self, customer, organization, expert):
        deposit(organization, "20.00")
        project = hourly_project(customer, cap_hours="0.5")
        lease(expert, project)
        with pytest.raises(Conflict) as excinfo:
            task_services.update_project(user=customer, project=project, weekly_cap_hours="2")
        assert excinfo.value.code == "insufficient_funds"
        project.refresh_from_db()
        assert project.weekly_cap_hours == Decimal("0.5")
        assert (available(organization), reserved(organization)) == (Decimal("2.00"),
                                                                     Decimal("18.00"))


class TestDecidedTime:
    def test_submission_gives_back_the_hold_beyond_the_time_logged(self, customer, funded,
                                                                    expert):
        project = hourly_project(customer)
        assignment = worked(expert, project, 1500)
        assert (available(funded), reserved(funded)) == (Decimal("85.00"), Decimal("15.00"))
        assert keys("release") == [f"release:{assignment.pk}"]
        assert not TimeEntry.objects.exists()
        assert_books_balance()

    def test_approved_time_becomes_payable(self, customer, funded, expert):
        project = hourly_project(customer)
        assignment = task_services.approve_assignment(worked(expert, project, 1500))
        entry = TimeEntry.objects.get()
        assert (entry.assignment_id, entry.project_id, entry.expert_id) == (
            assignment.pk, project.pk, expert.pk)
        assert (entry.seconds, entry.rate, entry.amount, entry.currency, entry.status) == (
            1500, Decimal("36.00"), Decimal("15.00"), "USD", TimeEntry.Status.PAYABLE)
        assert entry.week == week_start(assignment.leased_at).date()
        assert (available(funded), reserved(funded), payable(funded)) == (
            Decimal("85.00"), 0, Decimal("15.00"))
        assert earned(expert) == 0
        assert keys("time_accrued") == [f"accrue:{assignment.pk}"]
        assert_books_balance()

    def test_rejected_time_is_payable_and_an_overturn_books_nothing_more(
            self, customer, funded, expert, staff):
        project = hourly_project(customer)
        assignment = worked(expert, project, 1200)
        task_services.reject_assignment(assignment)
        assert TimeEntry.objects.get().amount == Decimal("12.00")
        task_services.overturn_rejection(assignment, by=staff)
        assert TimeEntry.objects.count() == 1
        assert keys("time_accrued") == [f"accrue:{assignment.pk}"]
        assert (available(funded), reserved(funded), payable(funded)) == (
            Decimal("88.00"), 0, Decimal("12.00"))
        assert_books_balance()

    def test_a_skipped_lease_books_its_time_and_gives_back_the_rest(self, customer, funded,
                                                                   expert):
        project = hourly_project(customer)
        assignment = log_time(lease(expert, project).assignment, 300)
        task_services.skip(assignment_id=assignment.pk, user=expert)
        assert TimeEntry.objects.get().amount == Decimal("3.00")
        assert (available(funded), reserved(funded), payable(funded)) == (
            Decimal("97.00"), 0, Decimal("3.00"))
        assert keys("release") == [f"accrue:{assignment.pk}:release"]
        assert_books_balance()

    def test_an_expired_lease_without_time_books_nothing(self, customer, funded, expert):
        project = hourly_project(customer)
        assignment = lease(expert, project).assignment
        reclaim_expired(now=assignment.expires_at + timedelta(seconds=1))
        assert not TimeEntry.objects.exists()
        assert (available(funded), reserved(funded), payable(funded)) == (
            Decimal("100.00"), 0, 0)
        assert_books_balance()

    def test_time_counted_by_heartbeats_is_what_is_booked(self, customer, funded, expert):
        project = hourly_project(customer)
        assignment = lease(expert, project).assignment
        for offset in (60, 150, 210):  # the 90 s gap is within the idle threshold
            record_heartbeat(assignment_id=assignment.pk, user=expert,
                             now=assignment.leased_at + timedelta(seconds=offset))
        task_services.approve_assignment(submit(assignment))
        assert (TimeEntry.objects.get().seconds, payable(funded), reserved(funded)) == (
            210, Decimal("2.10"), 0)
        assert_books_balance()

    def test_per_task_work_books_no_time(self, customer, funded, expert):
        project = paid_project(customer)
        task_services.approve_assignment(submit(lease(expert, project).assignment))
        assert not TimeEntry.objects.exists()
        assert payable(funded) == 0


class TestWithholding:
    @pytest.fixture
    def decided(self, customer, funded, expert):
        project = hourly_project(customer)
        return task_services.approve_assignment(worked(expert, project, 1500))

    def test_an_operator_withholds_payable_time(self, decided, funded, staff):
        entry = withhold_time(assignment=decided, reason="  Mouse jiggler  ", by=staff)
        entry.refresh_from_db()
        assert (entry.status, entry.withheld_reason, entry.withheld_by) == (
            TimeEntry.Status.WITHHELD, "Mouse jiggler", staff)
        assert entry.withheld_at is not None
        assert (available(funded), payable(funded)) == (Decimal("100.00"), 0)
        assert keys("time_withheld") == [f"withhold:{entry.pk}"]
        assert pay_weekly(next_week()) == 0
        with pytest.raises(Conflict) as excinfo:
            withhold_time(assignment=decided, reason="Again", by=staff)
        assert excinfo.value.code == "withheld"
        assert_books_balance()

    def test_only_operators_withhold(self, decided, customer, expert):
        for user in (customer, expert):
            with pytest.raises(PermissionDenied):
                withhold_time(assignment=decided, reason="Fraud", by=user)
        assert TimeEntry.objects.get().status == TimeEntry.Status.PAYABLE

    def test_a_reason_is_required(self, decided, staff):
        with pytest.raises(ValidationError) as excinfo:
            withhold_time(assignment=decided, reason="  ", by=staff)
        assert list(excinfo.value.message_dict) == ["reason"]
        assert TimeEntry.objects.get().status == TimeEntry.Status.PAYABLE

    def test_paid_time_cannot_be_withheld(self, decided, funded, staff):
        pay_weekly(next_week())
        with pytest.raises(Conflict) as excinfo:
            withhold_time(assignment=decided, reason="Fraud", by=staff)
        assert excinfo.value.code == "paid"
        week = TimeEntry.objects.get().week
        assert f"payment of the week of {week:%Y-%m-%d}" in excinfo.value.message
        assert payable(funded) == 0

    def test_undecided_work_has_no_time_to_withhold(self, customer, funded, expert, staff):
        assignment = worked(expert, hourly_project(customer), 600)
        with pytest.raises(Conflict) as excinfo:
            withhold_time(assignment=assignment, reason="Fraud", by=staff)
        assert excinfo.value.code == "no_time"


class TestWeeklyPayment:
    def test_a_finished_week_is_paid_once_less_the_fee(self, customer, funded, expert):
        project = hourly_project(customer)
        first = task_services.approve_assignment(worked(expert, project, 1500, seed=1))
        task_services.reject_assignment(worked(expert, project, 734, seed=2))
        assert pay_weekly() == 0  # the week is not over
        assert pay_weekly(next_week()) == 1
        payment = WeeklyPayment.objects.get()
        assert (payment.project_id, payment.expert_id, payment.week, payment.currency) == (
            project.pk, expert.pk, week_start(first.leased_at).date(), "USD")
        assert (payment.seconds, payment.amount, payment.fee, payment.net) == (
            2234, Decimal("22.34"), Decimal("4.47"), Decimal("17.87"))
        assert set(TimeEntry.objects.values_list("status", "payment")) == {
            (TimeEntry.Status.PAID, payment.pk)}
        assert (earned(expert), fees(), payable(funded)) == (Decimal("17.87"),
                                                             Decimal("4.47"), 0)
        posted = Transaction.objects.get(kind="hourly_payment")
        assert (posted.idempotency_key, posted.weekly_payment) == (f"weekly:{payment.pk}",
                                                                   payment)
        assert posted.memo == f"Week of {payment.week:%Y-%m-%d}: 0.62 h at 36.00/h"
        assert pay_weekly(next_week()) == 0
        assert earned(expert) == Decimal("17.87")
        assert_books_balance()

    def test_each_expert_and_week_is_paid_apart(self, customer, funded, expert):
        project = hourly_project(customer, items=4)
        other = factories.expert()
        earlier = worked(expert, project, 100, seed=1)
        Assignment.objects.filter(pk=earlier.pk).update(
            leased_at=F("leased_at") - timedelta(days=7))
        for assignment in (earlier, worked(expert, project, 200, seed=2),
                           worked(other, project, 300, seed=3)):
            task_services.approve_assignment(assignment)
        assert pay_weekly() == 1  # last week's lease only
        assert list(WeeklyPayment.objects.values_list("expert", "seconds")) == [
            (expert.pk, 100)]
        assert pay_weekly(next_week()) == 2
        assert sorted(WeeklyPayment.objects.values_list("expert", "seconds")) == sorted([
            (expert.pk, 100), (expert.pk, 200), (other.pk, 300)])
        assert (earned(expert), earned(other), payable(funded)) == (
            Decimal("2.40"), Decimal("2.40"), 0)
        assert_books_balance()

    def test_the_weekly_payment_runs_every_hour(self):
        assert ("marketplace.hourly.pay_weekly", 60) in jobs.SCHEDULES
