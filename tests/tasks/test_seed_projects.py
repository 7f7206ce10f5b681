from io import StringIO

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_PASSWORD
from tasks import schema
from tasks.demo import PROJECTS
from tasks.models import Batch, Item, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())


def snapshot() -> list:
    return [
        list(Project.objects.order_by("id").values_list("id", "name", "status", "updated_at")),
        list(Item.objects.order_by("id").values_list("id", "external_id", "overlap", "filled")),
        list(Batch.objects.order_by("id").values_list("id", "created")),
    ]


def test_acme_gets_three_active_projects_with_items(seeded):
    projects = {p.name: p for p in Project.objects.filter(organization__name="Acme AI")}
    assert set(projects) == {spec.name for spec in PROJECTS}
    assert {p.status for p in projects.values()} == {"active"}
    cardiology = projects["Cardiology answer preferences"]
    assert (cardiology.preset, cardiology.domain.slug) == ("preference", "medicine-cardiology")
    assert cardiology.items.filter(is_gold=False).count() == 25
    assert cardiology.items.filter(is_gold=True).count() == 5
    assert [(b.status, b.created) for b in cardiology.batches.all()] == [("done", 30)]
    assert projects["ML answer quality rubric"].items.count() == 10
    assert projects["Contract law explanations"].items.count() == 10


def test_running_again_changes_nothing(seeded, settings):
    before = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == before


def test_a_half_seeded_database_is_completed(seeded):
    project = Project.objects.get(name="Cardiology answer preferences")
    project.items.filter(external_id__in=["cardio-03", "cardio-gold-2"]).delete()
    call_command("seed_demo", stdout=StringIO())
    assert project.items.count() == 30
    assert [(b.created, b.existing) for b in project.batches.all()] == [(2, 28), (30, 0)]
    assert project.items.get(external_id="cardio-gold-2").gold == {"better": "B"}


def test_demo_items_and_gold_answers_are_valid():
    for spec in PROJECTS:
        fields, questions = schema.build_schema(spec.preset, None, None)
        validator = schema.ItemValidator(fields, questions)
        for row in spec.rows:
            assert validator.validate(row["data"]) == [], row["external_id"]
            if "gold" in row:
                assert validator.validate_gold(row["data"], row["gold"]) == []


@pytest.mark.parametrize(("username", "project"), [
    ("expert01", "Cardiology answer preferences"),
    ("expert04", "ML answer quality rubric"),
    ("expert09", "ML answer quality rubric"),
    ("expert03", "Contract law explanations"),
    ("expert08", "Contract law explanations"),
])
def test_demo_experts_pull_work_at_once(seeded, api, username, project):
    token = api.post("/api/v1/auth/token/", {"username": username,
                                             "password": DEMO_PASSWORD}).json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api.post("/api/v1/assignments/next/")
    assert response.status_code == 201, response.content
    assert response.json()["project"] == Project.objects.get(name=project).pk
