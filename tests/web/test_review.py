"""The QA lead's review desk: the queue in the API's order, one annotation beside the item,
the other experts' answers and the gold answer, and verdicts stored as the API stores them;
a rejection without a reason, a bad fix and a plain member's verdict change nothing, and
another organization's work answers 404."""

import json
from decimal import Decimal

import pytest

from accounts.models import Membership
from quality.models import Review
from tasks.export import expert_pseudonym
from tasks.models import Assignment
from tests import factories
from tests.web.clients import api_as, signed_in
from tests.web.test_work import FULL_ANSWER, every_kind_project

pytestmark = pytest.mark.django_db

REASON = "The second completion gives a dose the guideline withdrew."


@pytest.fixture
def desk(customer):
    """Three experts who each answered the gold item and both items of an overlap-3 project
    whose every answer goes to review, a QA lead and a plain member."""
    organization = factories.organization_of(customer)
    project = factories.project(customer, items=2, gold=1, overlap=3, max_overlap=3,
                                review_rate=Decimal("1"), gold_rate=Decimal("1"))
    experts = [factories.expert(username=f"dr-review-{n}") for n in range(3)]
    answered = [factories.answered(expert, project, {"better": "A", "rewrite": f"R{n}"})
                for n, expert in enumerate(experts) for _ in range(3)]
    # Gold answers are scored rather than sampled for review; the six others all wait.
    return {"project": project, "experts": experts,
            "answers": [a for a in answered if not a.item.is_gold],
            "gold": [a for a in answered if a.item.is_gold],
            "qa": factories.member(organization, role=Membership.Role.QA_LEAD,
                                   username="qa-desk"),
            "member": factories.member(organization, username="plain-member"),
            "organization": organization}


def queue_ids(desk) -> list[int]:
    response = api_as(desk["qa"]).get(f"/api/v1/projects/{desk['project'].pk}/review-queue/",
                                      {"page_size": 100})
    return [entry["annotation"] for entry in response.json()["results"]]


def decided(annotation) -> Review:
    return Review.objects.exclude(verdict="").get(annotation=annotation)


def test_the_review_home_lists_the_projects_with_work_waiting(desk, customer):
    response = signed_in(desk["qa"]).get("/workspace/review/")
    assert response.status_code == 200
    rows = list(response.context["page_obj"].object_list)
    assert [(p.pk, p.waiting) for p in rows] == [(desk["project"].pk, 6)]
    assert f'href="/workspace/projects/{desk["project"].pk}/review/"' in (
        response.content.decode())


def test_the_review_home_is_for_reviewers_only(desk):
    assert signed_in(desk["member"]).get("/workspace/review/").status_code == 403
    assert signed_in(desk["experts"][0]).get("/workspace/review/").status_code == 403


def test_the_queue_is_in_the_apis_order(desk):
    project = desk["project"]
    first = desk["answers"][3]
    Review.objects.filter(annotation=first).update(priority=Review.PRIORITY["rule"],
                                                   reason="rule")
    response = signed_in(desk["qa"]).get(f"/workspace/projects/{project.pk}/review/")
    assert response.status_code == 200
    shown = [line["review"].annotation_id for line in response.context["lines"]]
    assert shown == queue_ids(desk)
    assert shown[0] == first.pk
    text = response.content.decode()
    assert expert_pseudonym(project.pk, desk["experts"][0].pk) in text
    assert "dr-review-0" not in text


def test_the_annotation_is_shown_beside_the_item_the_others_and_gold(desk):
    project = desk["project"]
    gold_answer = desk["gold"][0]
    response = signed_in(desk["qa"]).get(f"/workspace/review/{gold_answer.pk}/")
    assert response.status_code == 200
    text = response.content.decode()
    data = gold_answer.item.data
    assert data["prompt"] in text and data["completions"][1] in text
    assert "Gold answer" in text
    assert len(response.context["others"]) == 2
    for expert in desk["experts"]:
        assert expert_pseudonym(project.pk, expert.pk) in text
        assert expert.username not in text
    ordinary = desk["answers"][0]
    response = signed_in(desk["qa"]).get(f"/workspace/review/{ordinary.pk}/")
    assert "Gold answer" not in response.content.decode()


def test_an_accept_is_stored_as_the_api_stores_it_and_the_next_opens(desk):
    mine, theirs = (Review.objects.get(annotation_id=pk).annotation
                    for pk in queue_ids(desk)[:2])
    response = signed_in(desk["qa"]).post(f"/workspace/review/{mine.pk}/",
                                          {"verdict": "accept", "accept-comment": " Fine. "})
    assert response.status_code == 302
    assert response["Location"] == f"/workspace/review/{queue_ids(desk)[0]}/"
    api = api_as(desk["qa"]).post(f"/api/v1/annotations/{theirs.pk}/review/",
                                  {"verdict": "accept", "comment": " Fine. "}, format="json")
    assert api.status_code == 200
    for annotation in (mine, theirs):
        review = decided(annotation)
        assert (review.verdict, review.comment, review.answer, review.reviewer) == (
            "accept", "Fine.", None, desk["qa"])
        annotation.assignment.refresh_from_db()
        assert annotation.assignment.status == Assignment.Status.APPROVED


def test_a_rejection_needs_a_reason_and_changes_nothing_without_one(desk):
    annotation = desk["answers"][0]
    client = signed_in(desk["qa"])
    response = client.post(f"/workspace/review/{annotation.pk}/",
                           {"verdict": "reject", "reject-comment": "   "})
    assert response.status_code == 200
    assert "A rejection needs a comment the expert can read." in response.content.decode()
    assert response.context["forms"]["reject"].errors["comment"]
    annotation.assignment.refresh_from_db()
    assert annotation.assignment.status == Assignment.Status.SUBMITTED
    assert not Review.objects.filter(annotation=annotation).exclude(verdict="").exists()

    response = client.post(f"/workspace/review/{annotation.pk}/",
                           {"verdict": "reject", "reject-comment": REASON})
    assert response.status_code == 302
    review = decided(annotation)
    assert (review.verdict, review.comment, review.answer) == ("reject", REASON, None)
    annotation.assignment.refresh_from_db()
    assert annotation.assignment.status == Assignment.Status.REJECTED


def test_a_fix_is_stored_as_the_api_stores_it(desk):
    mine, theirs = desk["answers"][0], desk["answers"][1]
    fixed = {"better": "B", "rewrite": "A safer answer."}
    response = signed_in(desk["qa"]).post(f"/workspace/review/{mine.pk}/", {
        "verdict": "fix", f"fix-a-{mine.item_id}-better": "B",
        f"fix-a-{mine.item_id}-rewrite": "A safer answer.", "fix-comment": "B is safer."})
    assert response.status_code == 302
    api = api_as(desk["qa"]).post(f"/api/v1/annotations/{theirs.pk}/review/", {
        "verdict": "fix", "answer": fixed, "comment": "B is safer."}, format="json")
    assert api.status_code == 200
    for annotation in (mine, theirs):
        review = decided(annotation)
        assert (review.verdict, review.answer, review.comment) == ("fix", fixed, "B is safer.")
        annotation.refresh_from_db()
        assert annotation.final_answer == fixed
        assert annotation.assignment.status == Assignment.Status.APPROVED


def test_the_fix_form_starts_from_the_experts_answer(desk):
    annotation = desk["answers"][0]
    response = signed_in(desk["qa"]).get(f"/workspace/review/{annotation.pk}/")
    form = response.context["forms"]["fix"]
    assert form[f"a-{annotation.item_id}-better"].value() == "A"
    assert form[f"a-{annotation.item_id}-rewrite"].value() == "R0"


def test_the_fix_form_has_every_question_kind_prefilled_and_stores_the_fix(customer):
    qa = factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)
    project = every_kind_project(customer, review_rate=Decimal("1"))
    annotation = factories.answered(factories.expert(), project, FULL_ANSWER)
    url = f"/workspace/review/{annotation.pk}/"
    response = signed_in(qa).get(url)
    form, item = response.context["forms"]["fix"], annotation.item_id
    assert [form[f"a-{item}-order-{n}"].value() for n in range(3)] == [3, 1, 2]
    assert (form[f"a-{item}-better"].value(), form[f"a-{item}-better-strength"].value()) == (
        "B", 3)
    assert form[f"a-{item}-issues"].value() == ["interaction", "dosage"]
    assert json.loads(form[f"a-{item}-entities"].value()) == FULL_ANSWER["entities"]
    text = response.content.decode()
    assert 'data-spans-for="field-note-text"' in text and 'id="field-note-text"' in text
    fix = {"verdict": "safe", "issues": ["tone"], "quality": 4, "order": [0, 2, 1],
           "better": {"choice": "A", "strength": 1}, "rewrite": "Take paracetamol.",
           "entities": [{"start": 8, "end": 26, "label": "TRIGGER"}]}
    response = signed_in(qa).post(url, {
        "verdict": "fix", f"fix-a-{item}-verdict": "safe", f"fix-a-{item}-issues": ["tone"],
        f"fix-a-{item}-quality": "4", f"fix-a-{item}-order-0": "1",
        f"fix-a-{item}-order-1": "3", f"fix-a-{item}-order-2": "2",
        f"fix-a-{item}-better": "A", f"fix-a-{item}-better-strength": "1",
        f"fix-a-{item}-rewrite": "Take paracetamol.",
        f"fix-a-{item}-entities": json.dumps(fix["entities"])})
    assert response.status_code == 302
    assert decided(annotation).answer == fix


def test_a_fix_the_service_refuses_is_explained_and_changes_nothing(customer):
    qa = factories.member(factories.organization_of(customer), role=Membership.Role.QA_LEAD)
    project = every_kind_project(customer, review_rate=Decimal("1"))
    annotation = factories.answered(factories.expert(), project, FULL_ANSWER)
    item = annotation.item_id
    response = signed_in(qa).post(f"/workspace/review/{annotation.pk}/", {
        "verdict": "fix", f"fix-a-{item}-verdict": "safe", f"fix-a-{item}-quality": "4",
        f"fix-a-{item}-issues": ["tone"], f"fix-a-{item}-order-0": "1",
        f"fix-a-{item}-order-1": "3", f"fix-a-{item}-order-2": "2", f"fix-a-{item}-better": "A",
        f"fix-a-{item}-better-strength": "1",
        f"fix-a-{item}-entities": '[{"start": 8, "end": 999, "label": "TRIGGER"}]'})
    assert response.status_code == 200
    errors = response.context["forms"]["fix"].non_field_errors()
    assert errors and all(error.startswith("entities:") for error in errors)
    annotation.refresh_from_db()
    assert annotation.final_answer is None
    assert Review.objects.get(annotation=annotation).verdict == ""


def test_a_fix_without_the_required_answer_is_refused_and_changes_nothing(desk):
    annotation = desk["answers"][0]
    response = signed_in(desk["qa"]).post(f"/workspace/review/{annotation.pk}/", {
        "verdict": "fix", f"fix-a-{annotation.item_id}-rewrite": "Only a rewrite."})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    annotation.refresh_from_db()
    assert annotation.final_answer is None
    assert annotation.assignment.status == Assignment.Status.SUBMITTED


def test_an_unknown_verdict_is_named_and_changes_nothing(desk):
    annotation = desk["answers"][0]
    response = signed_in(desk["qa"]).post(f"/workspace/review/{annotation.pk}/",
                                          {"verdict": "shrug"})
    assert response.status_code == 200
    assert "Choose accept, reject or fix." in response.content.decode()
    assert Review.objects.get(annotation=annotation).verdict == ""


def test_a_plain_member_reads_but_may_not_judge_as_in_the_api(desk):
    annotation = desk["answers"][0]
    client = signed_in(desk["member"])
    assert client.get(f"/workspace/projects/{desk['project'].pk}/review/").status_code == 200
    response = client.get(f"/workspace/review/{annotation.pk}/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Only the organization's QA leads, owners and admins may give a verdict" in text
    assert 'name="verdict"' not in text
    response = client.post(f"/workspace/review/{annotation.pk}/",
                           {"verdict": "reject", "reject-comment": REASON})
    assert response.status_code == 403
    api = api_as(desk["member"]).post(f"/api/v1/annotations/{annotation.pk}/review/",
                                      {"verdict": "reject", "comment": REASON}, format="json")
    assert api.status_code == 403
    annotation.assignment.refresh_from_db()
    assert annotation.assignment.status == Assignment.Status.SUBMITTED


def test_another_organizations_work_answers_404(desk, other_customer):
    outsider = factories.member(factories.organization_of(other_customer),
                                role=Membership.Role.QA_LEAD)
    client = signed_in(outsider)
    annotation = desk["answers"][0]
    assert client.get(f"/workspace/projects/{desk['project'].pk}/review/").status_code == 404
    assert client.get(f"/workspace/review/{annotation.pk}/").status_code == 404
    response = client.post(f"/workspace/review/{annotation.pk}/",
                           {"verdict": "reject", "reject-comment": REASON})
    assert response.status_code == 404
    assert signed_in(desk["experts"][0]).get(f"/workspace/review/{annotation.pk}/"
                                             ).status_code == 404
    assert [p.pk for p in signed_in(outsider).get("/workspace/review/")
            .context["page_obj"].object_list] == []


def test_decided_work_shows_its_verdicts_and_no_forms(desk):
    annotation = desk["answers"][0]
    factories.reviewed(annotation, desk["qa"], "reject", comment=REASON)
    response = signed_in(desk["qa"]).get(f"/workspace/review/{annotation.pk}/")
    text = response.content.decode()
    assert REASON in text and "No verdict is waiting" in text
    assert 'name="verdict"' not in text


def test_the_pages_query_count_does_not_grow_with_the_work(desk, customer,
                                                           django_assert_max_num_queries):
    for _ in range(3):
        factories.project(customer, items=1)
    client = signed_in(desk["qa"])
    project = desk["project"]
    with django_assert_max_num_queries(8):
        response = client.get("/workspace/review/")
    assert len(response.context["page_obj"].object_list) == 4
    with django_assert_max_num_queries(9):
        response = client.get(f"/workspace/projects/{project.pk}/review/")
    assert len(response.context["lines"]) == 6
    with django_assert_max_num_queries(11):
        response = client.get(f"/workspace/review/{desk['answers'][0].pk}/")
    assert len(response.context["others"]) == 2
