import csv
import io
import json
import random

import pytest
from django.http import StreamingHttpResponse
from rest_framework.test import APIClient

from accounts.models import Membership
from tasks import export, services
from tasks.models import Annotation, Item
from tasks.routing import next_assignment
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

RAW_KEYS = {"annotation_id", "item_id", "external_id", "is_gold", "expert", "status",
            "duration_s", "submitted_at", "reviewer_fixed", "answer"}


def work(expert, project, answer, seed=0):
    assignment = next_assignment(expert, project, rng=random.Random(seed)).assignment
    assert assignment is not None, "routing had nothing to lease"
    return services.submit(assignment_id=assignment.pk, user=expert, answer=answer(assignment))


def download(client, project, **query):
    response = client.get(f"/api/v1/projects/{project.pk}/export/", query)
    assert response.status_code == 200, response.content
    assert isinstance(response, StreamingHttpResponse)
    return response, b"".join(response.streaming_content).decode()


def jsonl(client, project, view):
    response, body = download(client, project, view=view, format="jsonl")
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="project-{project.pk}-{view}.jsonl"')
    assert body == "" or body.endswith("\n")
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def preference(customer):
    """Two items answered twice and one gold item answered by both experts: the first expert
    prefers A, the second B, except on the second item, where the second expert calls it a tie.
    """
    project = factories.project(customer, items=2, gold=1, overlap=2, gold_rate="1")
    first, second = factories.expert(), factories.expert()
    for expert in (first, second):
        for _ in range(3):
            def answer(assignment, expert=expert):
                if expert == first:
                    return {"better": "A", "rewrite": ""}
                tie = assignment.item.external_id == "item-1"
                return {"better": "tie" if tie else "B"}
            work(expert, project, answer)
    return project, first, second


def test_raw_lists_every_annotation_with_gold_flagged(customer, preference):
    project, *_ = preference
    rows = jsonl(client_for(customer), project, "raw")
    assert len(rows) == 6
    assert all(set(row) == RAW_KEYS for row in rows)
    assert [row["annotation_id"] for row in rows] == sorted(
        Annotation.objects.filter(project=project).values_list("pk", flat=True))
    gold = [row for row in rows if row["is_gold"]]
    assert {row["external_id"] for row in gold} == {"gold-0"} and len(gold) == 2
    assert {row["external_id"] for row in rows if not row["is_gold"]} == {"item-0", "item-1"}
    for row in rows:
        assert row["status"] == "submitted"
        assert isinstance(row["duration_s"], float) and row["duration_s"] >= 0
        assert row["submitted_at"].startswith("20")
        assert row["reviewer_fixed"] is False
        assert row["answer"]["better"] in {"A", "B", "tie"}


def test_pseudonyms_are_stable_per_project_and_differ_between_experts(customer, preference):
    project, first, second = preference
    client = client_for(customer)
    rows = jsonl(client, project, "raw")
    again = jsonl(client, project, "raw")
    assert [row["expert"] for row in rows] == [row["expert"] for row in again]
    by_answer = {row["answer"]["better"]: row["expert"] for row in rows}
    assert by_answer["A"] == export.expert_pseudonym(project.pk, first.pk)
    assert by_answer["B"] == export.expert_pseudonym(project.pk, second.pk)
    assert len({row["expert"] for row in rows}) == 2
    pseudonym = by_answer["A"]
    assert pseudonym.startswith("expert-") and len(pseudonym) == len("expert-") + 12
    assert first.username not in json.dumps(rows) and second.username not in json.dumps(rows)
    other = factories.project(customer, items=1)
    assert export.expert_pseudonym(other.pk, first.pk) != pseudonym


def test_pseudonyms_depend_on_the_secret_key(settings):
    before = export.expert_pseudonym(1, 2)
    settings.SECRET_KEY = "another secret"
    assert export.expert_pseudonym(1, 2) != before


def test_raw_shows_the_reviewers_fix_and_rejected_work(customer, preference):
    project, first, _ = preference
    fixed, rejected = Annotation.objects.filter(project=project, expert=first,
                                                item__is_gold=False).order_by("id")
    Annotation.objects.filter(pk=fixed.pk).update(final_answer={"better": "B"})
    services.reject_assignment(rejected.assignment)
    rows = {row["annotation_id"]: row for row in jsonl(client_for(customer), project, "raw")}
    assert rows[fixed.pk]["answer"] == {"better": "B"} and rows[fixed.pk]["reviewer_fixed"]
    assert rows[rejected.pk]["status"] == "rejected"


def test_raw_as_csv_has_a_header_and_json_cells(customer, preference):
    project, *_ = preference
    response, body = download(client_for(customer), project, view="raw", format="csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="project-{project.pk}-raw.csv"')
    reader = csv.DictReader(io.StringIO(body))
    assert reader.fieldnames == list(export.VIEWS["raw"].columns)
    rows = list(reader)
    assert len(rows) == 6
    assert {row["is_gold"] for row in rows} == {"true", "false"}
    assert sum(row["is_gold"] == "true" for row in rows) == 2
    for row in rows:
        assert json.loads(row["answer"])["better"] in {"A", "B", "tie"}
        assert row["expert"].startswith("expert-")
        assert float(row["duration_s"]) >= 0
        assert row["reviewer_fixed"] == "false"


def test_dpo_pairs_follow_pairwise_choices_and_leave_out_ties_and_gold(customer, preference):
    project, *_ = preference
    rows = list(export.dpo_rows(project))
    assert all(set(row) == {"prompt", "chosen", "rejected"} for row in rows)
    assert sorted((row["prompt"], row["chosen"], row["rejected"]) for row in rows) == [
        ("Question 0?", "Answer A0", "Answer B0"),
        ("Question 0?", "Answer B0", "Answer A0"),
        ("Question 1?", "Answer A1", "Answer B1"),
    ]


def test_dpo_as_csv(customer, preference):
    project, *_ = preference
    body = b"".join(export.stream(export.dpo_rows(project), ["prompt", "chosen", "rejected"],
                                  "csv")).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["prompt", "chosen", "rejected"]
    assert len(rows) == 4
    assert ["Question 1?", "Answer A1", "Answer B1"] in rows


def conversation_project(customer, *, questions):
    project = factories.project(
        customer, preset=None, activate=False, overlap=1,
        fields=[{"name": "conversation", "type": "messages"},
                {"name": "completions", "type": "text_list"}],
        questions=questions)
    turns = [{"role": "system", "content": "You are a cardiologist."},
             {"role": "user", "content": "Is this ECG normal?"}]
    Item.objects.bulk_create([
        Item(project=project, external_id="c-0", overlap=1,
             data={"conversation": turns, "completions": ["Yes.", "No.", "Unclear."]}),
        Item(project=project, external_id="c-gold", overlap=1, is_gold=True,
             gold={"order": [0, 1, 2]},
             data={"conversation": turns, "completions": ["Yes.", "No.", "Unclear."]}),
    ])
    services.transition_project(user=customer, project=project, action="activate")
    return project, turns


def test_dpo_from_a_ranking_pairs_the_best_with_each_other_in_chat_form(customer):
    project, turns = conversation_project(
        customer, questions=[{"name": "order", "kind": "ranking", "field": "completions"},
                             {"name": "answer", "kind": "text", "required": False}])
    work(factories.expert(), project, lambda a: {"order": [2, 0, 1]})
    rows = list(export.dpo_rows(project))
    assert rows == [
        {"prompt": turns, "chosen": [{"role": "assistant", "content": "Unclear."}],
         "rejected": [{"role": "assistant", "content": "Yes."}]},
        {"prompt": turns, "chosen": [{"role": "assistant", "content": "Unclear."}],
         "rejected": [{"role": "assistant", "content": "No."}]},
    ]


def test_sft_continues_a_messages_field_with_the_experts_answer(customer):
    project, turns = conversation_project(
        customer, questions=[{"name": "order", "kind": "ranking", "field": "completions"},
                             {"name": "answer", "kind": "text", "required": False}])
    work(factories.expert(), project,
         lambda a: {"order": [0, 1, 2], "answer": "Sinus rhythm, normal axis."})
    assert list(export.sft_rows(project)) == [
        {"messages": [*turns, {"role": "assistant", "content": "Sinus rhythm, normal axis."}]}]


@pytest.fixture
def sft(customer):
    project = factories.project(customer, preset="sft", items=3, gold=1, gold_rate="1")
    experts = [factories.expert() for _ in range(2)]
    for expert in experts:
        for _ in range(2):
            work(expert, project, lambda a, e=expert: {
                "response": f"{e.username} on {a.item.external_id}"})
    return project, experts


def test_sft_rows_are_chat_messages_of_counted_non_gold_work(customer, sft):
    project, (first, second) = sft
    first_item = Annotation.objects.filter(expert=first, item__is_gold=False).get()
    Annotation.objects.filter(pk=first_item.pk).update(final_answer={"response": "Fixed."})
    second_item = Annotation.objects.filter(expert=second, item__is_gold=False).get()
    services.reject_assignment(second_item.assignment)
    rows = list(export.sft_rows(project))
    assert rows == [{"messages": [
        {"role": "user", "content": f"Question {first_item.item.external_id[-1]}?"},
        {"role": "assistant", "content": "Fixed."},
    ]}]
    raw = jsonl(client_for(customer), project, "raw")
    assert sum(row["is_gold"] for row in raw) == 2


def test_sft_as_csv_holds_the_messages_as_json(customer, sft):
    project, _ = sft
    body = b"".join(export.stream(export.sft_rows(project), ["messages"], "csv")).decode()
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header == ["messages"]
    assert len(rows) == 2
    for (cell,) in rows:
        user, assistant = json.loads(cell)
        assert user["role"] == "user" and user["content"].startswith("Question ")
        assert assistant["role"] == "assistant" and " on item-" in assistant["content"]


def test_sft_skips_blank_optional_answers(customer, preference):
    project, *_ = preference
    assert jsonl(client_for(customer), project, "sft") == []


def test_views_a_project_cannot_produce_answer_400_naming_view(customer):
    project = factories.project(
        customer, preset=None, items=1,
        fields=[{"name": "prompt", "type": "text"}, {"name": "completions",
                                                     "type": "text_list"}],
        questions=[{"name": "better", "kind": "pairwise"}])
    client = client_for(customer)
    response = client.get(f"/api/v1/projects/{project.pk}/export/", {"view": "sft"})
    assert response.status_code == 400
    assert "text question" in response.json()["view"][0]
    rubric = factories.project(customer, preset="rubric", items=0, activate=False)
    response = client.get(f"/api/v1/projects/{rubric.pk}/export/", {"view": "dpo"})
    assert response.status_code == 400 and "pairwise or ranking" in response.json()["view"][0]


def test_unknown_view_and_format_answer_400_in_json(customer):
    project = factories.project(customer, items=1)
    client = client_for(customer)
    response = client.get(f"/api/v1/projects/{project.pk}/export/",
                          {"view": "everything", "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "everything" in response.json()["view"][0]
    response = client.get(f"/api/v1/projects/{project.pk}/export/", {"format": "xlsx"})
    assert response.status_code == 400 and set(response.json()) == {"format"}


def test_defaults_are_raw_jsonl(customer, preference):
    project, *_ = preference
    response, body = download(client_for(customer), project)
    assert response["Content-Disposition"].endswith('raw.jsonl"')
    assert len(body.splitlines()) == 6


def test_another_app_registers_a_view(customer, monkeypatch):
    monkeypatch.setattr(export, "VIEWS", dict(export.VIEWS))

    @export.register_view("labels", columns=["external_id", "label"])
    def label_rows(project):
        return ({"external_id": item.external_id, "label": "A"}
                for item in project.items.iterator())

    export.register_view("labels", columns=["external_id", "label"])(label_rows)
    with pytest.raises(ValueError, match="already registered"):
        export.register_view("labels", columns=[])(export.raw_rows)
    project = factories.project(customer, items=2)
    rows = jsonl(client_for(customer), project, "labels")
    assert rows == [{"external_id": "item-0", "label": "A"},
                    {"external_id": "item-1", "label": "A"}]
    _, body = download(client_for(customer), project, view="labels", format="csv")
    assert body.splitlines() == ["external_id,label", "item-0,A", "item-1,A"]


def test_rows_are_produced_lazily_and_sent_in_chunks(customer, preference, monkeypatch):
    project, *_ = preference
    rows = export.VIEWS["raw"].rows(project)
    assert iter(rows) is rows, "a view hands back a generator, not a list"
    monkeypatch.setattr(export, "STREAM_CHUNK_BYTES", 1)
    chunks = list(export.stream(export.VIEWS["raw"].rows(project),
                                export.VIEWS["raw"].columns, "csv"))
    assert len(chunks) == 7, "the header and each row leave as soon as they are encoded"


def test_every_member_and_staff_may_export_but_no_one_else(customer, other_customer, staff,
                                                           expert):
    project = factories.project(customer, items=1)
    url = f"/api/v1/projects/{project.pk}/export/"
    organization = factories.organization_of(customer)
    for role in Membership.Role.values:
        member = factories.member(organization, role=role)
        assert client_for(member).get(url).status_code == 200, role
    assert client_for(staff).get(url).status_code == 200
    assert client_for(other_customer).get(url).status_code == 404
    assert client_for(expert).get(url).status_code == 404
    assert client_for(customer).get("/api/v1/projects/999999/export/").status_code == 404
    assert APIClient().get(url).status_code == 401


@pytest.mark.postgres
def test_export_streams_from_a_server_side_cursor_on_postgresql(customer, monkeypatch):
    project = factories.project(customer, items=30, overlap=1)
    expert = factories.expert()
    for _ in range(5):
        work(expert, project, lambda a: {"better": "A"})
    monkeypatch.setattr(export, "CHUNK_SIZE", 2)
    assert len(jsonl(client_for(customer), project, "raw")) == 5
    assert len(jsonl(client_for(customer), project, "dpo")) == 5
