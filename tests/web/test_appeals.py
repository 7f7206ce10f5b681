"""Appeals in the workspace: the expert appeals from their history and reads the decision by
the decider's role; the QA lead's desk lists appeals in queue order and decides them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from quality.models import Appeal
from tasks.models import Assignment
from tests import factories
from tests.quality.appeal_setup import (
    appeal_of,
    organization_with_leads,
    rejected,
    removal,
    work,
)
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def setting(customer):
    return organization_with_leads(customer)


class TestExpert:
    def test_appeal_a_rejection_from_the_history(self, setting, expert):
        annotation = rejected(setting.project, expert, setting.qa_lead)
        client = signed_in(expert)
        page = f"/workspace/history/{annotation.assignment_id}/"
        shown = client.get(page)
        assert "Appeal this rejection" in shown.content.decode()
        blank = client.post(page, {"annotation": annotation.pk, "reason": " "})
        assert blank.status_code == 200
        assert blank.context["appeal_form"].errors == {"reason": ["This field is required."]}
        filed = client.post(page, {"annotation": annotation.pk, "reason": "A is right."})
        assert filed.status_code == 302
        appeal = Appeal.objects.get()
        assert (appeal.annotation, appeal.reason) == (annotation, "A is right.")
        text = client.get(page).content.decode()
        assert "Your appeal" in text and "Waiting for a decision" in text
        assert "Appeal this rejection" not in text
        assert "Waiting for a decision" in client.get("/workspace/history/").content.decode()

    def test_no_appeal_past_the_window(self, setting, expert, settings):
        annotation = rejected(setting.project, expert, setting.qa_lead)
        client = signed_in(expert)
        assert "#appeal" in client.get("/workspace/history/").content.decode()
        Assignment.objects.filter(pk=annotation.assignment_id).update(
            finished_at=timezone.now() - timedelta(days=settings.APPEAL_WINDOW_DAYS, hours=1))
        assert "#appeal" not in client.get("/workspace/history/").content.decode()
        page = f"/workspace/history/{annotation.assignment_id}/"
        assert client.get(page).context["appeal_form"] is None
        client.post(page, {"annotation": annotation.pk, "reason": "Late."})
        assert not Appeal.objects.exists()

    def test_the_decision_is_shown_by_role(self, setting, expert):
        annotation = rejected(setting.project, expert, setting.qa_lead)
        appeal = appeal_of(annotation)
        signed_in(setting.second_lead).post("/workspace/appeals/", {
            "appeal": appeal.pk, f"appeal-{appeal.pk}-decision": "deny",
            f"appeal-{appeal.pk}-reason": "B follows the guideline."})
        text = signed_in(expert).get("/workspace/history/appeals/").content.decode()
        assert "Denied" in text and "by QA lead" in text and "B follows the guideline." in text
        assert setting.second_lead.username not in text

    def test_appeal_a_quality_action(self, setting, expert):
        work(setting.project, expert)
        action = removal(setting.project, expert)
        client = signed_in(expert)
        assert "<summary>Appeal</summary>" in client.get(
            "/workspace/history/actions/").content.decode()
        response = client.post("/workspace/history/actions/", {
            "quality_action": action.pk, f"action-{action.pk}-reason": "Broken items."})
        assert response.status_code == 302
        assert Appeal.objects.get().quality_action == action
        text = client.get("/workspace/history/actions/").content.decode()
        assert "Waiting for a decision" in text and "<summary>Appeal</summary>" not in text

    def test_another_experts_work_is_not_appealable(self, setting, expert):
        annotation = rejected(setting.project, expert, setting.qa_lead)
        stranger = signed_in(factories.expert())
        assert stranger.get(f"/workspace/history/{annotation.assignment_id}/").status_code == 404
        action = removal(setting.project, expert)
        response = stranger.post("/workspace/history/actions/", {
            "quality_action": action.pk, f"action-{action.pk}-reason": "Mine?"})
        assert response.status_code == 302
        assert not Appeal.objects.exists()


class TestDesk:
    def test_pending_assigned_to_me_first_and_decide(self, setting, expert):
        experts = [expert, factories.expert()]
        filed = [appeal_of(rejected(setting.project, e, setting.qa_lead)) for e in experts]
        # The owner was assigned the first and second_lead the second.
        assert [a.assignee for a in filed] == [setting.owner, setting.second_lead]
        client = signed_in(setting.second_lead)
        page = client.get("/workspace/appeals/")
        assert page.status_code == 200
        assert [line["appeal"].pk for line in page.context["lines"]] == [filed[1].pk,
                                                                       filed[0].pk]
        assert "assigned to you" in page.content.decode()
        blank = client.post("/workspace/appeals/", {
            "appeal": filed[1].pk, f"appeal-{filed[1].pk}-decision": "uphold",
            f"appeal-{filed[1].pk}-reason": ""})
        assert blank.status_code == 200
        assert Appeal.objects.get(pk=filed[1].pk).status == "pending"
        done = client.post("/workspace/appeals/", {
            "appeal": filed[1].pk, f"appeal-{filed[1].pk}-decision": "uphold",
            f"appeal-{filed[1].pk}-reason": "A is right."})
        assert done.status_code == 302
        assert Appeal.objects.get(pk=filed[1].pk).status == "upheld"
        text = client.get("/workspace/appeals/").content.decode()
        assert "A is right." in text and "Paid 3.20 USD" in text

    def test_the_first_decider_sees_why_they_may_not_decide(self, setting, expert):
        appeal = appeal_of(rejected(setting.project, expert, setting.qa_lead))
        client = signed_in(setting.qa_lead)
        text = client.get("/workspace/appeals/").content.decode()
        assert "another QA lead decides this appeal" in text
        refused = client.post("/workspace/appeals/", {
            "appeal": appeal.pk, f"appeal-{appeal.pk}-decision": "uphold",
            f"appeal-{appeal.pk}-reason": "Mine."})
        assert refused.status_code == 200
        assert "another QA lead decides this appeal" in refused.content.decode()
        assert Appeal.objects.get(pk=appeal.pk).status == "pending"

    def test_other_organizations_and_experts_cannot_reach_it(self, setting, expert,
                                                            other_customer):
        appeal = appeal_of(rejected(setting.project, expert, setting.qa_lead))
        outsider = signed_in(other_customer)
        assert outsider.get("/workspace/appeals/").context["lines"] == []
        assert outsider.post("/workspace/appeals/", {
            "appeal": appeal.pk, f"appeal-{appeal.pk}-decision": "uphold",
            f"appeal-{appeal.pk}-reason": "x"}).status_code == 404
        assert outsider.post("/workspace/appeals/", {"appeal": "x"}).status_code == 404
        assert signed_in(expert).get("/workspace/appeals/").status_code == 403


class TestProjectAppeals:
    def test_a_projects_appeals_beside_its_quality_pages(self, setting, expert, customer):
        appeal = appeal_of(rejected(setting.project, expert, setting.qa_lead))
        other = organization_with_leads(customer, items=2)
        appeal_of(rejected(other.project, factories.expert(), other.qa_lead))
        page = f"/workspace/projects/{setting.project.pk}/appeals/"
        shown = signed_in(setting.second_lead).get(page)
        assert [line["appeal"].pk for line in shown.context["lines"]] == [appeal.pk]
        assert f'href="{page}"' not in shown.content.decode()  # the current page, in bold
        assert "<strong>Appeals</strong>" in shown.content.decode()
        member = signed_in(factories.member(setting.organization))
        assert member.get(page).status_code == 200
        refused = member.post(page, {"appeal": appeal.pk,
                                     f"appeal-{appeal.pk}-decision": "uphold",
                                     f"appeal-{appeal.pk}-reason": "Yes."})
        assert "QA leads, owners and admins" in refused.content.decode()
        assert Appeal.objects.get(pk=appeal.pk).status == "pending"
        done = signed_in(setting.second_lead).post(page, {
            "appeal": appeal.pk, f"appeal-{appeal.pk}-decision": "deny",
            f"appeal-{appeal.pk}-reason": "B."})
        assert done.status_code == 302 and done["Location"] == page
        assert signed_in(factories.customer()).get(page).status_code == 404
        review_queue = signed_in(setting.qa_lead).get(
            f"/workspace/projects/{setting.project.pk}/review/").content.decode()
        assert f'href="{page}"' in review_queue
