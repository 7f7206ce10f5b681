"""An appeal over HTTP: a QA lead rejects an answer, the expert appeals it, the appeal goes
to the organization's owner (not the QA lead who rejected), who upholds it; the work is
paid from the hold the appeal put on the customer's funds, both sides read the decision,
the customer's webhook hears of it, and the books balance.

Qualifying the expert in a domain has no HTTP endpoint and uses the operator's service.
"""

import pytest

from tasks.models import WebhookDelivery
from tests.conftest import client_for
from tests.e2e.clients import cardiologist_at_work, signed_in
from tests.marketplace.conftest import assert_books_balance

pytestmark = pytest.mark.django_db


def test_an_appeal_reverses_a_rejection_and_pays(staff):
    operator = client_for(staff)
    owner, _ = signed_in("customer", username="acme_appeals", organization="Acme Appeals")
    organization = owner.get("/api/v1/me/").json()["memberships"][0]["organization"]
    qa, _ = signed_in("customer", username="acme_qa", organization="QA's own")
    assert owner.post(f"/api/v1/orgs/{organization}/members/",
                      {"username": "acme_qa", "role": "qa_lead"},
                      format="json").status_code == 201
    project = owner.post("/api/v1/projects/", {
        "organization": organization, "name": "Appealed pairs", "preset": "preference",
        "domain": "medicine-cardiology", "review_rate": "1.0", "price_per_item": "4.00",
        "currency": "USD"}, format="json").json()["id"]
    assert owner.post(f"/api/v1/projects/{project}/batches/", [
        {"external_id": "p-1", "data": {"prompt": "Q?", "completions": ["A", "B"]}}],
        format="json").status_code == 201
    assert owner.post(f"/api/v1/projects/{project}/activate/").status_code == 200
    assert owner.post(f"/api/v1/projects/{project}/webhooks/", {
        "url": "https://example.com/hook", "events": ["appeal.filed", "appeal.decided"]},
        format="json").status_code == 201
    assert operator.post(f"/api/v1/orgs/{organization}/deposits/", {
        "amount": "10.00", "currency": "USD", "reference": "WIRE-A1"},
        format="json").status_code == 201

    expert, _ = cardiologist_at_work(operator, "dr_appeal", "Dr. Appeal")
    assignment = expert.post("/api/v1/assignments/next/").json()["id"]
    assert expert.post(f"/api/v1/assignments/{assignment}/submit/",
                       {"answer": {"better": "A"}}, format="json").status_code == 200
    [entry] = qa.get(f"/api/v1/projects/{project}/review-queue/").json()["results"]
    annotation = entry["annotation"]
    assert qa.post(f"/api/v1/annotations/{annotation}/review/", {
        "verdict": "reject", "comment": "B is safer."}, format="json").status_code == 200
    balance_url = f"/api/v1/orgs/{organization}/balance/"
    assert owner.get(balance_url).json()["available"] == "10.00"

    filed = expert.post("/api/v1/me/appeals/", {"annotation": annotation,
                                                "reason": "A follows the guideline."},
                        format="json")
    assert filed.status_code == 201, filed.json()
    appeal = filed.json()["id"]
    balance = owner.get(balance_url).json()
    assert (balance["available"], balance["reserved"]) == ("6.00", "4.00")
    [listed] = qa.get(f"/api/v1/projects/{project}/appeals/?status=pending").json()["results"]
    assert (listed["first_decided_by"], listed["assignee"]) == ("acme_qa", "acme_appeals")
    refused = qa.post(f"/api/v1/appeals/{appeal}/decide/", {"decision": "deny",
                                                            "reason": "Still B."},
                      format="json")
    assert refused.status_code == 403

    upheld = owner.post(f"/api/v1/appeals/{appeal}/decide/", {
        "decision": "uphold", "reason": "A follows the guideline."}, format="json")
    assert upheld.status_code == 200, upheld.json()
    assert expert.get(f"/api/v1/assignments/{assignment}/").json()["status"] == "approved"
    mine = expert.get(f"/api/v1/me/appeals/{appeal}/").json()
    assert (mine["status"], mine["decided_by"]) == ("upheld", "Owner")
    assert mine["details"]["paid"] == [{"assignment": assignment, "amount": "3.20",
                                        "currency": "USD"}]
    assert expert.get("/api/v1/me/earnings/").json()["balance"] == "3.20"
    balance = owner.get(balance_url).json()
    assert (balance["available"], balance["reserved"], balance["spent"]) == (
        "6.00", "0.00", "4.00")
    assert list(WebhookDelivery.objects.order_by("pk").values_list("event", flat=True)) == [
        "appeal.filed", "appeal.decided"]
    assert_books_balance()
