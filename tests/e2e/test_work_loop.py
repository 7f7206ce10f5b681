"""The whole work loop as customers' scripts and experts' clients drive it, over HTTP.

One step has no HTTP endpoint and uses the service, as an operator's console would:
qualifying an expert in a domain.
"""

import json

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Domain, ExpertProfile
from tasks.models import Item
from tests import factories
from tests.conftest import client_for
from tests.e2e.clients import signed_in

pytestmark = pytest.mark.django_db
ITEMS = 4


def expert_signup(username: str) -> tuple[APIClient, dict]:
    return signed_in("expert", username=username, full_name=f"Dr. {username.title()}",
                     highest_degree="md", field_of_study="Cardiology",
                     domains=["medicine-cardiology"], languages=["en"])


ROWS = [{"external_id": f"q-{n}", "data": factories.preference_data(n)} for n in range(ITEMS)]
GOLD_ROW = {"external_id": "gold-1", "data": factories.preference_data(99),
            "gold": {"better": "B"}}


def test_customer_posts_work_experts_do_it_and_the_customer_downloads_it(staff):
    customer, _ = signed_in("customer", username="acme_lead", organization="Acme Health")
    organization = customer.get("/api/v1/me/").json()["memberships"][0]["organization"]
    response = customer.post("/api/v1/projects/", {
        "organization": organization, "name": "Cardiology preference pairs",
        "preset": "preference", "domain": "medicine-cardiology",
        "instructions": "Pick the more accurate answer.", "overlap": 2, "max_overlap": 2,
        "gold_rate": "0.25", "min_degree": "md", "price_per_item": "4.00", "currency": "USD",
    }, format="json")
    assert response.status_code == 201, response.json()
    project = response.json()
    assert project["status"] == "draft"
    url = f"/api/v1/projects/{project['id']}/"
    assert customer.post(url + "activate/").json()["code"] == "no_items"
    bad = [*ROWS, {"external_id": "q-bad", "data": {"prompt": "Only one?",
                                                     "completions": ["A"]}}]
    response = customer.post(url + "batches/", bad, format="json")
    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [
        (ITEMS + 1, "completions")]
    response = customer.post(url + "batches/", [*ROWS, GOLD_ROW], format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["existing"]) == (ITEMS + 1, 0)
    response = customer.post(url + "batches/", ROWS, format="json")
    assert (response.json()["created"], response.json()["existing"]) == (0, ITEMS)
    assert customer.post(url + "activate/").json()["status"] == "active"

    experts = [expert_signup(name) for name in ["cardio_one", "cardio_two"]]
    first = experts[0][0]
    response = first.post("/api/v1/assignments/next/")
    assert response.status_code == 403 and "pending" in response.json()["detail"]
    operator = client_for(staff)
    response = operator.post(f"/api/v1/orgs/{organization}/deposits/", {
        "amount": "100.00", "currency": "USD", "reference": "WIRE-1"}, format="json")
    assert response.status_code == 201, response.json()
    cardiology = Domain.objects.get(slug="medicine-cardiology")
    for _, profile in experts:
        response = operator.post(f"/api/v1/experts/{profile['id']}/verify/",
                                 {"verification": "verified"}, format="json")
        assert response.status_code == 200, response.json()
    response = first.post("/api/v1/assignments/next/", {"project": project["id"]},
                          format="json")
    assert response.status_code == 403 and "qualification" in response.json()["detail"]
    for _, profile in experts:
        account_services.qualify_expertise(
            expert=ExpertProfile.objects.get(user_id=profile["id"]), domain=cardiology,
            score=None, source="operator")

    answered = {}
    for client, profile in experts:
        done = []
        while True:
            response = client.post("/api/v1/assignments/next/")
            if response.status_code == 204:
                break
            assert response.status_code == 201, response.content
            leased = response.json()
            assert "gold" not in json.dumps(leased)
            response = client.post(f"/api/v1/assignments/{leased['id']}/submit/",
                                   {"answer": {"better": "A"}, "duration_s": 30},
                                   format="json")
            assert response.status_code == 200, response.json()
            done.append(leased["item"]["id"])
        answered[profile["username"]] = done
        assert client.get("/api/v1/assignments/?status=submitted").json()["count"] == len(done)
    regular = set(Item.objects.filter(is_gold=False).values_list("pk", flat=True))
    for done in answered.values():
        assert regular <= set(done), "each expert answered every regular item once"
        assert len(done) == len(set(done))

    progress = customer.get(url + "progress/").json()
    assert progress == {"items": ITEMS, "complete": ITEMS, "in_progress": 0, "open": 0,
                        "gold_items": 1, "annotations": 2 * ITEMS, "approved": 0,
                        "rejected": 0, "assigned": 0}
    assert customer.get(url).json()["status"] == "completed"
    items = customer.get(url + "items/?is_gold=false").json()["results"]
    assert {(row["status"], row["annotations"]) for row in items} == {("complete", 2)}

    response = customer.get(url + "export/?view=raw&format=jsonl")
    assert response.status_code == 200
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    gold_answers = sum(len(done) for done in answered.values()) - 2 * ITEMS
    assert len(rows) == 2 * ITEMS + gold_answers
    assert {row["external_id"] for row in rows if not row["is_gold"]} == {
        f"q-{n}" for n in range(ITEMS)}

    outsider, _ = signed_in("customer", username="rival_lead", organization="Rival Labs")
    assert outsider.get(url + "progress/").status_code == 404
    assert outsider.get(url + "export/").status_code == 404
