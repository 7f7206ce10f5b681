"""The project's experts in the workspace: the API's figures per expert by pseudonym, the
quality actions with their reasons, the undo with a note for reviewers only, and 404 for
another organization."""

from decimal import Decimal

import pytest

from accounts.models import Membership
from quality import reporting, rules
from quality.models import QualityAction
from tests import factories
from tests.web.clients import api_as, signed_in

pytestmark = pytest.mark.django_db

FIGURES = ["expert", "annotations", "gold_answered", "gold_accuracy", "gold_accuracy_lower",
           "agreement_with_consensus", "median_seconds", "skip_rate", "access", "review_all"]


@pytest.fixture
def team(customer):
    """Four experts on an overlap-2 project with gold; the QA lead rejected two answers of
    the first, so that a flag rule and a review rule acted on that expert."""
    organization = factories.organization_of(customer)
    qa = factories.member(organization, role=Membership.Role.QA_LEAD, username="qa-team")
    project = factories.project(customer, items=6, gold=2, overlap=2, max_overlap=2,
                                review_rate=Decimal("1"), gold_rate=Decimal("0.3"))
    for action in ("flag", "require_review"):
        rules.create_rule(user=qa, project=project, metric="rejection_rate",
                                     comparator="gt", value=Decimal("0.1"), action=action,
                                     min_evidence=2, name=f"Rejections ({action})")
    experts = [factories.expert(username=f"dr-team-{n}") for n in range(4)]
    answers = {expert.pk: [factories.answered(expert, project, {"better": "AB"[n % 2]})
                           for _ in range(3)] for n, expert in enumerate(experts)}
    for annotation in answers[experts[0].pk][:2]:
        factories.reviewed(annotation, qa, "reject", comment="Wrong completion.")
    return {"project": project, "qa": qa, "experts": experts,
            "member": factories.member(organization, username="plain-team")}


def page_rows(client, project) -> list[dict]:
    response = client.get(f"/workspace/projects/{project.pk}/experts/")
    assert response.status_code == 200
    return response.context["rows"]


def test_each_expert_has_the_apis_figures_and_actions(team):
    project = team["project"]
    rows = page_rows(signed_in(team["qa"]), project)
    api = api_as(team["qa"]).get(f"/api/v1/projects/{project.pk}/experts/").json()["results"]
    assert [{k: row[k] for k in FIGURES} for row in rows] == [
        {k: row[k] for k in FIGURES} for row in api]
    assert len(rows) == 4
    flagged = next(row for row in rows if row["actions"])
    assert sorted(a.action for a in flagged["actions"]) == ["flag", "require_review"]
    assert flagged["review_all"] is True
    text = signed_in(team["qa"]).get(f"/workspace/projects/{project.pk}/experts/"
                                     ).content.decode()
    assert flagged["actions"][0].reason in text
    assert "all work reviewed" in text and "Undo" in text
    assert "dr-team-0" not in text


def test_a_qa_lead_undoes_an_action_with_a_note(team):
    project = team["project"]
    action = QualityAction.objects.get(project=project, action="require_review")
    client = signed_in(team["qa"])
    response = client.post(f"/workspace/projects/{project.pk}/experts/actions/{action.pk}/undo/",
                           {"note": "  Two rejections on hard items.  "}, follow=True)
    assert response.status_code == 200
    action.refresh_from_db()
    assert action.reversed_by == team["qa"]
    assert action.reversal_note == "Two rejections on hard items."
    text = response.content.decode()
    assert "Undone. New work is no longer reviewed as a rule" in text
    assert "Two rejections on hard items." in text
    response = client.post(f"/workspace/projects/{project.pk}/experts/actions/{action.pk}/undo/",
                           {"note": "again"}, follow=True)
    assert "This action was already reversed." in response.content.decode()
    action.refresh_from_db()
    assert action.reversal_note == "Two rejections on hard items."


def test_a_note_too_long_is_named_and_changes_nothing(team):
    project = team["project"]
    action = QualityAction.objects.get(project=project, action="flag")
    response = signed_in(team["qa"]).post(
        f"/workspace/projects/{project.pk}/experts/actions/{action.pk}/undo/",
        {"note": "x" * 2001}, follow=True)
    assert "Why it is undone: Ensure this value has at most 2000 characters" in (
        response.content.decode())
    action.refresh_from_db()
    assert action.reversed_at is None


def test_a_plain_member_reads_but_may_not_undo_as_in_the_api(team):
    project = team["project"]
    action = QualityAction.objects.get(project=project, action="flag")
    client = signed_in(team["member"])
    assert len(page_rows(client, project)) == 4
    text = client.get(f"/workspace/projects/{project.pk}/experts/").content.decode()
    assert 'value="Undo"' not in text
    response = client.post(f"/workspace/projects/{project.pk}/experts/actions/{action.pk}/undo/",
                           {"note": "mine"}, follow=True)
    assert "QA leads, owners and admins may do this." in (
        response.content.decode())
    api = api_as(team["member"]).post(f"/api/v1/quality-actions/{action.pk}/reverse/",
                                      {"note": "mine"}, format="json")
    assert api.status_code == 403
    action.refresh_from_db()
    assert action.reversed_at is None


def test_another_organizations_experts_answer_404(team, other_customer, customer):
    project = team["project"]
    action = QualityAction.objects.get(project=project, action="flag")
    client = signed_in(other_customer)
    assert client.get(f"/workspace/projects/{project.pk}/experts/").status_code == 404
    url = f"/workspace/projects/{project.pk}/experts/actions/{action.pk}/undo/"
    assert client.post(url, {"note": "x"}).status_code == 404
    assert signed_in(team["experts"][0]).get(
        f"/workspace/projects/{project.pk}/experts/").status_code == 404
    other = factories.project(customer, items=1)
    wrong = f"/workspace/projects/{other.pk}/experts/actions/{action.pk}/undo/"
    assert signed_in(team["qa"]).post(wrong, {"note": "x"}).status_code == 404
    action.refresh_from_db()
    assert action.reversed_at is None


def test_the_experts_page_query_count_is_bounded(team, django_assert_max_num_queries):
    client = signed_in(team["qa"])
    with django_assert_max_num_queries(16):
        rows = page_rows(client, team["project"])
    assert len(rows) == 4 and sum(len(row["actions"]) for row in rows) == 2


def test_the_list_shows_what_the_latest_report_learned_of_each_expert(customer):
    """Spammer scores and confusion matrices come from the report's Dawid-Skene fit: two
    careful experts and one who answers "yes" whatever the item."""
    project = factories.project(customer, preset="classification", overlap=3, max_overlap=3,
                                questions=[{"name": "sick", "kind": "label",
                                            "options": ["yes", "no"]}])
    factories.add_items(project, [{"text": f"Case {n}"} for n in range(30)])
    careful = [factories.expert(username=f"dr-careful-{n}") for n in range(2)]
    constant = factories.expert(username="dr-constant")
    for n, item in enumerate(project.items.order_by("id")):
        truth = "yes" if n % 3 else "no"
        for expert in careful:
            factories.recorded_answer(project, item, expert, {"sick": truth})
        factories.recorded_answer(project, item, constant, {"sick": "yes"})
    qa = factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)
    assert all(row["spammer_score"] is None and row["report"] is None for row in
               api_as(qa).get(f"/api/v1/projects/{project.pk}/experts/").json()["results"])
    report = reporting.request_report(project, qa)
    reporting.compute(report.pk)
    rows = {row["expert_id"]: row for row in
            api_as(factories.staff_user()).get(f"/api/v1/projects/{project.pk}/experts/")
            .json()["results"]}
    assert rows[constant.pk]["spammer_score"] == pytest.approx(0, abs=0.05)
    assert all(rows[e.pk]["spammer_score"] > 0.9 for e in careful)
    fit = rows[constant.pk]["dawid_skene"]["sick"]
    assert fit["labels"] == ["yes", "no"] and fit["answers"] == 30
    # Whatever the truth, this expert says yes.
    assert [round(row[0], 2) for row in fit["confusion"]] == [1.0, 1.0]
    assert {row["report"] for row in rows.values()} == {report.pk}
    text = signed_in(qa).get(f"/workspace/projects/{project.pk}/experts/").content.decode()
    assert "Confusion matrices (Dawid-Skene)" in text and f"report {report.pk}" in text
    page = signed_in(qa).get(f"/workspace/reports/{report.pk}/").content.decode()
    assert "Spammer score" in page and page.count("confusion matrices (Dawid-Skene)") == 3
