import json
import random

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from accounts.models import Domain
from quality import qualifications
from quality.models import (
    Appeal,
    QualificationTest,
    QualityAction,
    QualityRule,
    Review,
    TrustScore,
)
from tasks import services as task_services
from tasks.models import ProjectExpert
from tasks.routing import next_assignment
from tests import factories
from tests.quality.appeal_setup import appeal_of, organization_with_leads, rejected

pytestmark = pytest.mark.django_db
ADMIN = "/admin/quality/"
FIELDS = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"}]
QUESTIONS = [{"name": "better", "kind": "pairwise", "field": "completions"}]
ITEM = {"prompt": "Which?", "completions": ["one", "two"]}


@pytest.fixture
def records(customer, staff):
    """Trust from gold answers, a rule that removed an expert, reviews, and a test attempted.
    """
    project = factories.project(customer, items=2, gold=2, gold_rate="1")
    QualityRule.objects.create(project=project, metric="gold_accuracy", comparator="lt",
                               value="0.5", action="remove", min_evidence=2)
    expert = factories.expert()
    for _ in range(2):
        assignment = next_assignment(expert, project, rng=random.Random(2)).assignment
        task_services.submit(assignment_id=assignment.pk, user=expert,
                             answer={"better": "B"})
    test = qualifications.create_qualification_test(
        user=staff, domain=Domain.objects.get(slug="medicine-cardiology"), name="Basics",
        fields=FIELDS, questions=QUESTIONS, items=[{"data": ITEM, "gold": {"better": "A"}}])
    qualifications.start_attempt(test_id=test.pk, user=factories.expert(qualified=False))
    return project


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


MODELS = ["trustscore", "qualificationtest", "qualificationattempt", "qualityrule",
          "qualityaction", "review"]


@pytest.mark.parametrize("model", MODELS)
def test_changelists_and_change_pages_load(admin_client, records, model):
    rows = listed(admin_client.get(f"{ADMIN}{model}/"))
    assert rows
    response = admin_client.get(f"{ADMIN}{model}/{rows[0].pk}/change/")
    assert response.status_code == 200


def test_filters(admin_client, records):
    assert {row.project_id for row in listed(admin_client.get(
        f"{ADMIN}trustscore/?scope=project"))} == {records.pk}
    assert {row.domain.slug for row in listed(admin_client.get(
        f"{ADMIN}trustscore/?scope=domain"))} == {"medicine-cardiology"}
    assert len(listed(admin_client.get(f"{ADMIN}review/?queue=decided"))) == 2
    assert listed(admin_client.get(f"{ADMIN}review/?queue=pending")) == []
    assert len(listed(admin_client.get(f"{ADMIN}qualityaction/?state=live"))) == 1


def test_records_are_read_only(admin_client, records):
    for model in ["trustscore", "qualificationattempt", "qualityaction", "review"]:
        assert admin_client.get(f"{ADMIN}{model}/add/").status_code == 403
    row = TrustScore.objects.first()
    assert admin_client.post(f"{ADMIN}trustscore/{row.pk}/delete/").status_code == 403


def test_reversing_asks_for_a_note_then_goes_through_the_service(admin_client, records):
    action = QualityAction.objects.get()
    form = {"action": "reverse_actions", ACTION_CHECKBOX_NAME: [action.pk]}
    response = admin_client.post(f"{ADMIN}qualityaction/", form)
    assert response.status_code == 200
    assert b"Reverse quality actions" in response.content
    response = admin_client.post(f"{ADMIN}qualityaction/",
                                 {**form, "apply": "1", "note": "Wrong threshold."})
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.reversal_note, action.active) == ("Wrong threshold.", False)
    assert ProjectExpert.objects.get(expert=action.expert).access == "allowed"


def inline(prefix: str, rows: list[dict]) -> dict:
    data = {f"{prefix}-TOTAL_FORMS": len(rows), f"{prefix}-INITIAL_FORMS": 0}
    for n, row in enumerate(rows):
        data.update({f"{prefix}-{n}-{key}": value for key, value in row.items()})
    return data


def test_tests_are_written_with_items_inline_and_checked(admin_client, db):
    domain = Domain.objects.get(slug="medicine-oncology")
    body = {"domain": domain.pk, "name": "Oncology", "instructions": "",
            "fields": json.dumps(FIELDS), "questions": json.dumps(QUESTIONS),
            "items_per_attempt": 5, "pass_mark": "0.8", "time_limit_s": 900,
            "retry_after_s": 3600, "active": "on"}
    bad = inline("items", [{"data": json.dumps(ITEM), "gold": json.dumps({"better": "C"})}])
    response = admin_client.post(f"{ADMIN}qualificationtest/add/", {**body, **bad})
    assert response.status_code == 200
    assert "items[0].better" in str(response.context["inline_admin_formsets"][0]
                                    .formset.non_form_errors())
    good = inline("items", [{"data": json.dumps(ITEM), "gold": json.dumps({"better": "A"})}])
    response = admin_client.post(f"{ADMIN}qualificationtest/add/", {**body, **good})
    assert response.status_code == 302
    test = QualificationTest.objects.get(name="Oncology")
    assert test.questions[0]["required"] is True
    assert test.items.get().gold == {"better": "A"}


def test_rules_are_checked_and_record_their_author(admin_client, staff, records):
    body = {"project": records.pk, "name": "", "metric": "skip_rate", "window": "answers",
            "window_size": 20, "min_evidence": 5, "comparator": "gt", "value": "2",
            "action": "flag", "suspend_days": 7, "active": "on"}
    response = admin_client.post(f"{ADMIN}qualityrule/add/", body)
    assert response.status_code == 200
    assert "share between 0 and 1" in str(response.context["adminform"].form.errors)
    response = admin_client.post(f"{ADMIN}qualityrule/add/", {**body, "value": "0.2"})
    assert response.status_code == 302
    assert QualityRule.objects.get(metric="skip_rate").created_by == staff
    assert Review.objects.filter(reviewer__isnull=True, verdict="reject").count() == 2


def test_operators_decide_appeals_with_a_reason(admin_client, customer):
    setting = organization_with_leads(customer)
    appeals = [appeal_of(rejected(setting.project, factories.expert(), setting.qa_lead))
               for _ in range(2)]
    rows = listed(admin_client.get(f"{ADMIN}appeal/?status=pending"))
    assert {row.pk for row in rows} == {appeal.pk for appeal in appeals}
    assert admin_client.get(f"{ADMIN}appeal/{appeals[0].pk}/change/").status_code == 200
    form = {"action": "deny_appeals", ACTION_CHECKBOX_NAME: [appeals[0].pk]}
    assert b"Deny appeals" in admin_client.post(f"{ADMIN}appeal/", form).content
    response = admin_client.post(f"{ADMIN}appeal/", {**form, "apply": "1",
                                                     "reason": "The guideline says B."})
    assert response.status_code == 302
    form = {"action": "uphold_appeals", ACTION_CHECKBOX_NAME: [a.pk for a in appeals]}
    admin_client.post(f"{ADMIN}appeal/", {**form, "apply": "1", "reason": "A was right."})
    decided = {a.pk: (a.status, a.decision_reason) for a in Appeal.objects.all()}
    assert decided == {appeals[0].pk: ("denied", "The guideline says B."),
                       appeals[1].pk: ("upheld", "A was right.")}
