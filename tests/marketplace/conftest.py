"""Helpers for the money tests: fund an organization, lease, answer and decide work through
the real services, and read balances back from the ledger."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace import ledger, services
from marketplace.models import Account
from tasks import services as task_services
from tasks.models import Assignment, Project
from tasks.routing import next_assignment
from tests import factories


@pytest.fixture(autouse=True)
def _payout_files(settings, tmp_path):
    """Payout files of the default provider go to a directory of the test's own."""
    settings.VAR_DIR = tmp_path


@pytest.fixture
def organization(customer):
    """The customer's organization."""
    return factories.organization_of(customer)


def deposit(organization, amount, *, currency="USD", reference=None, staff=None):
    operator = staff or factories.staff_user()
    record, _ = services.record_deposit(
        organization=organization, amount=Decimal(amount), currency=currency, by=operator,
        reference=reference or f"wire-{organization.pk}-{random.random()}")
    return record


def paid_project(owner, *, price="4.00", items=3, **options):
    return factories.project(owner, items=items, price_per_item=Decimal(price),
                             currency="USD", **options)


def hourly_project(owner, *, rate="36.00", cap_hours="40", items=3, **options):
    """An active hourly project; at the default rate a second of active time costs a cent."""
    created = factories.project(owner, items=items, activate=False, currency="USD", **options)
    Project.objects.filter(pk=created.pk).update(
        contract=Project.Contract.HOURLY, hourly_rate=Decimal(rate),
        weekly_cap_hours=Decimal(cap_hours))
    task_services.transition_project(user=owner, project=created, action="activate")
    created.refresh_from_db()
    return created


def timed(assignment, *, active_s: int = 0, duration_s: float | None = None):
    """Answer a lease after `active_s` seconds of tracked activity (as heartbeats leave it)
    or, without any, in `duration_s` seconds from lease to answer."""
    Assignment.objects.filter(pk=assignment.pk).update(active_s=active_s)
    task_services.submit(assignment_id=assignment.pk, user=assignment.expert,
                         answer={"better": "A"}, duration_s=duration_s)
    assignment.refresh_from_db()
    return assignment


def hourly_worked(customer, organization, expert=None):
    """An hourly project at 36.00/h (a cent a second): 30 minutes of approved time and 15 of
    rejected time, decided and awaiting the weekly payment; the project and the expert."""
    deposit(organization, "100.00")
    project = hourly_project(customer)
    expert = expert or factories.expert()
    task_services.approve_assignment(timed(lease(expert, project, 0).assignment,
                                           active_s=1800))
    task_services.reject_assignment(timed(lease(expert, project, 1).assignment, active_s=900))
    return project, expert


def next_week():
    return timezone.now() + timedelta(days=7)


def lease(expert, project=None, seed=0):
    return next_assignment(expert, project, rng=random.Random(seed))


def submit(assignment, choice="A"):
    task_services.submit(assignment_id=assignment.pk, user=assignment.expert,
                         answer={"better": choice})
    assignment.refresh_from_db()
    return assignment


def balance(kind, currency="USD", **owner) -> Decimal:
    """The balance computed from the entries (zero for an account never used)."""
    return ledger.balance_of(ledger.find_account(kind, currency, **owner))


def available(organization, currency="USD") -> Decimal:
    return balance(Account.Kind.ORGANIZATION, currency, organization_id=organization.pk)


def reserved(organization, currency="USD") -> Decimal:
    return balance(Account.Kind.RESERVED, currency, organization_id=organization.pk)


def earned(expert, currency="USD") -> Decimal:
    return balance(Account.Kind.EXPERT, currency, expert_id=expert.pk)


def payable(organization, currency="USD") -> Decimal:
    return balance(Account.Kind.PAYABLE, currency, organization_id=organization.pk)


def fees(currency="USD") -> Decimal:
    return balance(Account.Kind.PLATFORM_FEES, currency)


def assert_books_balance():
    report = ledger.reconcile()
    assert report["unbalanced"] == []
    assert report["mismatched"] == []
    assert all(total == 0 for total in report["totals"].values())
    for account in report["accounts"]:
        if account.kind != Account.Kind.PLATFORM_CASH:
            assert account.computed >= 0, account
    assert report["ok"]
