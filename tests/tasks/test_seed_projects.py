from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.access import Action, may
from accounts.demo import DEMO_PASSWORD, EXPERTS, ORG_QA_LEAD
from accounts.models import Expertise, ExpertProfile
from marketplace import ledger, statements
from marketplace.models import Entry, Transaction
from quality.models import AgreementReport, Review
from tasks import schema
from tasks.demo import BIOLOGY_PROJECT, CONTRACTS_PROJECT, PROJECTS, TRIAGE_PROJECT, answer_of
from tasks.models import Annotation, Assignment, Batch, Item, Project
from tasks.routing import eligible_projects

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())


def snapshot() -> list:
    """Every row the demo makes, with the fields a careless second run would change."""
    return [
        list(Project.objects.order_by("id").values_list("id", "name", "status", "updated_at")),
        list(Item.objects.order_by("id").values_list("id", "external_id", "overlap", "filled",
                                                     "annotated")),
        list(Batch.objects.order_by("id").values_list("id", "created")),
        list(Assignment.objects.order_by("id").values_list("id", "status", "finished_at")),
        list(Annotation.objects.order_by("id").values_list("id", "answer")),
        list(Review.objects.order_by("id").values_list("id", "verdict", "decided_at")),
        list(AgreementReport.objects.order_by("id").values_list("id", "status")),
        list(Transaction.objects.order_by("id").values_list("id", "kind")),
        list(Entry.objects.order_by("id").values_list("id", "amount")),
    ]


def test_acme_gets_five_active_projects_with_items(seeded):
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
    assert projects[TRIAGE_PROJECT].domain.slug == "medicine"
    assert projects[TRIAGE_PROJECT].items.count() == 12
    biology = projects[BIOLOGY_PROJECT]
    assert (biology.contract, biology.hourly_rate, biology.price_per_item) == (
        "hourly", Decimal("45.00"), Decimal("0.00"))
    assert statements.funding(biology).hold_per_task == Decimal("22.50")


def test_every_project_has_an_expert_to_spare_beyond_its_overlap(seeded):
    profiles = ExpertProfile.objects.filter(user__username__in=[e.username for e in EXPERTS])
    assert profiles.count() == len(EXPERTS)
    for project in Project.objects.filter(organization__name="Acme AI"):
        eligible = [profile for profile in profiles
                    if eligible_projects(profile, project_id=project.pk)]
        assert len(eligible) >= project.overlap + 1, project.name


def test_items_hold_several_experts_answers_and_a_parent_domain_takes_subdomain_experts(
        seeded):
    for project in Project.objects.filter(organization__name="Acme AI", overlap__gt=1):
        assert project.items.filter(is_gold=False, annotated__gte=2).exists(), project.name
    triage = Project.objects.get(name=TRIAGE_PROJECT)
    workers = set(Annotation.objects.filter(project=triage).values_list("expert", flat=True))
    physicians = set(Expertise.objects.filter(domain__slug="medicine")
                     .values_list("expert", flat=True))
    assert len(workers - physicians) >= 3, "experts of medical subdomains work on medicine"


def test_reviews_wait_for_the_qa_lead_and_a_report_is_done(seeded):
    qa_lead = get_user_model().objects.get(username=ORG_QA_LEAD)
    waiting = Review.objects.filter(verdict="", project__organization__name="Acme AI")
    assert waiting.count() >= 3
    assert all(may(qa_lead, Action.REVIEW, review.project.organization_id)
               for review in waiting.select_related("project"))
    done = AgreementReport.objects.filter(status="done")
    assert done.exists() and not AgreementReport.objects.exclude(status="done").exists()
    assert any(question["alpha"] is not None
               for report in done for question in report.result["questions"])
    # The written explanations' report shows the QA lead's rubric scores.
    (written,) = done.get(project__name=CONTRACTS_PROJECT).result["written"]
    assert written["rubric"] == {"accuracy": 11 / 3, "plain_english": 13 / 3}


def test_approved_work_is_paid_and_a_rejection_tells_its_expert_why(seeded):
    earners = [profile.user for profile in ExpertProfile.objects.select_related("user")
               if statements.earnings(profile.user, "USD")["balance"] > 0]
    assert len(earners) >= 3
    assert ledger.reconcile()["ok"]
    rejected = Assignment.objects.get(status="rejected")
    review = Review.objects.get(annotation__assignment=rejected, verdict="reject")
    assert review.reviewer.username == ORG_QA_LEAD and "assignment clause" in review.comment
    assert list(statements.earnings(rejected.expert, "USD")["rejected"]) == [rejected]


def test_running_again_changes_nothing(seeded, settings):
    before = snapshot()
    call_command("seed_demo", stdout=StringIO())
    assert snapshot() == before


def test_a_half_seeded_database_is_completed(seeded):
    project = Project.objects.get(name="Cardiology answer preferences")
    project.items.filter(external_id__in=["cardio-20", "cardio-21"]).delete()
    call_command("seed_demo", stdout=StringIO())
    assert project.items.count() == 30
    assert [(b.created, b.existing) for b in project.batches.all()] == [(2, 28), (30, 0)]
    assert project.items.get(external_id="cardio-21").data["prompt"].startswith("What does a")


def test_demo_items_gold_and_usual_answers_are_valid():
    for spec in PROJECTS:
        fields, questions = schema.build_schema(spec.preset, None,
                                                spec.settings.get("questions"))
        validator = schema.ItemValidator(fields, questions)
        for row in spec.rows:
            assert validator.validate(row["data"]) == [], row["external_id"]
            if "gold" in row:
                assert validator.validate_gold(row["data"], row["gold"]) == []
            usual = spec.answers[row["external_id"]]
            assert schema.validate_answer(questions, row["data"], usual) == {}
            for username, _ in spec.shifts:
                answer = answer_of(questions, username, row["external_id"], usual)
                assert schema.validate_answer(questions, row["data"], answer) == {}


def test_demo_experts_pull_work_at_once(seeded, api):
    """Each project still has work for its experts after the demo's own."""
    for username, project in [
        ("expert01", "Cardiology answer preferences"),
        ("expert14", "Cardiology answer preferences"),
        ("expert04", "ML answer quality rubric"),
        ("expert09", "ML answer quality rubric"),
        ("expert03", "Contract law explanations"),
        ("expert08", "Contract law explanations"),
        ("expert02", TRIAGE_PROJECT),
        ("expert12", BIOLOGY_PROJECT),
    ]:
        token = api.post("/api/v1/auth/token/", {"username": username,
                                                 "password": DEMO_PASSWORD}).json()["token"]
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = api.post("/api/v1/assignments/next/")
        assert response.status_code == 201, (username, response.content)
        assert response.json()["project"] == Project.objects.get(name=project).pk, username
