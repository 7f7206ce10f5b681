"""Quality end to end, over HTTP: an operator writes a qualification test, experts pass it and
arrive with earned trust, gold answers move trust, a rule takes a careless expert off the
project and a QA lead lets them back; a rejected answer frees its slot for another expert."""

import json

import pytest
from rest_framework.test import APIClient

from tests import factories
from tests.conftest import client_for
from tests.e2e.clients import signed_in

pytestmark = pytest.mark.django_db
FIELDS = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"}]
QUESTIONS = [{"name": "better", "kind": "pairwise", "field": "completions"}]
TEST_GOLD = {f"Test question {n}?": "A" if n % 2 else "B" for n in range(6)}


def verified_expert(operator: APIClient, username: str) -> tuple[APIClient, dict]:
    client, profile = signed_in("expert", username=username, full_name=f"Dr. {username}",
                                highest_degree="md", field_of_study="Cardiology",
                                domains=["medicine-cardiology"], languages=["en"])
    response = operator.post(f"/api/v1/experts/{profile['id']}/verify/",
                             {"verification": "verified"}, format="json")
    assert response.status_code == 200, response.json()
    return client, profile


def pass_the_test(client: APIClient, test_id: int) -> dict:
    listed = client.get("/api/v1/qualifications/?domain=medicine-cardiology").json()
    assert [t["id"] for t in listed["results"]] == [test_id]
    response = client.post(f"/api/v1/qualifications/{test_id}/attempts/")
    assert response.status_code == 201, response.json()
    attempt = response.json()
    assert "gold" not in json.dumps(attempt)
    answers = {str(item["id"]): {"better": TEST_GOLD[item["data"]["prompt"]]}
               for item in attempt["items"]}
    response = client.post(f"/api/v1/qualification-attempts/{attempt['id']}/submit/",
                           {"answers": answers}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "passed"
    return response.json()


def work_once(client: APIClient, project_id: int, choice: str) -> dict:
    response = client.post("/api/v1/assignments/next/", {"project": project_id},
                           format="json")
    assert response.status_code == 201, response.content
    leased = response.json()
    response = client.post(f"/api/v1/assignments/{leased['id']}/submit/",
                           {"answer": {"better": choice}, "duration_s": 20}, format="json")
    assert response.status_code == 200, response.json()
    return leased


def test_qualify_work_with_gold_remove_a_careless_expert_and_reinstate_them(staff):
    operator = client_for(staff)
    response = operator.post("/api/v1/qualifications/", {
        "domain": "medicine-cardiology", "name": "Cardiology preferences", "fields": FIELDS,
        "questions": QUESTIONS, "items_per_attempt": 4, "pass_mark": "0.75",
        "items": [{"data": {"prompt": prompt, "completions": ["first", "second"]},
                   "gold": {"better": answer}} for prompt, answer in TEST_GOLD.items()],
    }, format="json")
    assert response.status_code == 201, response.json()
    test_id = response.json()["id"]

    careful, _ = verified_expert(operator, "careful_md")
    careless, _ = verified_expert(operator, "careless_md")
    for client in (careful, careless):
        pass_the_test(client, test_id)
        expertise = client.get("/api/v1/me/").json()["expert_profile"]["expertise"]
        assert [(e["domain"], e["level"]) for e in expertise] == [
            ("medicine-cardiology", "qualified")]

    customer, _ = signed_in("customer", username="heart_lab", organization="Heart Lab")
    organization = customer.get("/api/v1/me/").json()["memberships"][0]["organization"]
    qa, _ = signed_in("customer", username="heart_qa", organization="Heart QA Desk")
    response = customer.post(f"/api/v1/orgs/{organization}/members/",
                             {"username": "heart_qa", "role": "qa_lead"}, format="json")
    assert response.status_code == 201, response.json()

    # A floor above the prior of 0.5: experts nobody has checked stay out, while the trust
    # the test earned lets these two in.
    response = customer.post("/api/v1/projects/", {
        "organization": organization, "name": "Valve answers", "preset": "preference",
        "domain": "medicine-cardiology", "overlap": 1, "gold_rate": "1",
        "min_trust": "0.52", "price_per_item": "0"}, format="json")
    assert response.status_code == 201, response.json()
    project = response.json()["id"]
    url = f"/api/v1/projects/{project}/"
    rows = [{"external_id": f"q-{n}", "data": factories.preference_data(n)} for n in range(3)]
    rows += [{"external_id": f"gold-{n}", "data": factories.preference_data(50 + n),
              "gold": {"better": "A"}} for n in range(3)]
    assert customer.post(url + "batches/", rows, format="json").status_code == 201
    assert customer.post(url + "activate/").json()["status"] == "active"
    response = qa.post(url + "rules/", {
        "metric": "gold_accuracy", "window_size": 10, "min_evidence": 3, "comparator": "lt",
        "value": "0.5", "action": "remove"}, format="json")
    assert response.status_code == 201, response.json()

    for _ in range(3):  # gold first: the project's gold rate is 1
        work_once(careful, project, "A")
        work_once(careless, project, "B")
    experts = {row["expert"]: row for row in qa.get(url + "experts/").json()["results"]}
    assert sorted((row["gold_answered"], row["gold_accuracy"]) for row in experts.values()) \
        == [(3, 0.0), (3, 1.0)]

    response = careless.post("/api/v1/assignments/next/", {"project": project}, format="json")
    assert response.status_code == 403
    assert "removed from this project: Gold accuracy 0.00" in response.json()["detail"]
    [action] = careless.get("/api/v1/me/quality-actions/").json()["results"]
    assert action["reason"] == "Gold accuracy 0.00 over the last 3 answers is below 0.50"
    [flagged] = [row for row in experts.values() if row["flags"]]
    assert (flagged["access"], flagged["flags"][0]["id"]) == ("removed", action["id"])

    response = qa.post(f"/api/v1/quality-actions/{action['id']}/reverse/",
                       {"note": "Gold items were mislabelled."}, format="json")
    assert response.status_code == 200, response.json()
    [action] = careless.get("/api/v1/me/quality-actions/").json()["results"]
    assert (action["active"], action["reversal_note"]) == (False,
                                                          "Gold items were mislabelled.")
    assert careless.post("/api/v1/assignments/next/", {"project": project},
                         format="json").status_code == 201


def test_a_rejected_answer_reopens_its_slot_for_another_expert(staff):
    operator = client_for(staff)
    customer, _ = signed_in("customer", username="lung_lab", organization="Lung Lab")
    organization = customer.get("/api/v1/me/").json()["memberships"][0]["organization"]
    response = customer.post("/api/v1/projects/", {
        "organization": organization, "name": "Pulmonary pairs", "preset": "preference",
        "domain": "medicine-cardiology", "overlap": 1, "review_rate": "1",
        "require_qualification": False, "price_per_item": "0"}, format="json")
    project = response.json()["id"]
    url = f"/api/v1/projects/{project}/"
    customer.post(url + "batches/", [{"external_id": "only", "data":
                                      factories.preference_data(1)}], format="json")
    customer.post(url + "activate/")
    first, _ = verified_expert(operator, "first_md")
    second, _ = verified_expert(operator, "second_md")

    leased = work_once(first, project, "B")
    assert customer.get(url).json()["status"] == "completed"
    [entry] = customer.get(url + "review-queue/").json()["results"]
    assert (entry["reason"], entry["answer"]) == ("sample", {"better": "B"})
    response = customer.post(f"/api/v1/annotations/{entry['annotation']}/review/",
                             {"verdict": "reject", "comment": "A is the guideline answer."},
                             format="json")
    assert response.status_code == 200, response.json()
    assert customer.get(url).json()["status"] == "active"
    mine = first.get(f"/api/v1/assignments/{leased['id']}/").json()
    assert (mine["status"], mine["review_comment"]) == ("rejected",
                                                       "A is the guideline answer.")

    again = work_once(second, project, "A")
    assert again["item"]["id"] == leased["item"]["id"]
    history = customer.get(f"/api/v1/annotations/{entry['annotation']}/reviews/").json()
    assert [(r["verdict"], r["comment"]) for r in history] == [
        ("reject", "A is the guideline answer.")]
