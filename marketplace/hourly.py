"""The money of hourly contracts, one transaction per change.

The customer pays for the expert's active time (``Assignment.active_s``) at the project's
hourly rate. A lease holds the cost of all the time it could log: its window, within what the
weekly cap leaves the expert (an extension tops the hold up). Submission gives back what the
hold covers beyond the time logged. When the work is decided (approved, rejected, skipped or
expired) its time is booked once: a ``TimeEntry``, and its cost moves from the hold to the
organization's payable account, the rest of the hold back to its available funds.

Rejected time is paid too: the expert worked it, and the rejection judges the answer, not
the hours. Time that was not worked honestly is withheld by an operator, a person deciding
case by case, before the weekly payment; no rule or job withholds. The weekly payment pays
each expert's decided time of a finished week on a project at once, less the platform fee.
"""

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.access import Action, require
from config.exceptions import Conflict
from config.money import after_fee, money, platform_fee
from tasks.activity import cap_left_s, week_start
from tasks.models import Assignment, Project
from tasks.signals import LeaseRefused

from . import ledger
from .ledger import ZERO, InsufficientFunds, Line
from .models import Account, TimeEntry, Transaction, WeeklyPayment

logger = logging.getLogger(__name__)

Kind = Transaction.Kind


def cost(rate: Decimal, seconds: int) -> Decimal:
    """What `seconds` of active time cost at an hourly `rate`, to the cent."""
    return money(rate * seconds / 3600)


def hours(seconds: int | Decimal) -> str:
    """Seconds as hours with two decimals, rounded half up as money is, as statements and
    memos write them."""
    return str((Decimal(seconds) / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def is_hourly(project: Project) -> bool:
    return project.contract == Project.Contract.HOURLY


def _held(assignment_id: int) -> Decimal:
    return ledger.outstanding_holds([assignment_id]).get(assignment_id, (None, ZERO))[1]


def refusal(project: Project, seconds: int, amount: Decimal) -> str:
    """Why an hourly lease of `seconds` costing `amount` cannot be held, in the words that
    routing's refusal and the project's funding page both use."""
    return (f"{project.organization.name}'s balance cannot cover {hours(seconds)} h of work "
            f"at {project.hourly_rate} {project.currency}/h ({amount} {project.currency})")


def _reserve(assignment: Assignment, project: Project, amount: Decimal, seconds: int,
             key: str) -> None:
    available, reserved = ledger.organization_accounts(project.organization_id,
                                                       project.currency)
    try:
        ledger.post(kind=Kind.RESERVATION, lines=[Line(available, -amount),
                                                  Line(reserved, amount)],
                    idempotency_key=key, project_id=project.pk, assignment_id=assignment.pk,
                    memo=f"{hours(seconds)} h of hourly work on assignment {assignment.pk}")
    except InsufficientFunds as exc:
        raise LeaseRefused(refusal(project, seconds, amount)) from exc


@transaction.atomic
def reserve_for_lease(assignment: Assignment) -> None:
    """Hold the cost of as much time as a new hourly lease may log: its window, or what the
    weekly cap leaves the expert when that is less; raise LeaseRefused when the
    organization's available funds cannot cover it."""
    project = assignment.project
    seconds = min(project.assignment_ttl_s,
                  cap_left_s(project, assignment.expert_id, assignment.leased_at))
    amount = cost(project.hourly_rate, seconds)
    if amount > 0:
        _reserve(assignment, project, amount, seconds, f"reserve:{assignment.pk}")


@transaction.atomic
def reserve_for_extension(assignment: Assignment) -> None:
    """Top a live hourly lease's hold up to the cost of its window (longer after an
    extension), within what the cap leaves the expert in the lease's week beside the time
    this lease logged (more after the cap was raised); raise LeaseRefused when the
    organization's available funds cannot cover the difference."""
    project = assignment.project
    window = int((assignment.expires_at - assignment.leased_at).total_seconds())
    seconds = min(window, cap_left_s(project, assignment.expert_id, assignment.leased_at)
                  + assignment.active_s)
    missing = cost(project.hourly_rate, seconds) - _held(assignment.pk)
    if missing > 0:
        # Keyed by the time covered, which only grows: each top-up is new, a retry is not.
        _reserve(assignment, project, missing, seconds, f"reserve:{assignment.pk}:{seconds}s")


def _release(assignment: Assignment, project: Project, amount: Decimal, key: str,
             memo: str) -> None:
    available, reserved = ledger.organization_accounts(project.organization_id,
                                                       project.currency)
    ledger.post(kind=Kind.RELEASE, lines=[Line(reserved, -amount), Line(available, amount)],
                idempotency_key=key, project_id=project.pk, assignment_id=assignment.pk,
                memo=memo)


@transaction.atomic
def release_unlogged(assignment: Assignment, project: Project) -> None:
    """At submission, with the lease's active time final: give back what its hold covers
    beyond the cost of that time."""
    rest = _held(assignment.pk) - cost(project.hourly_rate, assignment.active_s)
    if rest > 0:
        _release(assignment, project, rest, f"release:{assignment.pk}",
                 f"Time not logged on assignment {assignment.pk}")


@transaction.atomic
def accrue(assignments: Iterable[Assignment], project: Project) -> None:
    """Book the active time of decided hourly leases, once per lease: a time entry, its cost
    from the hold (available funds for any part the hold lacks) to the organization's
    payable account, and the rest of the hold back. A lease with no active time books
    nothing and gives its whole hold back."""
    assignments = list(assignments)
    booked = set(TimeEntry.objects.filter(assignment__in=[a.pk for a in assignments])
                 .values_list("assignment_id", flat=True))
    for assignment in assignments:
        if assignment.pk not in booked:
            _accrue(assignment, project)


def _accrue(assignment: Assignment, project: Project) -> None:
    currency = project.currency
    held = _held(assignment.pk)
    amount = cost(project.hourly_rate, assignment.active_s)
    if assignment.active_s > 0:
        TimeEntry.objects.create(
            assignment_id=assignment.pk, project_id=project.pk, expert_id=assignment.expert_id,
            week=week_start(assignment.leased_at).date(), seconds=assignment.active_s,
            rate=project.hourly_rate, amount=amount, currency=currency)
    if amount > 0:
        available, reserved = ledger.organization_accounts(project.organization_id, currency)
        payable = ledger.get_account(Account.Kind.PAYABLE, currency,
                                     organization_id=project.organization_id)
        from_hold = min(held, amount)
        try:
            ledger.post(kind=Kind.TIME_ACCRUED, idempotency_key=f"accrue:{assignment.pk}",
                        project_id=project.pk, assignment_id=assignment.pk,
                        memo=f"{hours(assignment.active_s)} h at {project.hourly_rate}/h on "
                             f"assignment {assignment.pk}",
                        lines=[Line(reserved, -from_hold),
                               Line(available, -(amount - from_hold)), Line(payable, amount)])
        except InsufficientFunds as exc:
            raise Conflict(f"{project.organization.name}'s available balance cannot pay "
                           f"{amount} {currency} for the time of assignment "
                           f"{assignment.pk}; deposit funds, then try again.",
                           code="insufficient_funds") from exc
        held -= from_hold
    if held > 0:
        _release(assignment, project, held, f"accrue:{assignment.pk}:release",
                 f"Hold of assignment {assignment.pk} beyond its {assignment.status} time")


@transaction.atomic
def withhold_time(*, assignment: Assignment, reason: str, by) -> TimeEntry:
    """Withhold a lease's decided time as fraud: its cost goes back to the organization's
    available funds and the expert is not paid for it. Operators only, with a reason the
    expert reads, and only before the weekly payment has paid it."""
    require(by, Action.OPERATE, message="Only platform operators withhold time.")
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the time is withheld: the expert and the "
                                          "customer read it."]})
    entry = (TimeEntry.objects.select_for_update().select_related("project")
             .filter(assignment=assignment.pk).first())
    if entry is None:
        raise Conflict(f"Assignment {assignment.pk} has no decided hourly time to withhold.",
                       code="no_time")
    if entry.status == TimeEntry.Status.PAID:
        payment = entry.payment
        raise Conflict(f"This time was already paid in the payment of the week of "
                       f"{payment.week:%Y-%m-%d}.", code="paid")
    if entry.status == TimeEntry.Status.WITHHELD:
        raise Conflict(f"This time was already withheld: {entry.withheld_reason}",
                       code="withheld")
    if entry.amount > 0:
        organization_id = entry.project.organization_id
        payable = ledger.get_account(Account.Kind.PAYABLE, entry.currency,
                                     organization_id=organization_id)
        available = ledger.get_account(Account.Kind.ORGANIZATION, entry.currency,
                                       organization_id=organization_id)
        ledger.post(kind=Kind.TIME_WITHHELD, idempotency_key=f"withhold:{entry.pk}",
                    project_id=entry.project_id, assignment_id=entry.assignment_id,
                    created_by=by, memo=f"Time of assignment {entry.assignment_id} withheld: "
                                        f"{reason.strip()}",
                    lines=[Line(payable, -entry.amount), Line(available, entry.amount)])
    entry.status = TimeEntry.Status.WITHHELD
    entry.withheld_reason = reason.strip()
    entry.withheld_by = by
    entry.withheld_at = timezone.now()
    entry.save(update_fields=["status", "withheld_reason", "withheld_by", "withheld_at"])
    return entry


def pay_weekly(now: datetime | None = None) -> int:
    """Pay every expert's payable time of the weeks before the current one, one payment per
    expert, project, week and currency, each in its own transaction; returns how many
    payments were made.

    A payment locks its entries and marks them paid in the transaction that pays them: a
    second run, at once or after a crash, finds nothing left to pay for them.
    """
    this_week = week_start(now or timezone.now()).date()
    groups = (TimeEntry.objects.filter(status=TimeEntry.Status.PAYABLE, week__lt=this_week)
              .values_list("project_id", "expert_id", "week", "currency").distinct()
              .order_by("week", "project_id", "expert_id", "currency"))
    return sum(1 for group in list(groups) if _pay_group(*group) is not None)


@transaction.atomic
def _pay_group(project_id: int, expert_id: int, week, currency: str) -> WeeklyPayment | None:
    # Locked in id order, waiting for whoever holds one (another run, an operator
    # withholding it) and reading its status after them: skipping locked entries instead
    # would let two runs split one week into two payments.
    entries = list(TimeEntry.objects.select_for_update()
                   .filter(project_id=project_id, expert_id=expert_id, week=week,
                           currency=currency, status=TimeEntry.Status.PAYABLE).order_by("pk"))
    if not entries:
        return None
    amount = sum((entry.amount for entry in entries), ZERO)
    seconds = sum(entry.seconds for entry in entries)
    payment = WeeklyPayment.objects.create(
        project_id=project_id, expert_id=expert_id, week=week, seconds=seconds,
        amount=amount, fee=platform_fee(amount), net=after_fee(amount), currency=currency)
    if amount > 0:
        organization_id = (Project.objects.filter(pk=project_id)
                           .values_list("organization_id", flat=True).get())
        payable = ledger.get_account(Account.Kind.PAYABLE, currency,
                                     organization_id=organization_id)
        rates = sorted({entry.rate for entry in entries})
        rate = f" at {rates[0]}/h" if len(rates) == 1 else ""
        ledger.post(kind=Kind.HOURLY_PAYMENT, idempotency_key=f"weekly:{payment.pk}",
                    project_id=project_id, weekly_payment=payment,
                    memo=f"Week of {week:%Y-%m-%d}: {hours(seconds)} h{rate}",
                    lines=[Line(payable, -amount),
                           Line(ledger.expert_account(expert_id, currency), payment.net),
                           Line(ledger.platform_account(Account.Kind.PLATFORM_FEES, currency),
                                payment.fee)])
    TimeEntry.objects.filter(pk__in=[entry.pk for entry in entries]).update(
        status=TimeEntry.Status.PAID, payment=payment)
    logger.info("paid %s %s for %s s of week %s to expert %s on project %s", amount, currency,
                seconds, week, expert_id, project_id)
    return payment

