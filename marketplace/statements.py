"""Reading money back: a project's funding, an organization's balance and statement, an
expert's earnings. Nothing here writes; balances come from the cached columns that the
reconciliation proves equal to the entries, sums over entries from the entries themselves.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Organization
from tasks.models import Assignment, Project

from .ledger import ZERO, find_account, money
from .models import Account, Bonus, Deposit, Entry, Payout, Transaction
from .services import lease_hold, refusal

Kind = Transaction.Kind


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
    """Whether the project can lease another task now, and if not, why."""
    hold = lease_hold(project)
    owner = {"organization_id": project.organization_id}
    available = find_account(Account.Kind.ORGANIZATION, project.currency, **owner)
    reserved = find_account(Account.Kind.RESERVED, project.currency, **owner)
    balance = available.balance if available else ZERO
    can_lease = hold <= 0 or balance >= hold
    return Funding(currency=project.currency, hold_per_task=hold, available=balance,
                   reserved=reserved.balance if reserved else ZERO, can_lease=can_lease,
                   reason="" if can_lease else refusal(project, project.organization, hold))


def organization_currency(organization: Organization) -> str:
    return default_currency(Account.objects.filter(organization=organization)
                            .values_list("currency", flat=True))


def organization_balance(organization: Organization, currency: str) -> dict:
    """Available, reserved and spent funds, and what went where per project.

    available = deposits - refunds - spent - reserved. Spent is what approvals and bonuses
    took from the organization: the experts' share and the platform's fee together.
    """
    owner = {"organization_id": organization.pk}
    available = find_account(Account.Kind.ORGANIZATION, currency, **owner)
    reserved = find_account(Account.Kind.RESERVED, currency, **owner)
    mine = Entry.objects.filter(account__organization=organization, account__currency=currency)
    spent = mine.aggregate(spent=total(transaction__kind__in=Transaction.SPENDING_KINDS))
    payments = Deposit.objects.filter(organization=organization, currency=currency).aggregate(
        deposits=total(kind=Deposit.Kind.DEPOSIT), refunds=total(kind=Deposit.Kind.REFUND))
    fees = Entry.objects.filter(
        account__kind=Account.Kind.PLATFORM_FEES, currency=currency,
        transaction__project__organization=organization).values("transaction__project")
    fee_by_project = {row["transaction__project"]: row["fee"]
                      for row in fees.annotate(fee=total())}
    per_project = (mine.exclude(transaction__project=None)
                   .values("transaction__project", "transaction__project__name")
                   .annotate(spent=total(transaction__kind__in=Transaction.SPENDING_KINDS),
                             reserved=total(account__kind=Account.Kind.RESERVED),
                             approvals=Count("transaction", distinct=True,
                                             filter=Q(transaction__kind=Kind.APPROVAL)))
                   .order_by("transaction__project"))
    return {
        "currency": currency,
        "available": available.balance if available else ZERO,
        "reserved": reserved.balance if reserved else ZERO,
        "spent": money(-spent["spent"]),
        "deposits": money(payments["deposits"]),
        "refunds": money(payments["refunds"]),
        "fees": money(sum(fee_by_project.values(), ZERO)),
        "by_project": [
            {"project": row["transaction__project"], "name": row["transaction__project__name"],
             "spent": money(-row["spent"]), "reserved": money(row["reserved"]),
             "fees": money(fee_by_project.get(row["transaction__project"], ZERO)),
             "approved_tasks": row["approvals"]}
            for row in per_project],
    }


def statement(organization: Organization, currency: str) -> QuerySet[Transaction]:
    """One line per transaction that touched the organization's funds, newest first, with
    what it did to the available and reserved funds and where spent money went."""
    touched = Entry.objects.filter(account__organization=organization,
                                   account__currency=currency).values("transaction_id")
    return (Transaction.objects.filter(pk__in=touched)
            .select_related("project")
            .annotate(available=total("entries__amount",
                                      entries__account__kind=Account.Kind.ORGANIZATION),
                      reserved=total("entries__amount",
                                     entries__account__kind=Account.Kind.RESERVED),
                      to_expert=total("entries__amount",
                                      entries__account__kind=Account.Kind.EXPERT),
                      fee=total("entries__amount",
                                entries__account__kind=Account.Kind.PLATFORM_FEES))
            .order_by("-id"))


def expert_currency(expert) -> str:
    return default_currency(Account.objects.filter(expert=expert)
                            .values_list("currency", flat=True))


def earnings_entries(expert, currency: str) -> QuerySet[Entry]:
    return (Entry.objects.filter(account__expert=expert, account__currency=currency)
            .select_related("transaction__project").order_by("-id"))


def paid_for(expert, assignment_ids: Iterable[int]) -> dict[int, tuple[Decimal, str]]:
    """What the expert received for each of these assignments, approval and bonuses
    together, after the platform fee: ``{assignment_id: (amount, currency)}``."""
    rows = (Entry.objects.filter(account__expert=expert, transaction__assignment_id__in=list(
                assignment_ids), transaction__kind__in=Transaction.SPENDING_KINDS)
            .values("transaction__assignment_id", "currency").annotate(paid=total())
            .order_by())
    return {row["transaction__assignment_id"]: (money(row["paid"]), row["currency"])
            for row in rows}


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


def earnings(expert, currency: str) -> dict:
    """The expert's balance and where it came from: per project, bonuses, payouts, and the
    rejected work that paid nothing."""
    account = find_account(Account.Kind.EXPERT, currency, expert_id=expert.pk)
    entries = earnings_entries(expert, currency)
    per_project = (entries.filter(transaction__kind__in=Transaction.SPENDING_KINDS)
                   .values("transaction__project", "transaction__project__name")
                   .annotate(earned=total(), bonuses=total(transaction__kind=Kind.BONUS),
                             approved_tasks=Count("pk", filter=Q(
                                 transaction__kind=Kind.APPROVAL)))
                   .order_by("transaction__project"))
    payouts = Payout.objects.filter(expert=expert, currency=currency)
    in_flight = payouts.filter(status__in=[Payout.Status.REQUESTED, Payout.Status.PROCESSING])
    return {
        "balance": account.balance if account else ZERO,
        "currency": currency,
        "pending_payouts": money(in_flight.aggregate(amount=total())["amount"]),
        "paid_out": money(payouts.filter(status=Payout.Status.PAID)
                          .aggregate(amount=total())["amount"]),
        "per_project": [
            {"project": row["transaction__project"], "name": row["transaction__project__name"],
             "earned": money(row["earned"]), "bonuses": money(row["bonuses"]),
             "approved_tasks": row["approved_tasks"]} for row in per_project],
        "bonuses": Bonus.objects.filter(expert=expert, currency=currency)
        .select_related("project"),
        "payouts": payouts,
        "rejected": Assignment.objects.filter(expert=expert, status=Assignment.Status.REJECTED,
                                              project__currency=currency, price__gt=0)
        .select_related("project").order_by("-finished_at", "-id"),
        "entries": entries,
    }
