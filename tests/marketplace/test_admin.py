"""The finance operators' admin: balances without N+1 queries, a read-only ledger, payouts
settled through the services, hourly time withheld as fraud or paid now, and the
reconciliation page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse

from marketplace import hourly, services
from marketplace.models import Payout, TimeEntry, Transaction, WeeklyPayment
from tasks import services as task_services
from tests import factories
from tests.marketplace.conftest import (
    assert_books_balance,
    deposit,
    earned,
    hourly_worked,
    lease,
    next_week,
    paid_project,
    payable,
    submit,
)

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
                  "application", "payout", "timeentry", "weeklypayment"]:
        response = admin_client.get(reverse(f"admin:marketplace_{model}_changelist"))
        assert response.status_code == 200, model


@pytest.fixture
def hourly_books(customer):
    """An hourly project's decided time, 30 minutes approved and 15 rejected, awaiting
    the weekly payment."""
    return hourly_worked(customer, factories.organization_of(customer))


def test_time_entries_and_weekly_payments_list_hours_rates_and_status(
        admin_client, hourly_books, django_assert_max_num_queries):
    hourly.pay_weekly(next_week())
    url = reverse("admin:marketplace_timeentry_changelist")
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Pay decided hourly time now" in page and "0.50" in page and "0.25" in page
    assert admin_client.get(url + "?status__exact=payable").context["cl"].result_count == 0
    url = reverse("admin:marketplace_weeklypayment_changelist")
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    [payment] = response.context["cl"].result_list
    assert (payment.rate, payment.amount, payment.fee, payment.net) == (
        Decimal("36.00"), Decimal("27.00"), Decimal("5.40"), Decimal("21.60"))
    assert "0.75" in response.content.decode()
    response = admin_client.get(reverse("admin:marketplace_weeklypayment_change",
                                        args=[payment.pk]))
    assert response.status_code == 200 and b"1800" in response.content
    assert admin_client.get(reverse("admin:marketplace_timeentry_add")).status_code == 403


def test_withholding_asks_a_reason_and_refuses_paid_time(admin_client, hourly_books):
    project, expert = hourly_books
    approved = TimeEntry.objects.get(assignment__status="approved")
    rejected = TimeEntry.objects.get(assignment__status="rejected")
    url = reverse("admin:marketplace_timeentry_changelist")
    response = admin_client.post(url, {"action": "withhold_as_fraud",
                                       "_selected_action": [rejected.pk]})
    assert response.status_code == 200 and b"The expert reads this reason" in response.content
    response = admin_client.post(url, {"action": "withhold_as_fraud", "apply": "1",
                                       "_selected_action": [rejected.pk], "reason": ""})
    assert response.status_code == 200 and b"This field is required" in response.content
    rejected.refresh_from_db()
    assert rejected.status == "payable"

    response = admin_client.post(url, {"action": "withhold_as_fraud", "apply": "1",
                                       "_selected_action": [rejected.pk],
                                       "reason": "Mouse jiggler on every lease."}, follow=True)
    assert "Withheld 1 time entry." in response.content.decode()
    rejected.refresh_from_db()
    assert (rejected.status, rejected.withheld_reason) == (
        "withheld", "Mouse jiggler on every lease.")
    assert payable(project.organization) == Decimal("18.00")

    hourly.pay_weekly(next_week())
    response = admin_client.post(url, {"action": "withhold_as_fraud", "apply": "1",
                                       "_selected_action": [approved.pk, rejected.pk],
                                       "reason": "Too late."}, follow=True)
    page = response.content.decode()
    assert "Withheld 0 time entries." in page
    assert f"{approved.pk}: This time was already paid in the payment of the week of" in page
    assert f"{rejected.pk}: This time was already withheld" in page
    assert earned(expert) == Decimal("14.40")
    assert_books_balance()


def test_paying_now_pays_finished_weeks_once(admin_client, hourly_books):
    project, expert = hourly_books
    url = reverse("admin:marketplace_timeentry_pay_now")
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url, follow=True)
    assert "Made 0 weekly payment(s)" in response.content.decode(), "this week is not over"
    TimeEntry.objects.update(week=F("week") - timedelta(days=7))
    response = admin_client.post(url, follow=True)
    assert "Made 1 weekly payment(s)" in response.content.decode()
    assert admin_client.post(url).status_code == 302
    assert WeeklyPayment.objects.get().net == earned(expert) == Decimal("21.60")
    assert payable(project.organization) == Decimal("0.00")


def test_the_hourly_admin_is_for_operators(client, customer, hourly_books):
    client.force_login(customer)
    response = client.post(reverse("admin:marketplace_timeentry_pay_now"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not WeeklyPayment.objects.exists()
