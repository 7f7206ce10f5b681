"""Rubrics: defined on a project (checked like its schema, every problem named by its place)
and scored on reviews (each score checked against its criterion)."""

import pytest

from tasks.models import Project
from tasks.rubric import build_rubric, check_scores
from tasks.schema import SchemaError
from tests import factories
from tests.conftest import client_for

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
