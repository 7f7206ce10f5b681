"""Amounts are read strictly wherever a client sends one: a JSON string of ASCII digits with
at most two decimals. Anything else is a 400 naming the field and moves no money."""

import itertools
import json
from decimal import Decimal

import pytest

from config.money import parse_amount
from marketplace.models import Bonus, Deposit, Entry, Payout, Transaction
from tasks import services as task_services
from tasks.models import Project
from tests import factories
from tests.conftest import client_for
from tests.marketplace.conftest import deposit, lease, paid_project, submit

pytestmark = pytest.mark.django_db

ACCEPTED = [("1", "1.00"), ("1.5", "1.50"), ("1.50", "1.50"), ("0001.25", "1.25"),
            ("123456789012.34", "123456789012.34")]
REFUSED = [1.5, 10, 10**30, 1e400, None, True, [], {}, "1_0", "\uff11\uff10", "\u0661\u0660",
           "\u00b9", "1e1", "1E1", "+1", "-1", "-0", " 1", "1 ", "1\n", "1.", ".5", "1.005",
           "1,5", "0x10", "Infinity", "NaN", "", "1.2.3", "1234567890123.00"]
_references = itertools.count()


def body_text(value) -> str:
    """A JSON body whose amount is ``value`` as it is, 1e400 included."""
    return json.dumps({"amount": "AMOUNT", "currency": "USD", "reference": "r",
                       "reason": "Thanks", "idempotency_key": "k"}).replace(
        '"AMOUNT"', "1e400" if value == 1e400 else json.dumps(value))


def post(client, url: str, value):
    return client.generic("POST", url, body_text(value), content_type="application/json")


@pytest.mark.parametrize(("text", "amount"), ACCEPTED)
def test_digits_with_at_most_two_decimals_are_amounts(text, amount):
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize(("text", "amount"), ACCEPTED)
def test_a_deposit_takes_each_accepted_amount(staff, customer, text, amount):
    organization = factories.organization_of(customer)
    response = client_for(staff).post(f"/api/v1/orgs/{organization.pk}/deposits/", {
        "amount": text, "currency": "USD", "reference": f"wire-{next(_references)}"},
        format="json")
    assert (response.status_code, response.json()["amount"]) == (201, amount)


@pytest.fixture
def books(customer):
    """A funded project with one approved task: an expert with a balance to pay out and an
    organization able to pay a bonus."""
    organization = factories.organization_of(customer)
    deposit(organization, "50.00")
    project = paid_project(customer)
    expert = factories.expert()
    task_services.approve_assignment(submit(lease(expert, project, 0).assignment))
    return project, expert


def ledger_rows() -> tuple[int, ...]:
    return (Transaction.objects.count(), Entry.objects.count(), Payout.objects.count(),
            Bonus.objects.count(), Deposit.objects.count())


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_a_refused_amount_is_a_400_naming_it_and_moves_no_money(staff, customer, books, value):
    project, expert = books
    organization = factories.organization_of(customer)
    before = ledger_rows()
    for client, url in [(client_for(expert), "/api/v1/me/payouts/"),
                        (client_for(customer), f"/api/v1/projects/{project.pk}/bonuses/"),
                        (client_for(staff), f"/api/v1/orgs/{organization.pk}/deposits/")]:
        bonus_body = body_text(value).replace('"k"', f'"{expert.pk}-k"')
        response = (post(client, url, value) if "bonuses" not in url else client.generic(
            "POST", url, bonus_body.replace('"reference": "r"', f'"expert": "{expert.pk}"'),
            content_type="application/json"))
        assert response.status_code == 400, (url, response.content)
        assert list(response.json()) == ["amount"], url
    assert ledger_rows() == before


@pytest.mark.parametrize("value", ["1_0", "\uff14", 4.5, "4.505", "-4"], ids=repr)
def test_a_task_price_is_read_the_same_way(customer, value):
    client = client_for(customer)
    organization = factories.organization_of(customer)
    response = client.post("/api/v1/projects/", {
        "organization": organization.pk, "name": "Priced", "domain": "medicine-cardiology",
        "preset": "preference", "price_per_item": value}, format="json")
    assert (response.status_code, list(response.json())) == (400, ["price_per_item"])
    assert not Project.objects.exists()
    project = factories.project(customer)
    response = client.patch(f"/api/v1/projects/{project.pk}/", {"price_per_item": value},
                            format="json")
    assert (response.status_code, list(response.json())) == (400, ["price_per_item"])
    project.refresh_from_db()
    assert project.price_per_item == Decimal("0.00")


def test_the_schema_describes_amounts_as_strings_with_a_pattern(staff):
    schema = client_for(staff).get("/api/schema/?format=json").json()["components"]["schemas"]
    for name in ("DepositRequestRequest", "BonusRequestRequest", "PayoutRequestRequest",
                 "ProjectCreateRequest", "PatchedProjectRequest"):
        field = schema[name]["properties"].get("amount") or schema[name]["properties"][
            "price_per_item"]
        assert (field["type"], field["pattern"]) == ("string", r"^[0-9]+(\.[0-9]{1,2})?$"), name
    assert schema["StatementLine"]["properties"]["available"]["pattern"] == (
        r"^-?[0-9]+(\.[0-9]{1,2})?$")
