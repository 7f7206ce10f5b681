"""Qualification tests: writing one, drawing an attempt, the clock, scoring, qualifying and the
trust a passed test brings."""

import json
import random
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import Domain, Expertise
from config.exceptions import Conflict
from quality import jobs, qualifications
from quality.models import QualificationAttempt, QualificationTest, TrustScore
from tasks.routing import next_assignment
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
FIELDS = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"}]
QUESTIONS = [{"name": "better", "kind": "pairwise", "field": "completions"},
             {"name": "why", "kind": "text", "required": False}]


def items(n=6):
    return [{"data": {"prompt": f"Which is right {k}?",
                      "completions": [f"first {k}", f"second {k}"]},
             "gold": {"better": "A" if k % 2 == 0 else "B"}} for k in range(n)]


def gold_answers(attempt, wrong=0):
    """Answers to an attempt: all right except the first `wrong` items."""
    answers = {}
    for n, item in enumerate(attempt.items.order_by("pk")):
        right = item.gold["better"]
        answers[str(item.pk)] = {"better": ("B" if right == "A" else "A") if n < wrong
                                 else right}
    return answers


@pytest.fixture
def test(staff):
    return qualifications.create_qualification_test(
        user=staff, domain=Domain.objects.get(slug="medicine-cardiology"),
        name="Cardiology basics", fields=FIELDS, questions=QUESTIONS, items=items(),
        items_per_attempt=4, pass_mark="0.75", time_limit_s=600, retry_after_s=3600)


@pytest.fixture
def newcomer(db):
    return factories.expert(qualified=False)


class TestWritingTests:
    def test_schema_is_normalised_and_items_are_stored(self, test):
        assert test.items.count() == 6
        assert test.questions[0]["required"] is True
        assert test.questions[0]["strength"] is False

    def test_items_are_checked_by_position(self, staff):
        bad = items(2)
        bad[1]["gold"] = {"better": "C"}
        bad[0]["gold"] = {"why": "Because."}
        with pytest.raises(ValidationError) as excinfo:
            qualifications.create_qualification_test(
                user=staff, domain=Domain.objects.get(slug="medicine"), name="x",
                fields=FIELDS, questions=QUESTIONS, items=bad)
        problems = excinfo.value.message_dict["items"]
        assert problems[0].startswith("items[0].why: Text questions cannot have a gold")
        assert problems[1].startswith("items[1].better:")

    def test_only_operators_write_tests(self, expert):
        with pytest.raises(PermissionDenied):
            qualifications.create_qualification_test(
                user=expert, domain=Domain.objects.get(slug="medicine"), name="x",
                fields=FIELDS, questions=QUESTIONS, items=items(1))

    def test_over_http(self, staff, expert):
        body = {"domain": "medicine-oncology", "name": "Oncology", "fields": FIELDS,
                "questions": QUESTIONS, "items": items(3), "items_per_attempt": 2,
                "pass_mark": "0.5"}
        response = client_for(staff).post("/api/v1/qualifications/", body, format="json")
        assert response.status_code == 201, response.json()
        assert (response.json()["domain"], response.json()["items"]) == ("medicine-oncology", 3)
        assert "gold" not in json.dumps(response.json())
        assert client_for(expert).post("/api/v1/qualifications/", body,
                                       format="json").status_code == 403
        body["questions"] = [{"name": "better", "kind": "nope"}]
        assert client_for(staff).post("/api/v1/qualifications/", body,
                                      format="json").status_code == 400


class TestAttempts:
    def test_an_attempt_draws_items_without_gold(self, test, newcomer):
        client = client_for(newcomer)
        response = client.post(f"/api/v1/qualifications/{test.pk}/attempts/")
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["status"] == "in_progress" and len(body["items"]) == 4
        assert all(set(item) == {"id", "data"} for item in body["items"])
        assert [q["name"] for q in body["questions"]] == ["better", "why"]
        assert "gold" not in json.dumps(body)
        attempt = QualificationAttempt.objects.get()
        assert attempt.expires_at - attempt.started_at == timedelta(seconds=600)
        assert client.get(f"/api/v1/qualification-attempts/{attempt.pk}/").json()["items"] \
            == body["items"]

    def test_one_attempt_at_a_time(self, test, newcomer):
        client = client_for(newcomer)
        client.post(f"/api/v1/qualifications/{test.pk}/attempts/")
        response = client.post(f"/api/v1/qualifications/{test.pk}/attempts/")
        assert response.status_code == 409
        assert response.json()["code"] == "attempt_in_progress"

    def test_customers_and_unverified_experts_may_not(self, test, customer):
        for user in [customer, factories.expert(verified=False)]:
            response = client_for(user).post(f"/api/v1/qualifications/{test.pk}/attempts/")
            assert response.status_code == 403
        test.active = False
        test.save()
        response = client_for(factories.expert()).post(
            f"/api/v1/qualifications/{test.pk}/attempts/")
        assert response.status_code == 404

    def test_passing_qualifies_and_earns_trust(self, test, newcomer):
        attempt = qualifications.start_attempt(test_id=test.pk, user=newcomer)
        response = client_for(newcomer).post(
            f"/api/v1/qualification-attempts/{attempt.pk}/submit/",
            {"answers": gold_answers(attempt, wrong=1)}, format="json")
        assert response.status_code == 200, response.json()
        assert (response.json()["status"], response.json()["score"]) == ("passed", "0.7500")
        expertise = Expertise.objects.get(expert_id=newcomer.pk, domain=test.domain)
        assert (expertise.level, expertise.source) == ("qualified", "test")
        assert str(expertise.qualification_score) == "0.7500"
        domain_trust = TrustScore.objects.get(expert=newcomer, domain=test.domain)
        assert domain_trust.answers == 4
        assert domain_trust.mean == pytest.approx(5 / 8)
        assert float(expertise.trust) == pytest.approx(0.625)
        with pytest.raises(Conflict, match="passed this test already"):
            qualifications.start_attempt(test_id=test.pk, user=newcomer)

    def test_earned_trust_opens_projects_with_a_floor(self, test, newcomer, customer):
        project = factories.project(customer, items=2, min_trust="0.6")
        with pytest.raises(PermissionDenied):
            next_assignment(newcomer, project)
        attempt = qualifications.start_attempt(test_id=test.pk, user=newcomer)
        qualifications.submit_attempt(attempt_id=attempt.pk, user=newcomer,
                                answers=gold_answers(attempt))
        assert next_assignment(newcomer, project).assignment is not None

    def test_answers_are_checked_all_or_nothing(self, test, newcomer):
        attempt = qualifications.start_attempt(test_id=test.pk, user=newcomer)
        answers = gold_answers(attempt)
        first, second, *_ = answers
        answers[first] = {"better": "C"}
        del answers[second]
        answers["999999"] = {"better": "A"}
        response = client_for(newcomer).post(
            f"/api/v1/qualification-attempts/{attempt.pk}/submit/", {"answers": answers},
            format="json")
        assert response.status_code == 400
        problems = response.json()["answers"]
        assert problems[0] == "item 999999: not part of this attempt"
        assert any(p.startswith(f"item {first}: better:") for p in problems)
        assert f"item {second}: no answer" in problems
        attempt.refresh_from_db()
        assert attempt.status == "in_progress"

    def test_failing_waits_before_a_retry_with_unseen_items_first(self, test, newcomer):
        client = client_for(newcomer)
        attempt = qualifications.start_attempt(test_id=test.pk, user=newcomer,
                                         rng=random.Random(1))
        first_items = set(attempt.items.values_list("pk", flat=True))
        qualifications.submit_attempt(attempt_id=attempt.pk, user=newcomer,
                                answers=gold_answers(attempt, wrong=2))
        attempt.refresh_from_db()
        assert (attempt.status, str(attempt.score)) == ("failed", "0.5000")
        assert Expertise.objects.get(expert_id=newcomer.pk, domain=test.domain).level == \
            "claimed"
        [listed] = client.get("/api/v1/qualifications/?domain=medicine-cardiology").json()[
            "results"]
        assert listed["last_attempt"]["status"] == "failed"
        retry = attempt.submitted_at + timedelta(seconds=3600)
        assert listed["retry_at"] == retry.isoformat().replace("+00:00", "Z")
        response = client.post(f"/api/v1/qualifications/{test.pk}/attempts/")
        assert (response.status_code, response.json()["code"]) == (409, "retry_later")
        QualificationAttempt.objects.filter(pk=attempt.pk).update(
            submitted_at=timezone.now() - timedelta(seconds=3601))
        response = client.post(f"/api/v1/qualifications/{test.pk}/attempts/")
        assert response.status_code == 201
        second_items = {item["id"] for item in response.json()["items"]}
        # Six items, four a draw: the two unseen ones are always in the retry.
        assert set(test.items.values_list("pk", flat=True)) - first_items <= second_items

    def test_a_late_submission_expires_the_attempt(self, test, newcomer):
        attempt = qualifications.start_attempt(test_id=test.pk, user=newcomer)
        QualificationAttempt.objects.filter(pk=attempt.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1))
        response = client_for(newcomer).post(
            f"/api/v1/qualification-attempts/{attempt.pk}/submit/",
            {"answers": gold_answers(attempt)}, format="json")
        assert (response.status_code, response.json()["code"]) == (409, "expired")
        attempt.refresh_from_db()
        assert attempt.status == "expired"
        with pytest.raises(Conflict, match="retry"):
            qualifications.start_attempt(test_id=test.pk, user=newcomer)

    def test_the_job_expires_abandoned_attempts(self, test, newcomer):
        attempt = qualifications.start_attempt(test_id=test.pk, user=newcomer)
        assert jobs.expire_attempts() == 0
        QualificationAttempt.objects.filter(pk=attempt.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1))
        assert jobs.expire_attempts() == 1
        attempt.refresh_from_db()
        assert attempt.status == "expired"

    def test_other_experts_attempts_are_404(self, test, newcomer):
        attempt = qualifications.start_attempt(test_id=test.pk, user=newcomer)
        other = client_for(factories.expert())
        assert other.get(f"/api/v1/qualification-attempts/{attempt.pk}/").status_code == 404
        response = other.post(f"/api/v1/qualification-attempts/{attempt.pk}/submit/",
                              {"answers": {}}, format="json")
        assert response.status_code == 404


def test_the_list_shows_active_tests_by_domain(test, staff, expert):
    QualificationTest.objects.create(domain=test.domain, name="Retired", fields=FIELDS,
                                     questions=test.questions, active=False)
    client = client_for(expert)
    listed = client.get("/api/v1/qualifications/").json()["results"]
    assert [(t["name"], t["items"], t["last_attempt"], t["retry_at"]) for t in listed] == [
        ("Cardiology basics", 6, None, None)]
    assert client.get("/api/v1/qualifications/?domain=law").json()["count"] == 0
