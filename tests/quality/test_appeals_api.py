"""The appeals API: experts file and read their own; the customer's team lists a project's
appeals and decides them; others' appeals are 404, bad input 400 naming the field."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.models import Transaction
from quality import appeals
from quality.models import Appeal
from tasks.export import expert_pseudonym
from tasks.models import Assignment
from tests import factories
from tests.conftest import client_for
from tests.quality.appeal_setup import (
    appeal_of,
    organization_with_leads,
    rejected,
    removal,
    work,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting(customer):
    return organization_with_leads(customer)


@pytest.fixture
def annotation(setting, expert):
    return rejected(setting.project, expert, setting.qa_lead)


class TestExpert:
    def test_file_and_read_an_appeal(self, setting, expert, annotation):
        client = client_for(expert)
        response = client.post("/api/v1/me/appeals/", {"annotation": annotation.pk,
                                                       "reason": "A follows the guideline."},
                               format="json")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["subject"] == "rejection" and body["status"] == "pending"
        assert body["annotation"] == annotation.pk and body["quality_action"] is None
        assert body["project_name"] == setting.project.name
        assert body["decided_by"] == "" and "assignee" not in body
        assert "first_decided_by" not in body
        listed = client.get("/api/v1/me/appeals/").json()
        assert [row["id"] for row in listed["results"]] == [body["id"]]
        assert client.get(f"/api/v1/me/appeals/{body['id']}/").json() == body
        again = client.post("/api/v1/me/appeals/", {"annotation": annotation.pk,
                                                    "reason": "Again."}, format="json")
        assert again.status_code == 409 and again.json()["code"] == "already_appealed"

    def test_the_decider_is_named_by_role(self, setting, expert, annotation):
        appeal = appeal_of(annotation)
        decided = client_for(setting.second_lead).post(
            f"/api/v1/appeals/{appeal.pk}/decide/", {"decision": "deny", "reason": "B."},
            format="json")
        assert decided.status_code == 200
        body = client_for(expert).get(f"/api/v1/me/appeals/{appeal.pk}/").json()
        assert (body["status"], body["decided_by"], body["decision_reason"]) == (
            "denied", "QA lead", "B.")
        assert setting.second_lead.username not in str(body)

    @pytest.mark.parametrize("payload, field", [
        ({"reason": "Why not."}, "annotation"),
        ({"annotation": 1, "quality_action": 1, "reason": "Both."}, "quality_action"),
        ({"annotation": 1}, "reason"),
        ({"annotation": 1, "reason": "   "}, "reason"),
        ({"annotation": "x", "reason": "Text."}, "annotation"),
    ])
    def test_bad_input_names_the_field(self, expert, payload, field):
        response = client_for(expert).post("/api/v1/me/appeals/", payload, format="json")
        assert response.status_code == 400
        assert list(response.json()) == [field]
        assert not Appeal.objects.exists()

    def test_others_work_and_appeals_are_404(self, setting, expert, annotation):
        stranger = factories.expert()
        response = client_for(stranger).post("/api/v1/me/appeals/", {
            "annotation": annotation.pk, "reason": "Mine."}, format="json")
        assert response.status_code == 404
        appeal = appeal_of(annotation)
        assert client_for(stranger).get(f"/api/v1/me/appeals/{appeal.pk}/").status_code == 404
        assert client_for(expert).get(f"/api/v1/appeals/{appeal.pk}/").status_code == 404
        assert client_for(expert).post(f"/api/v1/appeals/{appeal.pk}/decide/", {
            "decision": "uphold", "reason": "Me."}, format="json").status_code == 404

    def test_appeal_a_quality_action(self, setting, expert):
        work(setting.project, expert)
        action = removal(setting.project, expert)
        response = client_for(expert).post("/api/v1/me/appeals/", {
            "quality_action": action.pk, "reason": "The items were broken."}, format="json")
        assert response.status_code == 201
        assert response.json()["subject"] == "quality_action"


class TestCustomer:
    def test_list_filter_and_read(self, setting, expert, annotation, other_customer):
        appeal = appeal_of(annotation)
        client = client_for(setting.qa_lead)
        listed = client.get(f"/api/v1/projects/{setting.project.pk}/appeals/").json()
        row = listed["results"][0]
        assert row["id"] == appeal.pk
        assert row["expert"] == expert_pseudonym(setting.project.pk, expert.pk)
        assert row["expert_id"] is None
        assert row["first_decided_by"] == setting.qa_lead.username
        assert row["assignee"] == setting.owner.username
        assert row["reason"] == "Side A cites the guideline."
        assert client.get(f"/api/v1/projects/{setting.project.pk}/appeals/?status=denied"
                          ).json()["results"] == []
        assert client.get(f"/api/v1/appeals/{appeal.pk}/").json()["id"] == appeal.pk
        outsider = client_for(other_customer)
        assert outsider.get(f"/api/v1/appeals/{appeal.pk}/").status_code == 404
        assert outsider.get(
            f"/api/v1/projects/{setting.project.pk}/appeals/").status_code == 404
        assert outsider.post(f"/api/v1/appeals/{appeal.pk}/decide/", {
            "decision": "uphold", "reason": "x"}, format="json").status_code == 404

    def test_uphold_pays_and_the_first_decider_is_refused(self, setting, expert, annotation):
        appeal = appeal_of(annotation)
        first = client_for(setting.qa_lead).post(f"/api/v1/appeals/{appeal.pk}/decide/", {
            "decision": "uphold", "reason": "Fine."}, format="json")
        assert first.status_code == 403
        assert "another QA lead decides this appeal" in first.json()["detail"]
        member = factories.member(setting.organization)
        assert client_for(member).post(f"/api/v1/appeals/{appeal.pk}/decide/", {
            "decision": "uphold", "reason": "Fine."}, format="json").status_code == 403
        upheld = client_for(setting.second_lead).post(f"/api/v1/appeals/{appeal.pk}/decide/", {
            "decision": "uphold", "reason": "A is right."}, format="json")
        assert upheld.status_code == 200
        body = upheld.json()
        assert (body["status"], body["decided_by"]) == ("upheld", setting.second_lead.username)
        assert body["details"]["paid"] == [{"assignment": annotation.assignment_id,
                                            "amount": "3.20", "currency": "USD"}]
        assert Assignment.objects.get(pk=annotation.assignment_id).status == "approved"
        assert Transaction.objects.get(
            idempotency_key=f"approval:{annotation.assignment_id}").kind == "approval"
        twice = client_for(setting.second_lead).post(f"/api/v1/appeals/{appeal.pk}/decide/", {
            "decision": "deny", "reason": "No."}, format="json")
        assert twice.status_code == 409 and twice.json()["code"] == "decided"

    @pytest.mark.parametrize("payload, field", [
        ({"decision": "maybe", "reason": "x"}, "decision"),
        ({"decision": "uphold"}, "reason"),
        ({"decision": "deny", "reason": ""}, "reason"),
    ])
    def test_bad_decisions_name_the_field(self, setting, annotation, payload, field):
        appeal = appeal_of(annotation)
        response = client_for(setting.second_lead).post(f"/api/v1/appeals/{appeal.pk}/decide/",
                                                        payload, format="json")
        assert response.status_code == 400 and list(response.json()) == [field]
        assert Appeal.objects.get(pk=appeal.pk).status == "pending"

    def test_pending_first_then_due_soonest(self, setting):
        experts = [factories.expert() for _ in range(3)]
        filed = [appeal_of(rejected(setting.project, e, setting.qa_lead)) for e in experts]
        Appeal.objects.filter(pk=filed[2].pk).update(due_at=filed[1].due_at - timedelta(days=1))
        client_for(setting.second_lead).post(f"/api/v1/appeals/{filed[0].pk}/decide/", {
            "decision": "deny", "reason": "No."}, format="json")
        rows = client_for(setting.owner).get(
            f"/api/v1/projects/{setting.project.pk}/appeals/").json()["results"]
        assert [row["id"] for row in rows] == [filed[2].pk, filed[1].pk, filed[0].pk]


def test_the_experts_list_reads_deciders_in_constant_queries(setting, expert):
    client = client_for(expert)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/me/appeals/").status_code == 200
        return len(captured)

    def decided_appeal():
        appeal = appeal_of(rejected(setting.project, expert, setting.qa_lead))
        appeals.decide_appeal(appeal_id=appeal.pk, by=setting.second_lead, upheld=False,
                              reason="No.")

    decided_appeal()
    one = queries_for_list()
    decided_appeal()
    decided_appeal()
    assert queries_for_list() == one
    assert [row["decided_by"] for row in client.get("/api/v1/me/appeals/").json()[
        "results"]] == ["QA lead"] * 3
