"""Rubrics: defined on a project (checked like its schema, every problem named by its place)
and scored on reviews (each score checked against its criterion)."""

from decimal import Decimal

import pytest

from accounts.models import Membership
from quality.models import Review
from tasks.models import Assignment, Project
from tasks.rubric import build_rubric, check_scores
from tasks.schema import SchemaError
from tests import factories
from tests.conftest import client_for
from tests.web.clients import api_as, signed_in

PROJECTS = "/api/v1/projects/"
RUBRIC = [{"name": "accuracy", "description": "Facts are right.", "min": 1, "max": 5},
          {"name": "clarity", "description": "A patient could follow it."}]


def test_a_rubric_has_its_defaults_written_out():
    assert build_rubric(RUBRIC) == [
        {"name": "accuracy", "description": "Facts are right.", "min": 1, "max": 5},
        {"name": "clarity", "description": "A patient could follow it.", "min": 1, "max": 5}]
    assert build_rubric(None) == build_rubric([]) == []


def test_every_problem_of_a_rubric_is_named_by_its_place():
    with pytest.raises(SchemaError) as raised:
        build_rubric([{"name": "accuracy", "min": 3, "max": 3},
                      {"name": "accuracy"},
                      {"name": "Tone", "max": "5", "weight": 2},
                      "clarity"])
    assert raised.value.errors == {"rubric": [
        "rubric[0].max: must be above min, got min 3 and max 3",
        "rubric[1].name: 'accuracy' is already used by rubric[0]",
        "rubric[2]: unknown key(s) 'weight'; allowed keys are description, max, min, name",
        "rubric[2].name: 'Tone' is not valid; a criterion name uses lowercase letters, "
        "digits and underscores, starts with a letter and has at most 64 characters",
        "rubric[2].max: must be a whole number, got '5'",
        "rubric[3]: must be an object with a name, got str",
    ]}
    with pytest.raises(SchemaError, match="must be a list of criteria"):
        build_rubric({"accuracy": 5})


def test_scores_are_checked_against_their_criterion():
    rubric = build_rubric(RUBRIC)
    assert check_scores(rubric, {"accuracy": 5, "clarity": 1}) == []
    assert check_scores(rubric, {"accuracy": 4}) == []
    assert check_scores(rubric, {"accuracy": 6, "clarity": True, "tone": 3}) == [
        "accuracy: must be a whole number from 1 to 5, got 6",
        "clarity: must be a whole number from 1 to 5, got True",
        "tone: not a criterion of this project's rubric; its criteria are accuracy, clarity"]
    assert check_scores([], {"accuracy": 3}) == [
        "this project has no rubric; define one on the project first"]
    assert check_scores(rubric, [5]) == [
        "must be an object mapping criteria to scores, got list"]


@pytest.mark.django_db
def test_a_project_takes_a_rubric_through_the_api(customer):
    organization = factories.organization_of(customer)
    api = client_for(customer)
    response = api.post(PROJECTS, {"organization": organization.pk, "name": "Answers",
                                   "preset": "sft", "domain": "medicine-cardiology",
                                   "rubric": RUBRIC}, format="json")
    assert response.status_code == 201, response.json()
    assert [c["max"] for c in response.json()["rubric"]] == [5, 5]
    project = Project.objects.get(pk=response.json()["id"])
    assert [c["name"] for c in project.rubric] == ["accuracy", "clarity"]

    response = api.patch(f"{PROJECTS}{project.pk}/",
                         {"rubric": [{"name": "accuracy", "min": 0, "max": 10}]},
                         format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["rubric"] == [
        {"name": "accuracy", "description": "", "min": 0, "max": 10}]

    response = api.patch(f"{PROJECTS}{project.pk}/",
                         {"rubric": [{"name": "accuracy", "min": 5, "max": 1}]},
                         format="json")
    assert response.status_code == 400
    assert response.json() == {"rubric": [
        "rubric[0].max: must be above min, got min 5 and max 1"]}
    assert api.get(f"{PROJECTS}{project.pk}/").json()["rubric"][0]["max"] == 10


@pytest.mark.django_db
def test_a_bad_rubric_is_refused_beside_bad_questions(customer):
    organization = factories.organization_of(customer)
    response = client_for(customer).post(PROJECTS, {
        "organization": organization.pk, "name": "Answers", "domain": "medicine-cardiology",
        "fields": [{"name": "prompt", "type": "text"}],
        "questions": [{"name": "response", "kind": "prose"}],
        "rubric": [{"name": "accuracy", "max": 0}]}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"questions", "rubric"}
    assert not Project.objects.exists()


@pytest.fixture
def scored(customer):
    """An SFT project with a rubric, two answers waiting for a verdict and a QA lead."""
    organization = factories.organization_of(customer)
    project = factories.project(customer, preset="sft", activate=False, rubric=RUBRIC,
                                review_rate=Decimal("1"))
    factories.add_items(project, [{"prompt": "Dose of aspirin?"}, {"prompt": "Bed rest?"}])
    expert = factories.expert()
    answers = [factories.answered(expert, project, {"response": text})
               for text in ("75 mg daily.", "Two days.")]
    qa = factories.member(organization, role=Membership.Role.QA_LEAD)
    return project, answers, qa


@pytest.mark.django_db
def test_a_review_carries_rubric_scores_through_the_api(scored):
    _, answers, qa = scored
    url = f"/api/v1/annotations/{answers[0].pk}/review/"
    response = api_as(qa).post(url, {"verdict": "accept", "rubric": {"accuracy": 5}},
                               format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["rubric"] == {"accuracy": 5}
    assert Review.objects.get(annotation=answers[0], verdict="accept").rubric == {
        "accuracy": 5}
    history = api_as(qa).get(f"/api/v1/annotations/{answers[0].pk}/reviews/").json()
    assert history[-1]["rubric"] == {"accuracy": 5}


@pytest.mark.django_db
@pytest.mark.parametrize(("rubric", "message"), [
    ({"tone": 3}, "tone: not a criterion of this project's rubric; its criteria are "
                  "accuracy, clarity"),
    ({"accuracy": 6}, "accuracy: must be a whole number from 1 to 5, got 6"),
    ({"clarity": 2.5}, "clarity: must be a whole number from 1 to 5, got 2.5"),
    ({"clarity": "4"}, "clarity: must be a whole number from 1 to 5, got '4'"),
])
def test_bad_rubric_scores_answer_400_naming_the_criterion(scored, rubric, message):
    _, answers, qa = scored
    response = api_as(qa).post(f"/api/v1/annotations/{answers[0].pk}/review/",
                               {"verdict": "accept", "rubric": rubric}, format="json")
    assert response.status_code == 400
    assert response.json() == {"rubric": [message]}
    assert Assignment.objects.get(pk=answers[0].assignment_id).status == "submitted"


@pytest.mark.django_db
def test_scores_need_a_rubric_and_an_object(scored):
    project, answers, qa = scored
    response = api_as(qa).post(f"/api/v1/annotations/{answers[0].pk}/review/",
                               {"verdict": "accept", "rubric": [5]}, format="json")
    assert response.status_code == 400 and "rubric" in response.json()
    project.rubric = []
    project.save(update_fields=["rubric"])
    response = api_as(qa).post(f"/api/v1/annotations/{answers[0].pk}/review/",
                               {"verdict": "accept", "rubric": {"accuracy": 3}}, format="json")
    assert response.json() == {"rubric": [
        "this project has no rubric; define one on the project first"]}


@pytest.mark.django_db
def test_the_review_page_scores_on_the_rubric(scored):
    _, answers, qa = scored
    page = signed_in(qa).get(f"/workspace/review/{answers[0].pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for prefix in ("accept", "reject", "fix"):
        assert f'name="{prefix}-rubric_accuracy"' in html
    assert "A patient could follow it." in html

    response = signed_in(qa).post(f"/workspace/review/{answers[0].pk}/", {
        "verdict": "fix", f"fix-a-{answers[0].item_id}-response": "75 to 100 mg daily.",
        "fix-rubric_accuracy": "3", "fix-rubric_clarity": "", "fix-comment": ""})
    assert response.status_code == 302
    review = Review.objects.get(annotation=answers[0], verdict="fix")
    assert (review.rubric, review.answer) == ({"accuracy": 3},
                                              {"response": "75 to 100 mg daily."})

    response = signed_in(qa).post(f"/workspace/review/{answers[1].pk}/", {
        "verdict": "accept", "accept-rubric_accuracy": "9", "accept-comment": ""})
    assert response.status_code == 200
    assert "accuracy: must be a whole number from 1 to 5, got 9" in response.content.decode()
    assert not Review.objects.filter(annotation=answers[1]).exclude(verdict="").exists()
