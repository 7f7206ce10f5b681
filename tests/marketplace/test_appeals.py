"""The money an appealed rejection waits on: held once, given back once and only the appeal's
own hold, the books balanced throughout."""

from decimal import Decimal

import pytest

from marketplace import appeals, ledger
from marketplace.ledger import Line
from marketplace.models import Account, Transaction
from tasks.models import Assignment
from tests.marketplace.conftest import assert_books_balance, available, reserved
from tests.quality.appeal_setup import organization_with_leads, rejected

pytestmark = pytest.mark.django_db


def rejected_work(setting, expert) -> Assignment:
    annotation = rejected(setting.project, expert, setting.qa_lead)
    return Assignment.objects.get(pk=annotation.assignment_id)


@pytest.fixture
def setting(customer):
    return organization_with_leads(customer, funds="20.00")


def test_the_hold_is_taken_once(setting, expert):
    assignment = rejected_work(setting, expert)
    assert appeals.hold_for_appeal(assignment, 7)
    assert appeals.hold_for_appeal(assignment, 7)  # the same key: nothing more moves
    assert (available(setting.organization), reserved(setting.organization)) == (
        Decimal("16.00"), Decimal("4.00"))
    assert_books_balance()


def test_the_release_gives_back_only_the_appeals_hold(setting, expert):
    assignment = rejected_work(setting, expert)
    appeals.hold_for_appeal(assignment, 7)
    free, held = ledger.organization_accounts(setting.organization.pk, "USD")
    ledger.post(kind=Transaction.Kind.RESERVATION, lines=[Line(free, Decimal("-1.50")),
                                                          Line(held, Decimal("1.50"))],
                idempotency_key="other-hold", assignment_id=assignment.pk)
    appeals.release_appeal_hold(assignment, 7)
    appeals.release_appeal_hold(assignment, 7)
    assert reserved(setting.organization) == Decimal("1.50")
    assert available(setting.organization) == Decimal("18.50")
    assert_books_balance()


def test_nothing_held_nothing_released(setting, expert):
    assignment = rejected_work(setting, expert)
    appeals.release_appeal_hold(assignment, 8)
    assert not Transaction.objects.filter(idempotency_key="appeal:8:release").exists()
    assignment.price = Decimal("0.00")
    assert not appeals.hold_for_appeal(assignment, 8)
    assert Account.objects.get(kind="reserved", organization=setting.organization).balance == 0
