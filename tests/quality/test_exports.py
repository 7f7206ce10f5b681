"""The consensus export and the consensus-based dpo and sft views over HTTP."""

import csv
import io
import json

import pytest
from django.utils import timezone

from quality.models import Review
from tasks.models import Annotation, Assignment, Item
from tests import factories
from tests.conftest import client_for
from tests.quality.test_report import answer, make_project

pytestmark = pytest.mark.django_db

PREFERENCE = [{"name": "prompt", "type": "text"}, {"name": "completions", "type": "text_list"}]


def download(client, project, **query):
    response = client.get(f"/api/v1/projects/{project.pk}/export/", query)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


def jsonl(client, project, view, **query):
    body = download(client, project, view=view, format="jsonl", **query)
    return [json.loads(line) for line in body.splitlines()]


def preference_item(project, n, **extra):
    return Item.objects.create(project=project, external_id=f"q-{n}", overlap=3,
                               data={"prompt": f"Question {n}?",
                                     "completions": [f"A{n}", f"B{n}"]}, **extra)


@pytest.fixture
def preference(customer):
    """Unanimous A, a 2-1 vote for B, a tie, an unanswered item and a gold item."""
    project = make_project(customer, [
        {"name": "better", "kind": "pairwise", "field": "completions"},
        {"name": "rewrite", "kind": "text", "required": False}], PREFERENCE)
    experts = [factories.expert() for _ in range(3)]
    votes = [["A", "A", "A"], ["B", "B", "A"], ["A", "B"], []]
    for n, choices in enumerate(votes):
        item = preference_item(project, n)
        for expert, choice in zip(experts, choices, strict=False):
            answer(project, item, expert, {"better": choice})
    gold = preference_item(project, 9, is_gold=True, gold={"better": "B"})
    for expert in experts:
        answer(project, gold, expert, {"better": "B"})
    return project, experts


def test_consensus_has_one_row_per_item_with_gold_flagged(customer, preference):
    project, _ = preference
    rows = {row["external_id"]: row for row in jsonl(client_for(customer), project,
                                                     "consensus")}
    assert list(rows) == ["q-0", "q-1", "q-2", "q-3", "q-9"]
    assert [rows[k]["is_gold"] for k in rows] == [False] * 4 + [True]
    first = rows["q-0"]
    assert first["data"] == {"prompt": "Question 0?", "completions": ["A0", "B0"]}
    better = first["consensus"]["better"]
    assert better["answer"] == "A" and better["method"] == "bradley_terry"
    assert better["confidence"] == pytest.approx(4 / 5)
    assert (better["agreement"], better["annotations"]) == (1.0, 3)
    assert rows["q-2"]["consensus"]["better"]["answer"] == "tie"
    assert rows["q-3"]["consensus"]["better"]["answer"] is None
    assert rows["q-3"]["consensus"]["rewrite"]["annotations"] == 0


def test_consensus_as_csv(customer, preference):
    project, _ = preference
    body = download(client_for(customer), project, view="consensus", format="csv")
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header == ["external_id", "is_gold", "data", "consensus"]
    assert len(rows) == 5
    assert json.loads(rows[1][3])["better"]["answer"] == "B"


def test_dpo_pairs_come_from_consensus_above_the_margin(customer, preference):
    project, _ = preference
    client = client_for(customer)
    rows = jsonl(client, project, "dpo")
    # Unanimous A: 4/5; two B to one A: 3/5, exactly the default margin; a tie: no pair.
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        ("Question 0?", "A0", "B0"), ("Question 1?", "B1", "A1")]
    assert [r["margin"] for r in rows] == [pytest.approx(0.8), pytest.approx(0.6)]
    assert len(jsonl(client, project, "dpo", min_margin="0.7")) == 1
    assert len(jsonl(client, project, "dpo", min_margin="0")) == 2


def test_dpo_follows_a_reviewers_fix(customer, preference):
    project, _ = preference
    fixed = Annotation.objects.filter(item__external_id="q-2").first()
    Annotation.objects.filter(pk=fixed.pk).update(final_answer={"better": "B"})
    rows = jsonl(client_for(customer), project, "dpo", min_margin="0.99")
    assert [(r["chosen"], r["rejected"], r["margin"]) for r in rows] == [("B2", "A2", 1.0)]


def test_dpo_margin_must_be_a_share(customer, preference):
    project, _ = preference
    for bad in ("2", "-0.1", "lots", "nan"):
        response = client_for(customer).get(f"/api/v1/projects/{project.pk}/export/",
                                            {"view": "dpo", "min_margin": bad})
        assert response.status_code == 400, bad
        assert "min_margin" in response.json()


def test_dpo_from_rankings_pairs_the_best_with_the_others_it_surely_beats(customer):
    project = make_project(customer, [{"name": "order", "kind": "ranking",
                                       "field": "completions"}], PREFERENCE)
    item = Item.objects.create(project=project, external_id="r", overlap=3,
                               data={"prompt": "Rank", "completions": ["x", "y", "z"]})
    for order in ([2, 0, 1], [2, 0, 1], [2, 1, 0]):
        answer(project, item, factories.expert(), {"order": order})
    rows = jsonl(client_for(customer), project, "dpo", min_margin="0")
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("z", "x"), ("z", "y")]
    assert all(0.5 < r["margin"] < 1 for r in rows)


def review(annotation, verdict, *, when=None):
    Review.objects.create(annotation=annotation, project=annotation.project, reason="sample",
                          verdict=verdict, decided_at=when or timezone.now())


def sft_project(customer, review_rate):
    project = make_project(customer, [{"name": "response", "kind": "text"}],
                           [{"name": "prompt", "type": "text"}])
    project.review_rate = review_rate
    project.save(update_fields=["review_rate"])
    expert = factories.expert()
    annotations = []
    for n in range(4):
        item = Item.objects.create(project=project, external_id=f"s{n}", overlap=1,
                                   data={"prompt": f"Prompt {n}"})
        annotations.append(answer(project, item, expert, {"response": f"Answer {n}"},
                                  status=Assignment.Status.SUBMITTED))
    return project, annotations


def texts(client, project):
    return [row["messages"][-1]["content"] for row in jsonl(client, project, "sft")]


def test_sft_takes_the_texts_reviewers_accepted_or_fixed(customer):
    project, (accepted, fixed, rejected_later, _) = sft_project(customer, "0.5")
    review(accepted, "accept")
    review(fixed, "fix")
    Annotation.objects.filter(pk=fixed.pk).update(final_answer={"response": "Fixed 1"})
    earlier = timezone.now() - timezone.timedelta(hours=1)
    review(rejected_later, "accept", when=earlier)
    review(rejected_later, "reject")
    rows = jsonl(client_for(customer), project, "sft")
    assert rows[0] == {"messages": [{"role": "user", "content": "Prompt 0"},
                                    {"role": "assistant", "content": "Answer 0"}]}
    assert texts(client_for(customer), project) == ["Answer 0", "Fixed 1"]


def test_sft_without_review_sampling_takes_approved_texts(customer):
    project, (approved, *_) = sft_project(customer, "0")
    Assignment.objects.filter(pk=approved.assignment_id).update(
        status=Assignment.Status.APPROVED)
    assert texts(client_for(customer), project) == ["Answer 0"]
