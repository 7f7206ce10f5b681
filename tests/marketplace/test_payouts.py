"""Payouts: requested from the balance at once, sent by the job through the provider,
settled exactly once however often the job runs."""

import csv
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from config.exceptions import Conflict
from marketplace import jobs, services
from marketplace.models import Account, Payout, Transaction
from marketplace.providers import FilePayoutProvider, PayoutResult
from tasks import services as task_services
from tests import factories
from tests.conftest import client_for
from tests.marketplace.conftest import (
    assert_books_balance,
    balance,
    deposit,
    earned,
    lease,
    paid_project,
    submit,
)

pytestmark = pytest.mark.django_db
PAYOUTS = "/api/v1/me/payouts/"


def earn(customer, times: int = 5):
    """An expert who earned 3.20 USD per approved task."""
    organization = factories.organization_of(customer)
    deposit(organization, "100.00")
    project = paid_project(customer, items=times)
    expert = factories.expert()
    for seed in range(times):
        task_services.approve_assignment(submit(lease(expert, project, seed).assignment))
    return expert


@pytest.fixture
def expert(customer):
    return earn(customer)


def pending(currency="USD"):
    return balance(Account.Kind.PAYOUTS_PENDING, currency)


class TestRequest:
    def test_the_amount_leaves_the_balance_at_once(self, expert):
        assert earned(expert) == Decimal("16.00")
        payout, created = services.request_payout(expert=expert, amount=Decimal("10.00"),
                                                  currency="USD")
        assert (created, payout.status) == (True, Payout.Status.REQUESTED)
        assert (earned(expert), pending()) == (Decimal("6.00"), Decimal("10.00"))
        assert_books_balance()

    def test_above_the_balance_or_below_the_minimum_is_refused(self, expert, settings):
        settings.PAYOUT_MINIMUM = Decimal("5.00")
        for amount in ("16.01", "4.99"):
            with pytest.raises(ValidationError) as excinfo:
                services.request_payout(expert=expert, amount=Decimal(amount), currency="USD")
            assert "amount" in excinfo.value.message_dict
        services.request_payout(expert=expert, amount=Decimal("16.00"), currency="USD")
        assert earned(expert) == 0

    def test_a_key_returns_the_first_payout(self, expert):
        first, _ = services.request_payout(expert=expert, amount=Decimal("3.00"),
                                           currency="USD", idempotency_key="k1")
        again, created = services.request_payout(expert=expert, amount=Decimal("3.00"),
                                                 currency="USD", idempotency_key="k1")
        assert (again.pk, created, earned(expert)) == (first.pk, False, Decimal("13.00"))
        with pytest.raises(Conflict):
            services.request_payout(expert=expert, amount=Decimal("4.00"), currency="USD",
                                    idempotency_key="k1")


class TestJob:
    def test_the_job_pays_through_the_file_provider_once(self, expert, settings):
        payout, _ = services.request_payout(expert=expert, amount=Decimal("10.00"),
                                            currency="USD")
        assert jobs.process_payouts() == 1
        payout.refresh_from_db()
        assert (payout.status, payout.provider) == (Payout.Status.PAID, "file")
        files = list((settings.VAR_DIR / "payouts").glob("payouts-*.csv"))
        assert [f.name for f in files] == [payout.reference]
        with files[0].open() as handle:
            rows = list(csv.DictReader(handle))
        assert [(row["payout_id"], row["amount"], row["currency"]) for row in rows] == [
            (str(payout.pk), "10.00", "USD")]
        assert jobs.process_payouts() == 0
        assert Transaction.objects.filter(payout=payout, kind="payout_paid").count() == 1
        assert (pending(), balance(Account.Kind.PLATFORM_CASH)) == (0, Decimal("-90.00"))
        assert_books_balance()

    def test_a_batch_left_processing_is_answered_from_the_file_not_paid_twice(
            self, expert, settings):
        payout, _ = services.request_payout(expert=expert, amount=Decimal("10.00"),
                                            currency="USD")
        batch = services.claim_payouts(provider="file", limit=10)
        provider = FilePayoutProvider()
        provider.send(batch, [Payout.objects.select_related("expert").get(pk=payout.pk)])
        # The worker died here. A later run, once the batch is stale, sends it again.
        settings.PAYOUT_RESEND_AFTER_S = 0
        assert jobs.process_payouts() == 1
        payout.refresh_from_db()
        assert payout.status == Payout.Status.PAID
        assert len(list(provider.directory.glob("payouts-*.csv"))) == 1
        assert_books_balance()

    def test_a_failure_returns_the_money(self, expert, settings):
        settings.PAYOUT_PROVIDER = "tests.marketplace.test_payouts.RefusingProvider"
        payout, _ = services.request_payout(expert=expert, amount=Decimal("10.00"),
                                            currency="USD")
        jobs.process_payouts()
        payout.refresh_from_db()
        assert (payout.status, payout.failure_reason) == (Payout.Status.FAILED,
                                                          "The account is closed.")
        assert (earned(expert), pending()) == (Decimal("16.00"), 0)
        assert_books_balance()

    def test_operators_settle_by_hand_once(self, expert, staff):
        payout, _ = services.request_payout(expert=expert, amount=Decimal("10.00"),
                                            currency="USD")
        with pytest.raises(ValidationError):
            services.settle_payout(payout=payout, paid=False, by=staff)
        services.settle_payout(payout=payout, paid=False, reason="Wrong IBAN", by=staff)
        services.settle_payout(payout=payout, paid=False, reason="Wrong IBAN", by=staff)
        with pytest.raises(Conflict):
            services.settle_payout(payout=payout, paid=True, by=staff)
        assert earned(expert) == Decimal("16.00")
        assert jobs.process_payouts() == 0
        assert_books_balance()


class RefusingProvider:
    name = "refusing"

    def send(self, batch, payouts):
        return [PayoutResult(p.pk, paid=False, error="The account is closed.") for p in payouts]


class TestAPI:
    def test_request_list_and_replay_by_idempotency_key(self, expert):
        client = client_for(expert)
        headers = {"HTTP_IDEMPOTENCY_KEY": "withdraw-1"}
        first = client.post(PAYOUTS, {"amount": "10.00"}, format="json", **headers)
        assert first.status_code == 201, first.json()
        assert (first.json()["amount"], first.json()["currency"],
                first.json()["status"]) == ("10.00", "USD", "requested")
        jobs.process_payouts()
        again = client.post(PAYOUTS, {"amount": "10.00"}, format="json", **headers)
        assert (again.status_code, again.json()) == (201, first.json())
        other = client.post(PAYOUTS, {"amount": "9.00"}, format="json", **headers)
        assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
        listed = client.get(PAYOUTS).json()
        assert [(p["id"], p["status"]) for p in listed["results"]] == [
            (first.json()["id"], "paid")]
        earnings = client.get("/api/v1/me/earnings/").json()
        assert (earnings["balance"], earnings["paid_out"]) == ("6.00", "10.00")

    def test_above_the_balance_is_a_400_on_amount(self, expert):
        response = client_for(expert).post(PAYOUTS, {"amount": "16.01"}, format="json")
        assert response.status_code == 400
        assert "amount" in response.json()

    def test_floats_and_bad_amounts_are_refused(self, expert):
        client = client_for(expert)
        assert client.post(PAYOUTS, {"amount": "1.234"}, format="json").status_code == 400
        assert client.post(PAYOUTS, {"amount": "-1"}, format="json").status_code == 400
        assert client.post(PAYOUTS, {"amount": "1", "currency": "usd"},
                           format="json").status_code == 400

    def test_only_experts_have_payouts(self, customer, api):
        assert api.get(PAYOUTS).status_code == 401
        assert api.post(PAYOUTS, {"amount": "1.00"}, format="json").status_code == 401
        client = client_for(customer)
        assert client.get(PAYOUTS).status_code == 403
        assert client.post(PAYOUTS, {"amount": "1.00"}, format="json").status_code == 403

    def test_another_experts_payout_is_a_404(self, expert, customer):
        payout, _ = services.request_payout(expert=expert, amount=Decimal("2.00"),
                                            currency="USD")
        other = client_for(earn(customer, times=1))
        assert other.get(f"{PAYOUTS}{payout.pk}/").status_code == 404
        assert client_for(expert).get(f"{PAYOUTS}{payout.pk}/").status_code == 200


def test_the_payout_job_is_scheduled_after_migrations():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="marketplace.jobs.process_payouts")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "marketplace.jobs.process_payouts", Schedule.MINUTES, -1)
