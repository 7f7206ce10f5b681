"""Qualification tests in the browser's pages: the list, an attempt's form, the result, the
clock, and gold kept out."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Domain, Expertise
from quality import qualifications
from quality.models import QualificationAttempt
from tests import factories
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db
LIST_URL = "/workspace/qualifications/"
FIELDS = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"},
          {"name": "passage", "type": "text"}, {"name": "context", "type": "json"}]
QUESTIONS = [
    {"name": "better", "kind": "pairwise", "field": "completions", "strength": True},
    {"name": "order", "kind": "ranking", "field": "completions"},
    {"name": "verdict", "kind": "label", "options": ["correct", "wrong"]},
    {"name": "tags", "kind": "multi_label", "options": ["dosage", "diagnosis"],
     "required": False},
    {"name": "confidence", "kind": "rating", "min": 1, "max": 3, "labels": {"3": "sure"}},
    {"name": "drugs", "kind": "spans", "field": "passage", "options": ["drug"],
     "required": False},
    {"name": "why", "kind": "text", "required": False},
]


def items(n: int = 5) -> list[dict]:
    return [{"data": {"prompt": f"Which answer is right {k}?",
                      "completions": [f"first {k}", f"second {k}", f"third {k}"],
                      "passage": f"Give aspirin {k} mg.", "context": {"case": k}},
             "gold": {"better": {"choice": "A", "strength": 2}, "order": [0, 1, 2],
                      "verdict": "correct", "confidence": 3}} for k in range(n)]


def make_test(staff, slug: str = "medicine-cardiology", **options):
    settings = {"items_per_attempt": 3, "pass_mark": "0.75", "time_limit_s": 600,
                "retry_after_s": 3600, **options}
    return qualifications.create_qualification_test(
        user=staff, domain=Domain.objects.get(slug=slug), name=f"{slug} basics",
        instructions="Answer carefully.", fields=FIELDS,
        questions=QUESTIONS, items=items(), **settings)


@pytest.fixture
def newcomer():
    return factories.expert(qualified=False)


def right_answers(attempt, *, wrong: int = 0) -> dict:
    """The form's fields answered as the gold says, except the first `wrong` items."""
    data = {}
    for n, item in enumerate(attempt.items.order_by("pk")):
        prefix = f"a-{item.pk}-"
        data[prefix + "better"] = "B" if n < wrong else "A"
        data[prefix + "better-strength"] = "2"
        for index in range(3):
            data[f"{prefix}order-{index}"] = str(index + 1)
        data[prefix + "verdict"] = "wrong" if n < wrong else "correct"
        data[prefix + "tags"] = ["dosage"]
        data[prefix + "confidence"] = "3"
        data[prefix + "drugs"] = '[{"start": 5, "end": 12, "label": "drug"}]'
    return data


def test_the_list_puts_the_experts_domains_first_with_their_standing(
        staff, newcomer, django_assert_max_num_queries):
    mine = make_test(staff)
    for slug in ("law-tax", "physics-quantum", "finance-risk"):
        make_test(staff, slug)
    other = make_test(staff, "law-contracts")
    QualificationAttempt.objects.create(test=other, expert=newcomer, status="failed",
                                        score="0.5", started_at=timezone.now(),
                                        submitted_at=timezone.now(),
                                        expires_at=timezone.now() + timedelta(minutes=5))
    client = signed_in(newcomer)
    with django_assert_max_num_queries(10):
        response = client.get(LIST_URL)
    text = response.text
    assert response.status_code == 200
    assert text.index(mine.name) < text.index("Other domains") < text.index(other.name)
    assert "Claimed" in text
    assert re.search(r"Failed</span> 50%", text)
    assert "Retry from" in text
    assert text.count("Start test") == 4


def test_customers_may_not_and_unverified_experts_are_told_why(staff, customer):
    make_test(staff)
    assert signed_in(customer).get(LIST_URL).status_code == 403
    pending = factories.expert(verified=False, qualified=False)
    response = signed_in(pending).get(LIST_URL)
    assert "once an operator has verified your account" in response.text
    assert "Start test" not in response.text


def test_an_attempt_shows_items_and_a_countdown_but_never_gold(staff, newcomer,
                                                               django_assert_max_num_queries):
    test = make_test(staff)
    client = signed_in(newcomer)
    response = client.post(f"/workspace/qualifications/{test.pk}/start/")
    attempt = QualificationAttempt.objects.get(expert=newcomer)
    assert response.url == f"/workspace/qualifications/attempts/{attempt.pk}/"
    with django_assert_max_num_queries(8):
        page = client.get(response.url)
    text = page.text
    assert 'id="countdown"' in text and 'data-remaining="' in text
    assert re.search(r'id="countdown-value">(10:00|9:5\d)<', text)
    assert text.count('class="module ws-item"') == 3
    for item in attempt.items.all():
        assert item.data["completions"][0] in text
    assert "&quot;case&quot;" in text
    for gold_value in ('"strength": 2', "[0, 1, 2]", "&quot;strength&quot;"):
        assert gold_value not in text


def test_submitting_right_answers_qualifies_and_shows_the_result(staff, newcomer):
    test = make_test(staff)
    client = signed_in(newcomer)
    client.post(f"/workspace/qualifications/{test.pk}/start/")
    attempt = QualificationAttempt.objects.get(expert=newcomer)
    url = f"/workspace/qualifications/attempts/{attempt.pk}/"
    response = client.post(url, right_answers(attempt), follow=True)
    assert "Passed" in response.text and "qualified in Cardiology" in response.text
    attempt.refresh_from_db()
    assert attempt.status == "passed"
    answer = next(iter(attempt.answers.values()))
    assert answer["better"] == {"choice": "A", "strength": 2}
    assert answer["order"] == [0, 1, 2]
    assert answer["drugs"] == [{"start": 5, "end": 12, "label": "drug"}]
    assert Expertise.objects.get(expert__user=newcomer,
                                 domain__slug="medicine-cardiology").level == "qualified"
    assert "Start test" not in client.get(LIST_URL).text


def test_failing_shows_the_score_and_when_to_retry(staff, newcomer):
    test = make_test(staff)
    client = signed_in(newcomer)
    client.post(f"/workspace/qualifications/{test.pk}/start/")
    attempt = QualificationAttempt.objects.get(expert=newcomer)
    response = client.post(f"/workspace/qualifications/attempts/{attempt.pk}/",
                           right_answers(attempt, wrong=3), follow=True)
    assert "Not passed" in response.text and "try again from" in response.text
    refused = client.post(f"/workspace/qualifications/{test.pk}/start/", follow=True)
    assert "You may retry this test from" in refused.text


@pytest.mark.parametrize(("field", "value", "message"), [
    ("verdict", "", "This field is required."),
    ("verdict", "maybe", "Select a valid choice."),
    ("order-1", "1", "Give each entry its own place"),
    ("drugs", "[{not json", "could not be read"),
    ("drugs", '[{"start": 0, "end": 999, "label": "drug"}]', "end &lt;="),
])
def test_bad_answers_are_named_and_nothing_is_graded(staff, newcomer, field, value, message):
    test = make_test(staff)
    client = signed_in(newcomer)
    client.post(f"/workspace/qualifications/{test.pk}/start/")
    attempt = QualificationAttempt.objects.get(expert=newcomer)
    data = right_answers(attempt)
    first = attempt.items.order_by("pk").first()
    data[f"a-{first.pk}-{field}"] = value
    response = client.post(f"/workspace/qualifications/attempts/{attempt.pk}/", data)
    assert response.status_code == 200
    assert message in response.text
    attempt.refresh_from_db()
    assert attempt.status == "in_progress" and attempt.score is None


def test_an_attempt_past_its_time_is_explained_and_refused(staff, newcomer):
    test = make_test(staff)
    client = signed_in(newcomer)
    client.post(f"/workspace/qualifications/{test.pk}/start/")
    attempt = QualificationAttempt.objects.get(expert=newcomer)
    answers = right_answers(attempt)
    QualificationAttempt.objects.filter(pk=attempt.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    url = f"/workspace/qualifications/attempts/{attempt.pk}/"
    response = client.post(url, answers, follow=True)
    assert "The time for this attempt ran out" in response.text
    assert "Time ran out" in response.text and "counts as not passed" in response.text
    attempt.refresh_from_db()
    assert attempt.status == "expired" and attempt.score is None
    assert not Expertise.objects.filter(expert__user=newcomer, level="qualified").exists()
    assert "Time ran out" in client.get(LIST_URL).text


def test_another_experts_attempt_answers_404(staff, newcomer):
    test = make_test(staff)
    signed_in(newcomer).post(f"/workspace/qualifications/{test.pk}/start/")
    attempt = QualificationAttempt.objects.get(expert=newcomer)
    someone = signed_in(factories.expert(qualified=False))
    url = f"/workspace/qualifications/attempts/{attempt.pk}/"
    assert someone.get(url).status_code == 404
    assert someone.post(url, right_answers(attempt)).status_code == 404
    attempt.refresh_from_db()
    assert attempt.status == "in_progress"


def test_starting_twice_continues_the_running_attempt(staff, newcomer):
    test = make_test(staff)
    client = signed_in(newcomer)
    client.post(f"/workspace/qualifications/{test.pk}/start/")
    again = client.post(f"/workspace/qualifications/{test.pk}/start/", follow=True)
    assert "You have an attempt in progress" in again.text
    assert "Continue" in again.text
    assert QualificationAttempt.objects.filter(expert=newcomer).count() == 1


def test_after_the_wait_a_failed_test_may_be_taken_again(staff, newcomer):
    test = make_test(staff)
    client = signed_in(newcomer)
    client.post(f"/workspace/qualifications/{test.pk}/start/")
    attempt = QualificationAttempt.objects.get(expert=newcomer)
    client.post(f"/workspace/qualifications/attempts/{attempt.pk}/",
                right_answers(attempt, wrong=3))
    QualificationAttempt.objects.filter(pk=attempt.pk).update(
        submitted_at=timezone.now() - timedelta(hours=2))
    assert "You may try again now" in client.get(
        f"/workspace/qualifications/attempts/{attempt.pk}/").text
    assert "Try again" in client.get(LIST_URL).text
    client.post(f"/workspace/qualifications/{test.pk}/start/")
    assert QualificationAttempt.objects.filter(expert=newcomer).count() == 2
