"""The ledger's rules: balanced postings, idempotency keys, no overdraft; and on PostgreSQL
the same rules in the database, against rows written behind the services' back."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from marketplace import ledger
from marketplace.ledger import InsufficientFunds, Line, UnbalancedTransaction
from marketplace.models import Account, Entry, Transaction
from tests import factories
from tests.marketplace.conftest import assert_books_balance, deposit

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts(customer):
    organization = factories.organization_of(customer)
    available, reserved = ledger.organization_accounts(organization.pk, "USD")
    cash = ledger.platform_account(Account.Kind.PLATFORM_CASH, "USD")
    return available, reserved, cash


def test_postings_must_balance(accounts):
    available, _, cash = accounts
    for lines in ([Line(available, Decimal("5.00")), Line(cash, Decimal("-4.00"))],
                  [Line(available, Decimal("5.00"))],
                  [Line(available, Decimal("0.005")), Line(cash, Decimal("-0.005"))]):
        with pytest.raises(UnbalancedTransaction):
            ledger.post(kind="deposit", lines=lines, idempotency_key="bad")
    assert not Transaction.objects.exists()


def test_a_key_posts_once(accounts):
    available, _, cash = accounts
    lines = [Line(available, Decimal("5.00")), Line(cash, Decimal("-5.00"))]
    first, created = ledger.post(kind="deposit", lines=lines, idempotency_key="once")
    again, created_again = ledger.post(kind="deposit", lines=lines, idempotency_key="once")
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert ledger.balance_of(available) == Decimal("5.00")


def test_an_overdraft_is_refused_before_anything_is_written(accounts):
    available, reserved, _ = accounts
    with pytest.raises(InsufficientFunds):
        ledger.post(kind="reservation", idempotency_key="overdraft",
                    lines=[Line(available, Decimal("-1.00")), Line(reserved, Decimal("1.00"))])
    assert not Entry.objects.exists()


def test_the_cached_balance_follows_the_entries(customer):
    organization = factories.organization_of(customer)
    for amount in ["0.10", "0.20", "0.70"]:
        deposit(organization, amount)
    available = Account.objects.get(kind="organization", organization=organization)
    assert available.balance == ledger.balance_of(available) == Decimal("1.00")
    assert_books_balance()


@pytest.mark.postgres
class TestDatabaseRules:
    """Rows written directly, as a bug or a hand-made fix in psql might."""

    def write(self, *amounts, currency="USD", accounts=None):
        available, _, cash = accounts
        with transaction.atomic():
            posted = Transaction.objects.create(kind="deposit", idempotency_key="raw")
            targets = [available, cash]
            for n, amount in enumerate(amounts):
                Entry.objects.create(transaction=posted, account=targets[n % 2],
                                     amount=Decimal(amount), currency=currency)
        return posted

    def test_the_deferred_trigger_rejects_an_unbalanced_transaction(self, accounts):
        with pytest.raises(IntegrityError, match="unbalanced"):
            self.write("5.00", "-4.00", accounts=accounts)
        assert not Transaction.objects.exists()

    def test_entries_may_arrive_one_by_one_before_the_commit(self, accounts):
        posted = self.write("5.00", "-2.00", "-3.00", accounts=accounts)
        assert posted.entries.count() == 3

    def test_entries_are_in_their_accounts_currency(self, accounts):
        with pytest.raises(IntegrityError, match="currency"):
            self.write("5.00", "-5.00", currency="EUR", accounts=accounts)

    def test_a_transaction_needs_entries(self, accounts):
        with pytest.raises(IntegrityError, match="fewer than two entries"), \
                transaction.atomic():
            Transaction.objects.create(kind="deposit", idempotency_key="empty")

    def test_ledger_rows_are_append_only(self, accounts):
        posted = self.write("5.00", "-5.00", accounts=accounts)
        for sql in ["UPDATE marketplace_entry SET amount = 6 WHERE transaction_id = %s",
                    "DELETE FROM marketplace_entry WHERE transaction_id = %s",
                    "UPDATE marketplace_transaction SET memo = 'x' WHERE id = %s"]:
            with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), \
                    connection.cursor() as cursor:
                cursor.execute(sql, [posted.pk])

    def test_a_cached_balance_cannot_go_negative(self, accounts):
        available = accounts[0]
        with pytest.raises(IntegrityError), transaction.atomic():
            Account.objects.filter(pk=available.pk).update(balance=Decimal("-0.01"))
