"""Reading money back: a project's funding, an organization's balance and statement, an
expert's earnings. Nothing here writes; balances come from the cached columns that the
reconciliation proves equal to the entries, sums over entries from the entries themselves.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.models import Organization
from config.money import after_fee
from tasks.activity import cap_seconds
from tasks.estimates import working_seconds
from tasks.models import Assignment, Project

from . import hourly
from .ledger import ZERO, find_account, money
from .models import Account, Bonus, Deposit, Entry, Payout, TimeEntry, Transaction, WeeklyPayment
from .services import lease_hold, refusal

Kind = Transaction.Kind
HOURLY = Project.Contract.HOURLY
SECONDS_PER_HOUR = Decimal(3600)

# Work whose time counts toward an expert's hours: decided work, and on hourly contracts
# also the skipped and expired leases, whose active time is paid too.
DECIDED_WORK = (Q(status__in=[Assignment.Status.APPROVED, Assignment.Status.REJECTED])
                | Q(project__contract=HOURLY,
                    status__in=[Assignment.Status.SKIPPED, Assignment.Status.EXPIRED]))


def total(field: str = "amount", **filters) -> Coalesce:
    """Sum(field) over the rows matching `filters`, zero when there are none."""
    condition = Q(**filters) if filters else None
    return Coalesce(Sum(field, filter=condition), Value(ZERO),
                    output_field=DecimalField(max_digits=14, decimal_places=2))


def default_currency(currencies: Iterable[str]) -> str:
    """The holder's one currency, or the platform's default when it has none or several."""
    found = sorted(set(currencies))
    return found[0] if len(found) == 1 else settings.DEFAULT_CURRENCY


@dataclass(frozen=True)
class Funding:
    currency: str
    hold_per_task: Decimal
    available: Decimal
    reserved: Decimal
    can_lease: bool
    reason: str


def funding(project: Project) -> Funding:
    """Whether the project can lease another task now, and if not, why.

    An hourly lease holds the cost of all the time it may log: its window at the hourly
    rate, within the weekly cap (an expert with less of the cap left holds less).
    """
    if project.contract == HOURLY:
        seconds = min(project.assignment_ttl_s, cap_seconds(project))
        hold = hourly.cost(project.hourly_rate, seconds)
        why = hourly.refusal(project, seconds, hold)
    else:
        hold = lease_hold(project)
        why = refusal(project, project.organization, hold)
    owner = {"organization_id": project.organization_id}
    available = find_account(Account.Kind.ORGANIZATION, project.currency, **owner)
    reserved = find_account(Account.Kind.RESERVED, project.currency, **owner)
    balance = available.balance if available else ZERO
    can_lease = hold <= 0 or balance >= hold
    return Funding(currency=project.currency, hold_per_task=hold, available=balance,
                   reserved=reserved.balance if reserved else ZERO, can_lease=can_lease,
                   reason="" if can_lease else why)


def organization_currency(organization: Organization) -> str:
    return default_currency(Account.objects.filter(organization=organization)
                            .values_list("currency", flat=True))


def organization_balance(organization: Organization, currency: str) -> dict:
    """Available, reserved, payable and spent funds, and what went where per project.

    available + reserved + payable + spent = deposits - refunds. Spent is what approvals,
    bonuses and weekly payments of hourly time took from the organization: the experts' share
    and the platform's fee together; payable is decided hourly time the next weekly payment
    pays.
    """
    owner = {"organization_id": organization.pk}
    available = find_account(Account.Kind.ORGANIZATION, currency, **owner)
    reserved = find_account(Account.Kind.RESERVED, currency, **owner)
    payable = find_account(Account.Kind.PAYABLE, currency, **owner)
    mine = Entry.objects.filter(account__organization=organization, account__currency=currency)
    spent = mine.aggregate(spent=total(transaction__kind__in=Transaction.SPENDING_KINDS))
    payments = Deposit.objects.filter(organization=organization, currency=currency).aggregate(
        deposits=total(kind=Deposit.Kind.DEPOSIT), refunds=total(kind=Deposit.Kind.REFUND))
    fees = Entry.objects.filter(
        account__kind=Account.Kind.PLATFORM_FEES, currency=currency,
        transaction__project__organization=organization).values("transaction__project")
    fee_by_project = {row["transaction__project"]: row["fee"]
                      for row in fees.annotate(fee=total())}
    billed = (TimeEntry.objects.filter(project__organization=organization, currency=currency)
              .exclude(status=TimeEntry.Status.WITHHELD)
              .values("project").annotate(seconds=Sum("seconds")).order_by())
    seconds_by_project = {row["project"]: row["seconds"] for row in billed}
    # Hourly time is paid by the week, not per task: count the approved leases.
    approved_hourly = dict(
        Assignment.objects.filter(project__organization=organization, project__contract=HOURLY,
                                  project__currency=currency,
                                  status=Assignment.Status.APPROVED)
        .values("project").annotate(approved=Count("pk")).order_by()
        .values_list("project", "approved"))
    per_project = (mine.exclude(transaction__project=None)
                   .values("transaction__project", "transaction__project__name",
                           "transaction__project__contract")
                   .annotate(spent=total(transaction__kind__in=Transaction.SPENDING_KINDS),
                             reserved=total(account__kind=Account.Kind.RESERVED),
                             payable=total(account__kind=Account.Kind.PAYABLE),
                             approvals=Count("transaction", distinct=True,
                                             filter=Q(transaction__kind=Kind.APPROVAL)))
                   .order_by("transaction__project"))
    return {
        "currency": currency,
        "available": available.balance if available else ZERO,
        "reserved": reserved.balance if reserved else ZERO,
        "payable": payable.balance if payable else ZERO,
        "spent": money(-spent["spent"]),
        "deposits": money(payments["deposits"]),
        "refunds": money(payments["refunds"]),
        "fees": money(sum(fee_by_project.values(), ZERO)),
        "by_project": [
            {"project": row["transaction__project"], "name": row["transaction__project__name"],
             "contract": row["transaction__project__contract"],
             "spent": money(-row["spent"]), "reserved": money(row["reserved"]),
             "payable": money(row["payable"]),
             "fees": money(fee_by_project.get(row["transaction__project"], ZERO)),
             "approved_tasks": (approved_hourly.get(row["transaction__project"], 0)
                                if row["transaction__project__contract"] == HOURLY
                                else row["approvals"]),
             "hours": (hours(seconds_by_project.get(row["transaction__project"]))
                       if row["transaction__project__contract"] == HOURLY else None)}
            for row in per_project],
    }


def statement(organization: Organization, currency: str) -> QuerySet[Transaction]:
    """One line per transaction that touched the organization's funds, newest first, with
    what it did to the available, reserved and payable funds, where spent money went, and
    for hourly time the seconds it was for (``seconds``: the lease's time entry, or the
    weekly payment's whole week)."""
    touched = Entry.objects.filter(account__organization=organization,
                                   account__currency=currency).values("transaction_id")
    return (Transaction.objects.filter(pk__in=touched)
            .select_related("project")
            .annotate(available=total("entries__amount",
                                      entries__account__kind=Account.Kind.ORGANIZATION),
                      reserved=total("entries__amount",
                                     entries__account__kind=Account.Kind.RESERVED),
                      payable=total("entries__amount",
                                    entries__account__kind=Account.Kind.PAYABLE),
                      to_expert=total("entries__amount",
                                      entries__account__kind=Account.Kind.EXPERT),
                      fee=total("entries__amount",
                                entries__account__kind=Account.Kind.PLATFORM_FEES),
                      seconds=Case(
                          When(kind=Kind.HOURLY_PAYMENT, then=F("weekly_payment__seconds")),
                          When(kind__in=[Kind.TIME_ACCRUED, Kind.TIME_WITHHELD],
                               then=F("assignment__time_entry__seconds"))))
            .order_by("-id"))


def expert_currency(expert) -> str:
    return default_currency(Account.objects.filter(expert=expert)
                            .values_list("currency", flat=True))


def earnings_entries(expert, currency: str) -> QuerySet[Entry]:
    return (Entry.objects.filter(account__expert=expert, account__currency=currency)
            .select_related("transaction__project").order_by("-id"))


def paid_for(expert, assignment_ids: Iterable[int]) -> dict[int, tuple[Decimal, str]]:
    """What the expert received for each of these assignments, approval and bonuses
    together, after the platform fee: ``{assignment_id: (amount, currency)}``. Hourly time
    counts once its weekly payment paid it, at its own cost less the fee (the payment's fee
    is taken on the week's sum, so the lines of a week may differ from it by a cent)."""
    ids = list(assignment_ids)
    rows = (Entry.objects.filter(account__expert=expert, transaction__assignment_id__in=ids,
                                 transaction__kind__in=Transaction.SPENDING_KINDS)
            .values("transaction__assignment_id", "currency").annotate(paid=total())
            .order_by())
    paid = {row["transaction__assignment_id"]: (money(row["paid"]), row["currency"])
            for row in rows}
    for entry in TimeEntry.objects.filter(
            expert=expert, assignment_id__in=ids, status=TimeEntry.Status.PAID).only(
            "assignment_id", "amount", "currency"):
        paid[entry.assignment_id] = (after_fee(entry.amount), entry.currency)
    return paid


EARNINGS_CSV_HEADER = ["id", "created_at", "kind", "memo", "project", "project_name", "amount",
                       "currency"]


def earnings_csv_rows(expert, currency: str) -> Iterator[list]:
    """Every line of the expert's statement, oldest last, as rows under EARNINGS_CSV_HEADER
    (for ``config.csvcells.lines``, which makes them inert for spreadsheets)."""
    for entry in earnings_entries(expert, currency).iterator(chunk_size=2000):
        posted = entry.transaction
        yield [entry.pk, posted.created_at.isoformat(), posted.kind, posted.memo,
               posted.project_id, posted.project.name if posted.project else "", entry.amount,
               entry.currency]


def hours(seconds: float | int | None) -> Decimal:
    """Seconds as hours to the hundredth, rounded as the hourly ledger lines' memos write
    them, so that a line's hours and its memo never differ."""
    return Decimal(hourly.hours(Decimal(str(seconds or 0))))


def effective_rate(paid: Decimal, seconds: float | int) -> Decimal | None:
    """What each hour of the time earned, from the exact seconds rather than the rounded
    hours; None when no time was tracked, since no rate can be read from it."""
    if not seconds:
        return None
    return money(paid * SECONDS_PER_HOUR / Decimal(str(seconds)))


def worked_seconds(expert, currency: str) -> dict[int, dict]:
    """Per project, the seconds the expert spent on decided work (``DECIDED_WORK``) and
    the approved tasks among it.

    A lease's time is its tracked active time when it has any, else the time the expert
    took from lease to answer: per-task work done through a client that sends no
    heartbeats still has an hourly rate. ``rated_seconds`` leaves out hourly time awaiting
    its weekly payment: the effective rate reads it once it is paid, so that the rate never
    reads low for pay that is on its way.
    """
    seconds = Coalesce(working_seconds(), Value(0.0))
    rows = (Assignment.objects.filter(DECIDED_WORK, expert=expert, project__currency=currency)
            .values("project", "project__name", "project__contract")
            .annotate(seconds=Sum(seconds),
                      rated_seconds=Coalesce(Sum(seconds, filter=~Q(
                          time_entry__status=TimeEntry.Status.PAYABLE)), Value(0.0)),
                      approved=Count("pk", filter=Q(status=Assignment.Status.APPROVED)))
            .order_by())
    return {row["project"]: row for row in rows}


def earnings(expert, currency: str) -> dict:
    """The expert's balance and where it came from: per project with the hours worked and
    the rate they earned, bonuses, weekly payments of hourly time and the time still awaiting
    one or withheld, payouts, and the rejected work that paid nothing."""
    account = find_account(Account.Kind.EXPERT, currency, expert_id=expert.pk)
    entries = earnings_entries(expert, currency)
    paid = {row["transaction__project"]: row for row in (
        entries.filter(transaction__kind__in=Transaction.SPENDING_KINDS)
        .values("transaction__project", "transaction__project__name",
                "transaction__project__contract")
        .annotate(earned=total(), bonuses=total(transaction__kind=Kind.BONUS),
                  approved_tasks=Count("pk", filter=Q(transaction__kind=Kind.APPROVAL)))
        .order_by())}
    worked = worked_seconds(expert, currency)
    per_project = []
    for project_id in sorted(paid.keys() | worked.keys(), key=lambda pk: pk or 0):
        money_row, work_row = paid.get(project_id), worked.get(project_id)
        contract = (work_row["project__contract"] if work_row
                    else money_row["transaction__project__contract"])
        earned = money(money_row["earned"]) if money_row else ZERO
        seconds = work_row["seconds"] if work_row else 0
        rated = work_row["rated_seconds"] if work_row else 0
        # Hourly time is paid by the week, not per task: count the approved leases.
        approved = (work_row["approved"] if work_row else 0) if contract == HOURLY else (
            money_row["approved_tasks"] if money_row else 0)
        per_project.append({
            "project": project_id,
            "name": work_row["project__name"] if work_row
            else money_row["transaction__project__name"],
            "contract": contract, "earned": earned,
            "bonuses": money(money_row["bonuses"]) if money_row else ZERO,
            "approved_tasks": approved, "seconds": seconds, "rated_seconds": rated,
            "hours": hours(seconds), "effective_hourly_rate": effective_rate(earned, rated)})
    all_seconds = sum(row["seconds"] for row in per_project)
    all_rated = sum(row["rated_seconds"] for row in per_project)
    all_earned = sum((row["earned"] for row in per_project), ZERO)
    payouts = Payout.objects.filter(expert=expert, currency=currency)
    in_flight = payouts.filter(status__in=[Payout.Status.REQUESTED, Payout.Status.PROCESSING])
    time_entries = (TimeEntry.objects.of_expert(expert).filter(currency=currency)
                    .select_related("project"))
    return {
        "balance": account.balance if account else ZERO,
        "currency": currency,
        "pending_payouts": money(in_flight.aggregate(amount=total())["amount"]),
        "paid_out": money(payouts.filter(status=Payout.Status.PAID)
                          .aggregate(amount=total())["amount"]),
        "hours": hours(all_seconds),
        "rated_hours": hours(all_rated),
        "effective_hourly_rate": effective_rate(all_earned, all_rated),
        "per_project": per_project,
        "weekly_payments": weekly_payments(WeeklyPayment.objects.of_expert(expert)
                                           .filter(currency=currency)),
        "pending": time_entries.filter(status=TimeEntry.Status.PAYABLE).order_by("week", "id"),
        "withheld": time_entries.filter(status=TimeEntry.Status.WITHHELD)
        .order_by("-withheld_at", "-id"),
        "bonuses": Bonus.objects.filter(expert=expert, currency=currency)
        .select_related("project"),
        "payouts": payouts,
        "rejected": Assignment.objects.filter(expert=expert, status=Assignment.Status.REJECTED,
                                              project__currency=currency, price__gt=0)
        .select_related("project").order_by("-finished_at", "-id"),
        "entries": entries,
    }


def weekly_payments(payments: QuerySet[WeeklyPayment]) -> QuerySet[WeeklyPayment]:
    """Weekly payments with their project and the hourly rate their time was costed at
    (``rate``: a project's rate is frozen once it has work, so one per payment)."""
    return (payments.select_related("project").annotate(rate=Max("entries__rate"))
            .order_by("-week", "-id"))
