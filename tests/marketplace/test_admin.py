"""The finance operators' admin: balances without N+1 queries, a read-only ledger, payouts
settled through the services, and the reconciliation page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from marketplace import services
from marketplace.models import Payout, Transaction
from tasks import services as task_services
from tests import factories
from tests.marketplace.conftest import deposit, earned, lease, paid_project, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(customer):
    """Several organizations and experts with money, one payout requested."""
    experts = []
    for n in range(3):
        owner = customer if n == 0 else factories.customer()
        deposit(factories.organization_of(owner), "50.00")
        project = paid_project(owner, items=2)
        expert = factories.expert()
        task_services.approve_assignment(submit(lease(expert, project).assignment))
        experts.append(expert)
    services.request_payout(expert=experts[0], amount=Decimal("2.00"), currency="USD")
    return experts


def test_account_list_shows_balances_in_a_fixed_number_of_queries(
        admin_client, books, django_assert_max_num_queries):
    url = reverse("admin:marketplace_account_changelist")
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200
    content = response.content.decode().lower()
    assert "computed from entries" in content and "reconciliation" in content
    books.append(factories.expert())
    deposit(factories.organization_of(factories.customer()), "1.00")
    with django_assert_max_num_queries(12):
        assert admin_client.get(url).status_code == 200


def test_transactions_are_read_only_with_their_entries(admin_client, books,
                                                      django_assert_max_num_queries):
    transaction = Transaction.objects.filter(kind="approval").first()
    response = admin_client.get(reverse("admin:marketplace_transaction_change",
                                         args=[transaction.pk]))
    assert response.status_code == 200
    assert b"3.20" in response.content and b"0.80" in response.content
    assert admin_client.get(reverse("admin:marketplace_transaction_add")).status_code == 403
    response = admin_client.post(reverse("admin:marketplace_transaction_delete",
                                         args=[transaction.pk]), {"post": "yes"})
    assert response.status_code == 403
    with django_assert_max_num_queries(12):
        assert admin_client.get(reverse("admin:marketplace_transaction_changelist")
                                ).status_code == 200


def test_payouts_are_settled_by_actions(admin_client, books):
    payout = Payout.objects.get()
    url = reverse("admin:marketplace_payout_changelist")
    response = admin_client.post(url, {"action": "mark_failed", "_selected_action": [payout.pk]})
    assert response.status_code == 200 and b"The expert reads this reason" in response.content
    response = admin_client.post(url, {"action": "mark_failed", "_selected_action": [payout.pk],
                                       "apply": "1", "reason": "The IBAN is invalid."})
    assert response.status_code == 302
    payout.refresh_from_db()
    assert (payout.status, payout.failure_reason) == ("failed", "The IBAN is invalid.")
    assert earned(books[0]) == Decimal("3.20")
    admin_client.post(url, {"action": "mark_paid", "_selected_action": [payout.pk]})
    payout.refresh_from_db()
    assert payout.status == "failed", "a failed payout is never paid afterwards"
    second, _ = services.request_payout(expert=books[0], amount=Decimal("1.00"),
                                        currency="USD")
    admin_client.post(url, {"action": "mark_paid", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert second.status == "paid"


def test_reconciliation_page(admin_client, books):
    response = admin_client.get(reverse("admin:marketplace_reconciliation"))
    assert response.status_code == 200
    assert response.context["ok"] is True
    assert response.context["unbalanced"] == []
    assert set(response.context["totals"].values()) == {Decimal("0.00")}
    assert b"The books balance." in response.content


def test_other_money_pages_load(admin_client, books):
    for model in ["deposit", "bonus", "qualitybonuspolicy", "projectinvitation",
                  "application", "payout"]:
        response = admin_client.get(reverse(f"admin:marketplace_{model}_changelist"))
        assert response.status_code == 200, model
