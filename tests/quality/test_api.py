"""The QA side over HTTP: rules, what they did and its reversal, the review queue, verdicts,
overturned rejections and the project's experts."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from quality import reviews
from quality.models import QualityAction, QualityRule
from quality.review_queue import enqueue_reviews
from tasks import services as task_services
from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment
from tasks.routing import next_assignment
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def work(project, expert, value, duration_s=None):
    assignment = next_assignment(expert, project, rng=random.Random(5)).assignment
    assert assignment is not None
    return task_services.submit(assignment_id=assignment.pk, user=expert, answer=value,
                                duration_s=duration_s)


@pytest.fixture
def organization(customer):
    return factories.organization_of(customer)


@pytest.fixture
def qa_lead(organization):
    return factories.member(organization, role=Membership.Role.QA_LEAD)


@pytest.fixture
def qa(qa_lead):
    return client_for(qa_lead)


@pytest.fixture
def project(customer):
    return factories.project(customer, items=4, gold=2, overlap=2, max_overlap=2,
                             gold_rate="0.5")


class TestRules:
    BODY = {"metric": "gold_accuracy_lower", "window": "answers", "window_size": 20,
            "min_evidence": 5, "comparator": "lt", "value": "0.6", "action": "remove"}

    def url(self, project):
        return f"/api/v1/projects/{project.pk}/rules/"

    def test_qa_leads_declare_and_everyone_in_the_organization_reads(self, qa, qa_lead,
                                                                      organization, project):
        response = qa.post(self.url(project), self.BODY, format="json")
        assert response.status_code == 201, response.json()
        created = response.json()
        assert created["project"] == project.pk and created["value"] == "0.6000"
        assert created["description"] == (
            "If gold accuracy (lower bound) over the last 20 answers is below 0.6 (with at "
            "least 5 answers), then remove from the project.")
        member = client_for(factories.member(organization))
        listed = member.get(self.url(project)).json()
        assert [rule["id"] for rule in listed] == [created["id"]]
        assert member.post(self.url(project), self.BODY, format="json").status_code == 403
        assert QualityRule.objects.get().created_by == qa_lead

    def test_outsiders_and_experts_do_not_see_the_project(self, project, expert):
        for user in [factories.customer(), expert]:
            client = client_for(user)
            assert client.get(self.url(project)).status_code == 404
            assert client.post(self.url(project), self.BODY, format="json").status_code == 404

    def test_values_are_checked(self, qa, project):
        response = qa.post(self.url(project), {**self.BODY, "value": "1.5"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"value": ["This metric is a share between 0 and 1."]}
        response = qa.post(self.url(project), {**self.BODY, "metric": "speed"}, format="json")
        assert set(response.json()) == {"metric"}

    def test_change_and_delete(self, qa, project, organization):
        rule_id = qa.post(self.url(project), self.BODY, format="json").json()["id"]
        response = qa.patch(f"/api/v1/rules/{rule_id}/", {"value": "0.5", "active": False},
                            format="json")
        assert response.status_code == 200
        assert (response.json()["value"], response.json()["active"]) == ("0.5000", False)
        member = client_for(factories.member(organization))
        assert member.delete(f"/api/v1/rules/{rule_id}/").status_code == 403
        assert client_for(factories.customer()).delete(
            f"/api/v1/rules/{rule_id}/").status_code == 404
        assert qa.delete(f"/api/v1/rules/{rule_id}/").status_code == 204
        assert not QualityRule.objects.exists()


def removed_expert(project):
    expert = factories.expert()
    work(project, expert, {"better": "B"})
    QualityRule.objects.create(project=project, metric="skip_rate", comparator="gte",
                               value="0", action="remove", min_evidence=1)
    work(project, expert, {"better": "B"})
    return expert, QualityAction.objects.get(expert=expert)


class TestQualityActions:
    def test_the_expert_reads_what_happened_and_why(self, project):
        expert, action = removed_expert(project)
        response = client_for(expert).get("/api/v1/me/quality-actions/")
        assert response.status_code == 200
        [shown] = response.json()["results"]
        assert shown == {
            "id": action.pk, "project": project.pk, "project_name": project.name,
            "action": "remove", "reason": "Skip rate 0.00 over the last 2 answers is at or "
                                          "above 0.00",
            "active": True, "created_at": shown["created_at"], "reversed_at": None,
            "reversal_note": "", "reversal_effect": ""}
        assert client_for(factories.expert()).get(
            "/api/v1/me/quality-actions/").json()["count"] == 0

    def test_a_qa_lead_reverses_once(self, qa, project, organization):
        expert, action = removed_expert(project)
        url = f"/api/v1/quality-actions/{action.pk}/reverse/"
        member = client_for(factories.member(organization))
        assert member.post(url, {"note": "x"}, format="json").status_code == 403
        assert client_for(factories.customer()).post(url).status_code == 404
        assert client_for(expert).post(url).status_code == 404
        response = qa.post(url, {"note": "The skip rule was a mistake."}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert body["active"] is False and body["reversal_note"] == "The skip rule was a " \
                                                                     "mistake."
        assert "stay voided" in body["reversal_effect"]
        assert body["expert"] == expert_pseudonym(project.pk, expert.pk)
        assert body["expert_id"] is None
        assert qa.post(url).status_code == 409
        assert next_assignment(expert, project).assignment is not None

    def test_lists_filter_by_project_and_state_and_operators_see_ids(self, qa, project,
                                                                     staff):
        expert, action = removed_expert(project)
        assert qa.get(f"/api/v1/quality-actions/?project={project.pk}&active=true"
                      ).json()["count"] == 1
        assert qa.get("/api/v1/quality-actions/?active=false").json()["count"] == 0
        assert client_for(factories.customer()).get(
            "/api/v1/quality-actions/").json()["count"] == 0
        shown = client_for(staff).get(f"/api/v1/quality-actions/{action.pk}/").json()
        assert shown["expert_id"] == expert.pk


class TestReviewQueue:
    def test_pending_work_by_priority_then_age_with_what_a_reviewer_needs(self, qa, customer,
                                                                          staff):
        project = factories.project(customer, items=2, gold=1, overlap=2, max_overlap=2)
        first, second = factories.expert(), factories.expert()
        a1 = work(project, first, {"better": "A"})
        a2 = work(project, second, {"better": "B", "rewrite": "Better."})
        enqueue_reviews([a1.pk], project_id=project.pk, reason="sample")
        enqueue_reviews([a2.pk], project_id=project.pk, reason="rule")
        gold = Annotation.objects.get(pk=work(project, first, {"better": "B"}).pk)
        gold.item.is_gold = True
        gold.item.gold = {"better": "A"}
        gold.item.save()
        enqueue_reviews([gold.pk], project_id=project.pk, reason="sample")

        response = qa.get(f"/api/v1/projects/{project.pk}/review-queue/")
        assert response.status_code == 200
        results = response.json()["results"]
        assert [entry["annotation"] for entry in results] == [a2.pk, a1.pk, gold.pk]
        top = results[0]
        assert top["reason"] == "rule" and top["priority"] == 30
        assert top["answer"] == {"better": "B", "rewrite": "Better."}
        assert top["expert"] == expert_pseudonym(project.pk, second.pk)
        assert top["expert_id"] is None and top["gold"] is None
        assert top["item"]["id"] == a2.item_id and top["item"]["is_gold"] is False
        assert top["other_answers"] == [{"expert": expert_pseudonym(project.pk, first.pk),
                                         "answer": {"better": "A"}, "status": "submitted"}]
        assert results[2]["gold"] == {"better": "A"}
        staff_view = client_for(staff).get(f"/api/v1/projects/{project.pk}/review-queue/")
        assert staff_view.json()["results"][0]["expert_id"] == second.pk

    def test_decided_and_voided_work_leaves_the_queue(self, qa, qa_lead, project):
        expert = factories.expert()
        annotations = [work(project, expert, {"better": "A"}) for _ in range(2)]
        enqueue_reviews([a.pk for a in annotations], project_id=project.pk,
                                 reason="sample")
        reviews.review_annotation(annotation_id=annotations[0].pk, reviewer=qa_lead,
                                   verdict="accept")
        task_services.reject_assignment(annotations[1].assignment)
        assert qa.get(f"/api/v1/projects/{project.pk}/review-queue/").json()["count"] == 0

    def test_outsiders_get_404(self, project, expert):
        for user in [factories.customer(), expert]:
            response = client_for(user).get(f"/api/v1/projects/{project.pk}/review-queue/")
            assert response.status_code == 404


class TestVerdicts:
    @pytest.fixture
    def annotation(self, customer):
        project = factories.project(customer, items=1, overlap=1, review_rate="1")
        return work(project, factories.expert(), {"better": "A"})

    def url(self, annotation, what="review"):
        return f"/api/v1/annotations/{annotation.pk}/{what}/"

    def test_accept_approves_and_closes_the_review(self, qa, qa_lead, annotation):
        response = qa.post(self.url(annotation), {"verdict": "accept"}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["verdict"] == "accept"
        assert response.json()["reviewer"] == qa_lead.username
        assert Assignment.objects.get(pk=annotation.assignment_id).status == "approved"
        assert not Annotation.objects.get(pk=annotation.pk).held_for_review
        assert qa.post(self.url(annotation), {"verdict": "accept"},
                       format="json").status_code == 409

    def test_reject_needs_a_comment_reopens_the_slot_and_the_expert_reads_it(self, qa,
                                                                             annotation):
        response = qa.post(self.url(annotation), {"verdict": "reject"}, format="json")
        assert response.status_code == 400
        assert response.json() == {"comment": ["A rejection needs a comment the expert can "
                                               "read."]}
        response = qa.post(self.url(annotation), {"verdict": "reject",
                                                  "comment": "B cites the guideline."},
                           format="json")
        assert response.status_code == 200
        item = annotation.item
        item.refresh_from_db()
        assert (item.filled, item.annotated) == (0, 0)
        expert = client_for(annotation.expert)
        shown = expert.get(f"/api/v1/assignments/{annotation.assignment_id}/").json()
        assert (shown["status"], shown["review_comment"]) == ("rejected",
                                                             "B cites the guideline.")
        assert expert.get("/api/v1/assignments/?status=rejected").json()["results"][0][
            "review_comment"] == "B cites the guideline."
        other = factories.expert()
        assert next_assignment(other, annotation.project).assignment.item_id == item.pk

    def test_fix_replaces_the_answer_and_approves(self, qa, annotation):
        assert qa.post(self.url(annotation), {"verdict": "fix"},
                       format="json").status_code == 400
        response = qa.post(self.url(annotation), {"verdict": "fix", "answer": {"better": "C"}},
                           format="json")
        assert response.status_code == 400 and "answer" in response.json()
        response = qa.post(self.url(annotation), {"verdict": "fix", "answer": {"better": "B"},
                                                  "comment": "Swapped."}, format="json")
        assert response.status_code == 200
        assert response.json()["answer"] == {"better": "B"}
        annotation.refresh_from_db()
        assert annotation.final_answer == {"better": "B"}
        assert annotation.answer == {"better": "A"}
        assert annotation.assignment.status == "approved"

    def test_only_qa_roles_decide_and_outsiders_get_404(self, organization, annotation):
        member = client_for(factories.member(organization))
        assert member.post(self.url(annotation), {"verdict": "accept"},
                           format="json").status_code == 403
        for user in [factories.customer(), annotation.expert]:
            assert client_for(user).post(self.url(annotation), {"verdict": "accept"},
                                         format="json").status_code == 404
        admin = client_for(factories.member(organization, role=Membership.Role.ADMIN))
        assert admin.post(self.url(annotation), {"verdict": "accept"},
                          format="json").status_code == 200

    def test_history_and_overturn_within_30_days(self, qa, qa_lead, annotation):
        qa.post(self.url(annotation), {"verdict": "reject", "comment": "Wrong."}, format="json")
        response = qa.post(self.url(annotation, "overturn"), {"note": "Guideline changed."},
                           format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["comment"] == "Rejection overturned. Guideline changed."
        assert Assignment.objects.get(pk=annotation.assignment_id).status == "approved"
        history = qa.get(self.url(annotation, "reviews")).json()
        assert [(r["reason"], r["verdict"], r["reviewer"]) for r in history] == [
            ("sample", "reject", qa_lead.username), ("manual", "accept", qa_lead.username)]
        assert qa.post(self.url(annotation, "overturn")).status_code == 409

    def test_old_rejections_stand(self, qa, annotation):
        qa.post(self.url(annotation), {"verdict": "reject", "comment": "Wrong."}, format="json")
        Assignment.objects.filter(pk=annotation.assignment_id).update(
            finished_at=timezone.now() - timedelta(days=31))
        response = qa.post(self.url(annotation, "overturn"), format="json")
        assert response.status_code == 409 and response.json()["code"] == "too_late"


class TestProjectExperts:
    def test_per_expert_figures_and_flags(self, qa, customer, staff):
        project = factories.project(customer, items=2, gold=2, overlap=2, max_overlap=2,
                                    gold_rate="1")
        good, poor = factories.expert(), factories.expert()
        for _ in range(4):
            work(project, good, {"better": "A"}, duration_s=10)
            work(project, poor, {"better": "B"}, duration_s=30)
        QualityAction.objects.create(project=project, expert=poor, action="flag",
                                     reason="Looked odd.")
        response = qa.get(f"/api/v1/projects/{project.pk}/experts/")
        assert response.status_code == 200
        rows = {row["expert"]: row for row in response.json()["results"]}
        good_row = rows[expert_pseudonym(project.pk, good.pk)]
        poor_row = rows[expert_pseudonym(project.pk, poor.pk)]
        assert good_row["annotations"] == 4 and good_row["median_seconds"] == 10
        assert good_row["expert_id"] is None and good_row["flags"] == []
        assert (good_row["gold_answered"], good_row["gold_accuracy"]) == (2, 1.0)
        assert 0.3 < good_row["gold_accuracy_lower"] < 0.5
        assert (poor_row["gold_answered"], poor_row["gold_accuracy"]) == (2, 0.0)
        assert [flag["reason"] for flag in poor_row["flags"]] == ["Looked odd."]
        assert good_row["skip_rate"] == 0.0
        # Each disagrees with the only other answer on both items.
        assert good_row["agreement_with_consensus"] == poor_row["agreement_with_consensus"] == 0
        staff_rows = client_for(staff).get(f"/api/v1/projects/{project.pk}/experts/").json()
        assert {row["expert_id"] for row in staff_rows["results"]} == {good.pk, poor.pk}

    def test_removed_experts_show_their_standing(self, qa, project):
        removed_expert(project)
        [row] = qa.get(f"/api/v1/projects/{project.pk}/experts/").json()["results"]
        assert (row["access"], row["review_all"]) == ("removed", False)
        assert row["annotations"] == 2 and len(row["flags"]) == 1

    def test_outsiders_get_404(self, project, expert):
        assert client_for(expert).get(
            f"/api/v1/projects/{project.pk}/experts/").status_code == 404
