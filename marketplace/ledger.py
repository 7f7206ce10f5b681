"""Posting to the double-entry ledger and reading balances back.

``post`` is the only code that writes entries. It locks the cached accounts it touches in id
order (one statement, so concurrent postings queue on the same rows in the same order and
cannot deadlock each other), refuses to take a cached balance below zero, and is idempotent:
a second posting under the same key returns the first transaction and moves nothing.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, DecimalField, Expression, Q, Sum
from django.db.models.functions import Coalesce, Round

from config.money import money

from .models import Account, Entry, Transaction

ZERO = Decimal("0.00")


class UnbalancedTransaction(ValueError):
    """Entries that do not sum to zero; a bug in the caller, never a user error."""


class InsufficientFunds(Exception):
    """A posting would take a cached balance below zero."""

    def __init__(self, account: Account, balance: Decimal, amount: Decimal):
        super().__init__(f"{account} holds {balance}, {amount} would overdraw it")
        self.account = account
        self.balance = balance
        self.amount = amount


@dataclass(frozen=True)
class Line:
    account: Account
    amount: Decimal


def cents(total: Expression) -> Round:
    """A database sum rounded to the cent. PostgreSQL sums numerics exactly; SQLite sums
    them as binary floats, and its 1e-16 leftovers must not read as money."""
    return Round(total, 2, output_field=DecimalField(max_digits=14, decimal_places=2))


def get_account(kind: str, currency: str, *, organization_id: int | None = None,
                expert_id: int | None = None) -> Account:
    """The account, created on first use. Concurrent creators meet on its unique constraint
    and both get the one row."""
    cached = kind in Account.CACHED_KINDS
    account, _ = Account.objects.get_or_create(
        kind=kind, currency=currency, organization_id=organization_id, expert_id=expert_id,
        defaults={"balance": ZERO if cached else None})
    return account


def find_account(kind: str, currency: str, *, organization_id: int | None = None,
                 expert_id: int | None = None) -> Account | None:
    """The account if it exists; reads never create accounts."""
    return Account.objects.filter(kind=kind, currency=currency, organization_id=organization_id,
                                  expert_id=expert_id).first()


def organization_accounts(organization_id: int, currency: str) -> tuple[Account, Account]:
    """The organization's (available, reserved) accounts in one currency; one query once
    they exist, which is on every lease."""
    kinds = (Account.Kind.ORGANIZATION, Account.Kind.RESERVED)
    found = {account.kind: account for account in Account.objects.filter(
        organization_id=organization_id, currency=currency, kind__in=kinds)}
    available, reserved = (found.get(kind) or get_account(kind, currency,
                                                         organization_id=organization_id)
                           for kind in kinds)
    return available, reserved


def expert_account(expert_id: int, currency: str) -> Account:
    return get_account(Account.Kind.EXPERT, currency, expert_id=expert_id)


def platform_account(kind: str, currency: str) -> Account:
    return get_account(kind, currency)


def check_balanced(lines: Sequence[Line]) -> None:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.amount == 0:
            raise UnbalancedTransaction("An entry may not be zero.")
        if line.amount != money(line.amount):
            raise UnbalancedTransaction(f"{line.amount} has more than two decimal places.")
        totals[line.account.currency] += line.amount
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if len(lines) < 2 or unbalanced:
        raise UnbalancedTransaction(f"Entries must sum to zero per currency: {unbalanced}.")


def lock(accounts: Iterable[Account]) -> dict[int, Account]:
    """Lock accounts with a cached balance, lowest id first, and read their balances."""
    ids = sorted({account.pk for account in accounts if account.cached})
    if not ids:
        return {}
    return {account.pk: account for account in
            Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


@transaction.atomic
def post(*, kind: str, lines: Sequence[Line], idempotency_key: str, memo: str = "",
         **references) -> tuple[Transaction, bool]:
    """Write one balanced transaction; ``(transaction, created)``.

    Raises InsufficientFunds, before writing anything, when a cached balance would go below
    zero. ``references`` are the Transaction's links (project, assignment, bonus, payout,
    deposit, created_by).
    """
    lines = [line for line in lines if line.amount]
    check_balanced(lines)
    locked = lock(line.account for line in lines)
    # After the locks: a concurrent posting under the same key has committed by now.
    existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        deltas[line.account.pk] += line.amount
    for account_id, account in locked.items():
        if account.balance + deltas[account_id] < 0:
            raise InsufficientFunds(account, account.balance, -deltas[account_id])
    values = {"kind": kind, "memo": memo[:500], "idempotency_key": idempotency_key,
              **references}
    if locked:
        posted = Transaction.objects.create(**values)
    else:
        # Postings without a cached account (payout settlements) lock nothing: the unique
        # key decides between concurrent ones.
        try:
            with transaction.atomic():
                posted = Transaction.objects.create(**values)
        except IntegrityError:
            existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return existing, False
    Entry.objects.bulk_create([Entry(transaction=posted, account=line.account,
                                     amount=line.amount, currency=line.account.currency)
                               for line in lines])
    for account_id, account in locked.items():
        if deltas[account_id]:
            # The row lock makes the value read above current; writing the exact sum also
            # keeps SQLite, which adds decimals as binary floats, off the CHECK's edge.
            account.balance += deltas[account_id]
            Account.objects.filter(pk=account_id).update(balance=account.balance)
    for line in lines:
        if line.account.pk in locked:
            line.account.balance = locked[line.account.pk].balance
    return posted, True


def balance_of(account: Account | None) -> Decimal:
    """The balance computed from the entries."""
    if account is None or account.pk is None:
        return ZERO
    total = Entry.objects.filter(account=account).aggregate(
        total=Coalesce(Sum("amount"), ZERO))["total"]
    return money(total)


def outstanding_holds(assignment_ids: Iterable[int]) -> dict[int, tuple[int, Decimal]]:
    """What each assignment still holds in its organization's reserved account:
    ``{assignment_id: (reserved_account_id, amount)}``, positive amounts only."""
    rows = (Entry.objects.filter(account__kind=Account.Kind.RESERVED,
                                 transaction__assignment_id__in=list(assignment_ids))
            .values("transaction__assignment_id", "account_id")
            .annotate(total=cents(Sum("amount"))).filter(total__gt=0))
    return {row["transaction__assignment_id"]: (row["account_id"], money(row["total"]))
            for row in rows}


def reconcile() -> dict:
    """The books checked: per currency the sum of every entry (zero), every account's
    computed balance against its cached one, and any transaction whose entries do not sum to
    zero (there must be none)."""
    totals = {row["currency"]: money(row["total"]) for row in
              Entry.objects.values("currency").annotate(total=cents(Sum("amount")))
              .order_by("currency")}
    accounts = list(
        Account.objects.select_related("organization", "expert")
        .annotate(computed=Coalesce(Sum("entries__amount"), ZERO)).order_by("currency", "kind",
                                                                           "id"))
    for account in accounts:
        account.computed = money(account.computed)
        account.matches = account.balance is None or account.balance == account.computed
    unbalanced = list(
        Transaction.objects.values("pk", "kind", "idempotency_key")
        .annotate(total=cents(Coalesce(Sum("entries__amount"), ZERO)), lines=Count("entries"))
        .filter(~Q(total=0) | Q(lines__lt=2)).order_by("pk"))
    mismatched = [account for account in accounts if not account.matches]
    return {
        "totals": totals,
        "accounts": accounts,
        "mismatched": mismatched,
        "unbalanced": unbalanced,
        "ok": not mismatched and not unbalanced and not any(totals.values()),
    }
