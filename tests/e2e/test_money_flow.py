"""Money through the whole loop over HTTP: an operator records the customer's deposit, leases
reserve the price, review accepts one answer and rejects another (overturned later), the
expert sees earnings, withdraws, the payout job pays, and the statement and the
reconciliation balance.

Two steps have no HTTP endpoint and use what an operator's console or a worker would:
qualifying the expert in a domain, and running the payout job.
"""

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client

from marketplace import jobs
from tests.conftest import client_for
from tests.e2e.clients import cardiologist_at_work, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _payout_files(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def test_a_customer_funds_work_an_expert_is_paid_and_the_books_balance(staff, settings):
    operator = client_for(staff)
    customer, _ = signed_in("customer", username="acme_finance", organization="Acme Cardio")
    organization = customer.get("/api/v1/me/").json()["memberships"][0]["organization"]
    response = customer.post("/api/v1/projects/", {
        "organization": organization, "name": "Paid cardiology pairs", "preset": "preference",
        "domain": "medicine-cardiology", "instructions": "Pick the safer answer.",
        "review_rate": "1.0", "price_per_item": "4.00", "currency": "USD",
    }, format="json")
    assert response.status_code == 201, response.json()
    project = response.json()["id"]
    rows = [{"external_id": f"p-{n}", "data": {"prompt": f"Q{n}?",
                                               "completions": [f"A{n}", f"B{n}"]}}
            for n in range(2)]
    assert customer.post(f"/api/v1/projects/{project}/batches/", rows,
                         format="json").status_code == 201
    assert customer.post(f"/api/v1/projects/{project}/activate/").status_code == 200

    expert, _ = cardiologist_at_work(operator, "dr_funds", "Dr. Funds")

    # Unfunded: no work, and both sides are told why.
    response = expert.post("/api/v1/assignments/next/")
    assert response.status_code == 204
    assert "Acme Cardio's balance cannot cover another task at 4.00 USD" in response[
        "X-Next-Reason"]
    funding = customer.get(f"/api/v1/projects/{project}/funding/").json()
    assert (funding["can_lease"], funding["hold_per_task"]) == (False, "4.00")

    deposit = {"amount": "10.00", "currency": "USD", "reference": "WIRE-77"}
    assert customer.post(f"/api/v1/orgs/{organization}/deposits/", deposit,
                         format="json").status_code == 403
    assert operator.post(f"/api/v1/orgs/{organization}/deposits/", deposit,
                         format="json").status_code == 201
    assert operator.post(f"/api/v1/orgs/{organization}/deposits/", deposit,
                         format="json").status_code == 201, "a retry records nothing more"
    balance_url = f"/api/v1/orgs/{organization}/balance/"
    assert customer.get(balance_url).json()["available"] == "10.00"

    for _ in range(2):
        leased = expert.post("/api/v1/assignments/next/")
        assert leased.status_code == 201, leased.content
        assignment = leased.json()["id"]
        response = expert.post(f"/api/v1/assignments/{assignment}/submit/",
                               {"answer": {"better": "A"}}, format="json")
        assert response.status_code == 200, response.json()
    balance = customer.get(balance_url).json()
    assert (balance["available"], balance["reserved"], balance["spent"]) == (
        "2.00", "8.00", "0.00")

    queue = customer.get(f"/api/v1/projects/{project}/review-queue/").json()["results"]
    accepted, rejected = sorted(entry["annotation"] for entry in queue)
    assert customer.post(f"/api/v1/annotations/{accepted}/review/", {"verdict": "accept"},
                         format="json").status_code == 200
    assert customer.post(f"/api/v1/annotations/{rejected}/review/",
                         {"verdict": "reject", "comment": "Answer B is the safer one."},
                         format="json").status_code == 200
    balance = customer.get(balance_url).json()
    assert (balance["available"], balance["reserved"], balance["spent"]) == (
        "6.00", "0.00", "4.00")

    earnings = expert.get("/api/v1/me/earnings/").json()
    assert (earnings["balance"], earnings["currency"]) == ("3.20", "USD")
    [lost] = earnings["rejected"]
    assert lost["amount"] == "4.00"
    assert expert.get(f"/api/v1/assignments/{lost['assignment']}/").json()[
        "review_comment"] == "Answer B is the safer one."
    response = customer.post(f"/api/v1/annotations/{rejected}/overturn/",
                             {"note": "B was wrong after all."}, format="json")
    assert response.status_code == 200, response.json()
    earnings = expert.get("/api/v1/me/earnings/").json()
    assert (earnings["balance"], earnings["rejected"]) == ("6.40", [])
    assert earnings["per_project"][0]["approved_tasks"] == 2

    headers = {"HTTP_IDEMPOTENCY_KEY": "first-withdrawal"}
    first = expert.post("/api/v1/me/payouts/", {"amount": "5.00"}, format="json", **headers)
    assert first.status_code == 201, first.json()
    retry = expert.post("/api/v1/me/payouts/", {"amount": "5.00"}, format="json", **headers)
    assert (retry.status_code, retry.content) == (201, first.content)
    assert expert.post("/api/v1/me/payouts/", {"amount": "1.41"},
                       format="json").status_code == 400
    assert expert.get("/api/v1/me/earnings/").json()["balance"] == "1.40"
    assert jobs.process_payouts() == 1
    assert jobs.process_payouts() == 0
    payouts = expert.get("/api/v1/me/payouts/").json()["results"]
    assert [(p["amount"], p["status"]) for p in payouts] == [("5.00", "paid")]
    assert len(list((settings.VAR_DIR / "payouts").glob("*.csv"))) == 1

    statement = customer.get(f"/api/v1/orgs/{organization}/statement/").json()
    assert [line["kind"] for line in statement["results"]] == [
        "approval", "release", "approval", "reservation", "reservation", "deposit"]
    spent = sum(-Decimal(line["available"]) - Decimal(line["reserved"])
                for line in statement["results"] if line["kind"] == "approval")
    assert spent == Decimal("8.00")
    download = customer.get(f"/api/v1/orgs/{organization}/statement/?format=csv")
    lines = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [line["kind"] for line in lines] == [line["kind"] for line in statement["results"]]
    assert customer.get(balance_url).json()["available"] == "2.00"

    admin = Client()
    admin.force_login(staff)
    response = admin.get("/admin/marketplace/account/reconciliation/")
    assert response.status_code == 200
    assert response.context["ok"] and response.context["unbalanced"] == []
