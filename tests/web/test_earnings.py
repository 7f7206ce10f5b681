"""The expert's earnings page: balance, statement, payouts, the payout form's refusals by
field, a double-posted form making one payout, the statement as CSV, and hourly time with
the effective hourly rate."""

import csv
import io
from decimal import Decimal

import pytest

from marketplace import hourly
from marketplace.models import Payout
from marketplace.statements import earnings
from tasks import services as task_services
from tasks.models import Assignment
from tests import factories
from tests.marketplace.conftest import hourly_worked, next_week
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _payout_files(settings, tmp_path):
    settings.VAR_DIR = tmp_path


@pytest.fixture
def earner(customer):
    """An expert with three approved answers at 5.00: 12.00 earned after the 20% fee."""
    organization = factories.organization_of(customer)
    factories.fund(organization, "50.00")
    project = factories.project(customer, items=3, price_per_item=Decimal("5.00"),
                                review_rate=Decimal("1"))
    task_services.update_project(user=customer, project=project, name="Echo reports")
    expert = factories.expert()
    for _ in range(3):
        factories.reviewed(factories.answered(expert, project), customer, "accept")
    return expert


def balance(expert) -> Decimal:
    return earnings(expert, "USD")["balance"]


def payout_form(client) -> dict:
    form = client.get("/workspace/earnings/").context["form"]
    return {"amount": "", "idempotency_key": form["idempotency_key"].value(),
            "currency": form["currency"].value()}


def test_the_page_shows_the_balance_and_the_statement(earner):
    response = signed_in(earner).get("/workspace/earnings/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "12.00 USD" in text
    assert text.count("Payment for approved work") == 3
    assert "Echo reports" in text


def test_a_payout_request_takes_the_amount_from_the_balance(earner):
    client = signed_in(earner)
    response = client.post("/workspace/earnings/", {**payout_form(client), "amount": "7.50"},
                           follow=True)
    assert "of 7.50 USD requested" in response.content.decode()
    assert balance(earner) == Decimal("4.50")
    payout = Payout.objects.get(expert=earner)
    assert (payout.amount, payout.status) == (Decimal("7.50"), Payout.Status.REQUESTED)
    assert "Requested" in response.content.decode()


def test_a_double_posted_form_makes_one_payout(earner):
    client = signed_in(earner)
    form = {**payout_form(client), "amount": "5.00"}
    client.post("/workspace/earnings/", form)
    response = client.post("/workspace/earnings/", form, follow=True)
    assert "was already requested by this form; nothing more was taken" in (
        response.content.decode())
    assert Payout.objects.filter(expert=earner).count() == 1
    assert balance(earner) == Decimal("7.00")


HOW_TO_WRITE = ("Write the amount in digits 0-9 with at most 2 decimals after a point: 12.50, "
                "for example.")


@pytest.mark.parametrize(("amount", "message"), [
    ("12.01", "Your balance is 12.00 USD; a payout cannot exceed it."),
    ("0.50", "The smallest payout is 1.00 USD."),
    ("-3", HOW_TO_WRITE),
    ("lots", HOW_TO_WRITE),
    ("1_0", HOW_TO_WRITE),
    ("1e3", HOW_TO_WRITE),
    ("\uff11\uff10", HOW_TO_WRITE),
    ("1.005", "Use at most 2 decimals."),
    ("0", "The amount must be positive."),
])
def test_a_bad_amount_is_refused_on_the_field_and_takes_nothing(earner, amount, message):
    client = signed_in(earner)
    response = client.post("/workspace/earnings/", {**payout_form(client), "amount": amount})
    assert response.status_code == 200
    assert message in response.context["form"].errors["amount"]
    assert message in response.content.decode()
    assert not Payout.objects.exists()
    assert balance(earner) == Decimal("12.00")


def test_a_tampered_currency_is_refused_by_name(earner):
    client = signed_in(earner)
    response = client.post("/workspace/earnings/",
                           {**payout_form(client), "amount": "2.00", "currency": "1$"})
    assert "Currency: use a three-letter code." in response.content.decode()
    assert not Payout.objects.exists()


def test_the_statement_downloads_as_csv_with_inert_cells(earner):
    response = signed_in(earner).get("/workspace/earnings/statement.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 3
    assert {row["amount"] for row in rows} == {"4.00"}
    assert {row["project_name"] for row in rows} == {"Echo reports"}


def test_earnings_are_the_experts_own(earner):
    other = factories.expert()
    response = signed_in(other).get("/workspace/earnings/")
    assert response.context["summary"]["balance"] == Decimal("0.00")
    assert "Echo reports" not in response.content.decode()
    rows = b"".join(signed_in(other).get("/workspace/earnings/statement.csv")
                    .streaming_content).decode().splitlines()
    assert len(rows) == 1  # the header alone


def test_earnings_are_for_experts(customer):
    assert signed_in(customer).get("/workspace/earnings/").status_code == 403


def test_the_query_count_does_not_grow_with_lines(earner, customer,
                                                  django_assert_max_num_queries):
    client = signed_in(earner)
    for amount in ("1.00", "1.50", "2.00"):
        client.post("/workspace/earnings/", {**payout_form(client), "amount": amount})
    with django_assert_max_num_queries(20):
        response = client.get("/workspace/earnings/")
    assert len(response.context["page_obj"]) == 6
    assert len(response.context["summary"]["payouts"]) == 3


def test_hourly_time_shows_what_awaits_payment_what_was_paid_and_what_was_withheld(
        customer, staff):
    project, expert = hourly_worked(customer, factories.organization_of(customer))
    task_services.update_project(user=customer, project=project, name="Hourly triage")
    client = signed_in(expert)
    response = client.get("/workspace/earnings/")
    assert [(row["hours"], row["expert_receives"]) for row in response.context["pending"]] == [
        (Decimal("0.50"), Decimal("14.40")), (Decimal("0.25"), Decimal("7.20"))]
    page = response.content.decode()
    assert "Awaiting the weekly payment" in page and "Weekly payments" not in page
    # Time awaiting its payment has no rate yet: it would read as work paid nothing.
    assert "0.75" in page and "0.00 USD/h" not in page
    assert "over 0.00 h of decided work" in page and "joins once paid" in page

    rejected = Assignment.objects.get(project=project, status="rejected")
    hourly.withhold_time(assignment=rejected, reason="Two tabs kept open overnight.",
                         by=staff)
    hourly.pay_weekly(next_week())
    response = client.get("/workspace/earnings/")
    page = response.content.decode()
    assert response.context["pending"] == []
    [paid] = response.context["weekly_payments"]
    assert (paid["hours"], paid["payment"].net) == (Decimal("0.50"), Decimal("14.40"))
    assert "Awaiting the weekly payment" not in page
    assert "Withheld as fraud" in page and "Two tabs kept open overnight." in page
    assert '<div class="figure" id="effective-rate">19.20 USD/h</div>' in page
    assert f"Week of {paid['payment'].week:%Y-%m-%d}: 0.50 h at 36.00/h" in page
    assert "Hourly triage" in page


def test_an_expert_without_decided_work_has_no_rate(expert):
    page = signed_in(expert).get("/workspace/earnings/").content.decode()
    assert '<div class="figure" id="effective-rate">&ndash;</div>' in page
    assert "Hourly time" not in page


def test_rejected_per_task_work_links_to_its_appeal(customer, settings):
    settings.APPEAL_WINDOW_DAYS = 14
    factories.fund(factories.organization_of(customer), "20.00")
    project = factories.project(customer, items=1, price_per_item=Decimal("5.00"),
                                review_rate=Decimal("1"))
    expert = factories.expert()
    annotation = factories.answered(expert, project)
    factories.reviewed(annotation, customer, "reject", comment="Misses the dose.")
    response = signed_in(expert).get("/workspace/earnings/")
    [row] = response.context["rejected"]
    assert row["would_have_paid"] == Decimal("4.00")
    page = response.content.decode()
    assert "You may appeal a rejection once, within 14 days, from its page" in page
    assert f'href="/workspace/history/{annotation.assignment_id}/"' in page
