"""POST /api/v1/projects/{id}/batches/ and GET /api/v1/batches/{id}/."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_q.conf import Conf

from accounts.models import Membership
from tasks.models import Batch, Item, Project
from tasks.schema import PRESETS
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def item(n, **extra):
    return {"external_id": f"q-{n}", "data": factories.preference_data(n), **extra}


def jsonl(rows) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def csv_of(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["external_id", "prompt", "completions", "gold"])
    for row in rows:
        writer.writerow([row["external_id"], row["data"]["prompt"],
                         json.dumps(row["data"]["completions"]),
                         json.dumps(row["gold"]) if "gold" in row else ""])
    return out.getvalue().encode()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def project(customer):
    return factories.project(customer, activate=False, overlap=3, max_overlap=3)


@pytest.fixture
def owner(customer):
    return client_for(customer)


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/batches/"


def post_json(client, project, rows, **headers):
    return client.post(url(project), rows, format="json", headers=headers)


def post_file(client, project, name: str, content: bytes, **headers):
    return client.post(url(project), {"file": SimpleUploadedFile(name, content)},
                       format="multipart", headers=headers)


def items_of(project) -> int:
    return Item.objects.filter(project=project).count()


def test_a_json_array_body_is_stored_and_answered_201(owner, project):
    response = post_json(owner, project, [item(1), item(2, gold={"better": "B"}, priority=2)])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {"id", "created", "existing"} <= set(body)
    assert (body["status"], body["rows"], body["created"], body["existing"]) == ("done", 2, 2, 0)
    assert body["errors"] == []
    gold = Item.objects.get(project=project, external_id="q-2")
    assert (gold.is_gold, gold.gold, gold.priority, gold.overlap) == (True, {"better": "B"}, 2, 3)


@pytest.mark.parametrize(("name", "content"), [
    ("items.jsonl", jsonl([item(1), item(2)])),
    ("items.JSON", json.dumps([item(1), item(2)]).encode()),
    ("items.csv", csv_of([item(1), item(2)])),
])
def test_every_file_format_is_accepted(owner, project, name, content):
    response = post_file(owner, project, name, content)
    assert response.status_code == 201, response.json()
    assert (response.json()["created"], response.json()["filename"]) == (2, name)
    assert items_of(project) == 2


def test_a_large_file_is_saved_to_disk_by_django_and_still_streamed(settings, owner, project):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = post_file(owner, project, "items.jsonl", jsonl([item(n) for n in range(50)]))
    assert response.status_code == 201
    assert items_of(project) == 50


def test_bad_rows_answer_400_with_row_errors_and_store_nothing(owner, project):
    rows = [item(1), {"external_id": "q-2", "data": {"prompt": "x", "completions": ["a"]}},
            item(3, gold={"better": "maybe"}), item(1)]
    response = post_json(owner, project, rows)
    assert response.status_code == 400
    assert response.json() == {"errors": [
        {"row": 2, "field": "completions", "message": "Needs at least 2 entries because "
                                                      "question 'better' compares them, got 1."},
        {"row": 3, "field": "gold.better", "message": 'Must be "A", "B" or "tie"; got "maybe".'},
        {"row": 4, "field": "external_id", "message": "Repeats the external_id of row 1."},
    ]}
    assert items_of(project) == 0
    assert Batch.objects.count() == 0


def test_a_row_naming_too_few_models_is_a_400_naming_the_row_and_field(customer, owner):
    fields = [*PRESETS["preference"]["fields"], {"name": "models", "type": "text_list"}]
    project = factories.project(customer, activate=False, fields=fields, questions=[
        {"name": "better", "kind": "pairwise", "field": "completions", "models": "models"}])
    named = {"prompt": "p", "completions": ["a", "b"], "models": ["m-1", "m-2"]}
    rows = [{"external_id": "q-1", "data": named},
            {"external_id": "q-2", "data": {**named, "models": ["m-1"]}}]
    response = post_json(owner, project, rows)
    assert response.status_code == 400
    assert response.json() == {"errors": [
        {"row": 2, "field": "models", "message": "Names 1 model but 'completions' has 2 "
                                                 "entries; question 'better' needs one model "
                                                 "per entry, in order."},
    ]}
    assert items_of(project) == 0
    assert post_json(owner, project, rows[:1]).status_code == 201


def test_csv_errors_count_data_rows_after_the_header(owner, project):
    content = csv_of([item(1), item(2)]) + b'q-3,Third,"[""a""]",\r\n'
    response = post_file(owner, project, "items.csv", content)
    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(3, "completions")]


def test_jsonl_errors_count_lines(owner, project):
    content = jsonl([item(1)]) + b"\n" + b"{broken\n"
    response = post_file(owner, project, "items.jsonl", content)
    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == 3


def test_a_body_that_is_not_an_array_is_a_row_zero_error(owner, project):
    response = post_json(owner, project, {"external_id": "q-1"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == 0
    response = owner.post(url(project), b"", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("The upload must be a JSON array")


def test_existing_external_ids_are_counted_not_changed(owner, project):
    post_json(owner, project, [item(1)])
    changed = {**item(1), "data": {"prompt": "Changed?", "completions": ["x", "y"]}}
    response = post_json(owner, project, [changed, item(2)])
    assert (response.json()["created"], response.json()["existing"]) == (1, 1)
    assert Item.objects.get(project=project, external_id="q-1").data["prompt"] == "Question 1?"


def test_an_idempotency_key_replays_the_first_answer(owner, project):
    first = post_json(owner, project, [item(1)], **{"Idempotency-Key": "upload-1"})
    again = post_json(owner, project, [item(1), item(2)], **{"Idempotency-Key": "upload-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert items_of(project) == 1
    other = post_json(owner, project, [item(1), item(2)], **{"Idempotency-Key": "upload-2"})
    assert other.json()["id"] != first.json()["id"]
    assert items_of(project) == 2


def test_an_idempotency_key_is_limited_in_length(owner, project):
    response = post_json(owner, project, [item(1)], **{"Idempotency-Key": "k" * 201})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_the_byte_limit_answers_413_before_reading(settings, owner, project):
    settings.BATCH_MAX_BYTES = 2000
    response = post_json(owner, project, [item(n) for n in range(40)])
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The upload is larger than 2,000 bytes")
    response = post_file(owner, project, "items.jsonl", jsonl([item(n) for n in range(40)]))
    assert response.status_code == 413
    assert items_of(project) == 0


def test_the_row_limit_answers_400_with_a_clear_message(settings, owner, project):
    settings.BATCH_MAX_ROWS = 2
    response = post_json(owner, project, [item(1), item(2), item(3)])
    assert response.status_code == 400
    assert response.json()["errors"] == [{
        "row": 3, "field": "non_field_errors",
        "message": "An upload holds at most 2 rows; split this one into several batches."}]
    assert items_of(project) == 0


def test_upload_requests_that_are_not_items(owner, project):
    response = post_file(owner, project, "items.txt", b"x")
    assert response.status_code == 400
    assert "Name the file .jsonl, .json or .csv" in response.json()["file"][0]
    response = owner.post(url(project), {"other": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()
    response = owner.post(url(project), b"a,b", content_type="text/csv")
    assert response.status_code == 415


def test_only_the_projects_organization_sees_it(api, project, other_customer):
    assert post_json(client_for(other_customer), project, [item(1)]).status_code == 404
    assert post_json(client_for(factories.expert()), project, [item(1)]).status_code == 404
    assert post_json(api, project, [item(1)]).status_code == 401
    assert items_of(project) == 0


@pytest.mark.parametrize(("role", "expected"), [
    (Membership.Role.ADMIN, 201), (Membership.Role.MEMBER, 201), (Membership.Role.QA_LEAD, 403),
])
def test_members_upload_but_qa_leads_do_not(project, role, expected):
    member = factories.member(project.organization, role=role)
    assert post_json(client_for(member), project, [item(1)]).status_code == expected


def test_staff_may_upload_to_any_project(staff, project):
    assert post_json(client_for(staff), project, [item(1)]).status_code == 201


def test_an_archived_project_answers_409(owner, project):
    Project.objects.filter(pk=project.pk).update(status=Project.Status.ARCHIVED)
    response = post_json(owner, project, [item(1)])
    assert response.status_code == 409
    assert response.json()["code"] == "archived"


def test_a_completed_project_is_reopened_by_new_items(owner, project):
    Project.objects.filter(pk=project.pk).update(status=Project.Status.COMPLETED)
    assert post_json(owner, project, [item(1)]).status_code == 201
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE


@pytest.fixture
def background(settings, monkeypatch):
    """Uploads above 5 rows go to the job, which django-q runs in the request's process."""
    settings.BATCH_SYNC_ROW_LIMIT = 5
    monkeypatch.setattr(Conf, "SYNC", True)


def test_a_large_upload_is_accepted_and_polled_until_done(background, owner, project,
                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_file(owner, project, "big.jsonl", jsonl([item(n) for n in range(20)]))
    assert response.status_code == 202
    accepted = response.json()
    assert accepted == {"id": accepted["id"], "status": "pending"}
    assert response["Location"] == f"/api/v1/batches/{accepted['id']}/"
    pending = owner.get(response["Location"]).json()
    assert (pending["status"], pending["created"]) == ("pending", 0)
    assert items_of(project) == 0

    for callback in callbacks:
        callback()
    done = owner.get(response["Location"]).json()
    assert (done["status"], done["rows"], done["created"], done["existing"]) == (
        "done", 20, 20, 0)
    assert done["finished_at"] is not None
    assert items_of(project) == 20


def test_a_large_bad_upload_reports_its_errors_on_the_batch(background, owner, project,
                                                            django_capture_on_commit_callbacks):
    rows = [item(n) for n in range(10)] + [{"external_id": "q-x", "data": {}}]
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(owner, project, rows)
    assert response.status_code == 202
    batch = owner.get(response["Location"]).json()
    assert batch["status"] == "failed"
    assert {(e["row"], e["field"]) for e in batch["errors"]} == {
        (11, "prompt"), (11, "completions")}
    assert items_of(project) == 0


def test_an_idempotency_key_replays_a_202(background, owner, project,
                                         django_capture_on_commit_callbacks):
    rows = [item(n) for n in range(8)]
    with django_capture_on_commit_callbacks(execute=True):
        first = post_json(owner, project, rows, **{"Idempotency-Key": "big"})
    again = post_json(owner, project, rows, **{"Idempotency-Key": "big"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == {"id": first.json()["id"], "status": "done"}
    assert Batch.objects.filter(project=project).count() == 1
    assert items_of(project) == 8


def test_batches_are_listed_and_read_by_the_organization_only(owner, project, other_customer):
    batch_id = post_json(owner, project, [item(1)]).json()["id"]
    qa_lead = client_for(factories.member(project.organization, role=Membership.Role.QA_LEAD))
    listed = qa_lead.get(url(project))
    assert listed.status_code == 200
    assert [b["id"] for b in listed.json()["results"]] == [batch_id]
    assert qa_lead.get(f"/api/v1/batches/{batch_id}/").status_code == 200
    stranger = client_for(other_customer)
    assert stranger.get(f"/api/v1/batches/{batch_id}/").status_code == 404
    assert stranger.get(url(project)).status_code == 404


def test_the_schema_describes_both_bodies_and_every_answer(api):
    schema = api.get("/api/schema/?format=json").json()
    upload = schema["paths"]["/api/v1/projects/{project_pk}/batches/"]["post"]
    content = upload["requestBody"]["content"]
    assert content["application/json"]["schema"]["type"] == "array"
    assert "file" in _resolve(schema, content["multipart/form-data"]["schema"])["properties"]
    assert {"201", "202", "400", "403", "404", "409", "413"} <= set(upload["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header"
               for p in upload["parameters"])
    # Row errors, or DRF's field errors when the body cannot be read (no `file` part).
    rows, fields = upload["responses"]["400"]["content"]["application/json"]["schema"]["anyOf"]
    assert set(_resolve(schema, rows)["properties"]) == {"errors"}
    assert fields == {"$ref": "#/components/schemas/ValidationError"}
    assert "get" in schema["paths"]["/api/v1/batches/{id}/"]


def _resolve(schema, node):
    if "$ref" in node:
        return schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def test_an_idempotency_key_postgresql_cannot_store_is_a_400(owner, project):
    response = post_json(owner, project, [item(1)], **{"Idempotency-Key": "k\x00"})
    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert not Batch.objects.exists()


def nested(depth: int):
    value = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("name", ["items.json", "items.jsonl", "items.csv"])
def test_rows_nested_beyond_the_limit_are_row_errors(settings, customer, owner, name):
    """A field's value sits two levels down (the row, then data), so with a limit of 6 four
    levels of lists are kept and five refused, whatever the format."""
    settings.JSON_MAX_DEPTH = 6
    project = factories.project(customer, preset="sft", activate=False,
                                fields=[{"name": "prompt", "type": "json"}])
    rows = [{"external_id": "a", "data": {"prompt": nested(4)}},
            {"external_id": "b", "data": {"prompt": nested(5)}}]
    if name.endswith(".csv"):
        out = io.StringIO()
        csv.writer(out).writerows([["external_id", "prompt"], *(
            [row["external_id"], json.dumps(row["data"]["prompt"])] for row in rows)])
        content = out.getvalue().encode()
    else:
        content = json.dumps(rows).encode() if name.endswith(".json") else jsonl(rows)
    response = owner.post(url(project), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"row": 2, "field": "prompt",
                                          "message": "JSON nested deeper than 6 levels."}]
    assert not Item.objects.filter(project=project).exists()


def test_rows_nested_a_thousand_deep_are_a_row_error(owner, project):
    row = item(1)
    row["data"]["completions"] = "DEEP"
    text = json.dumps(row).replace('"DEEP"', "[" * 5000 + "]" * 5000)
    response = owner.post(url(project), {"file": SimpleUploadedFile("items.jsonl", text.encode())})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "JSON nested deeper than 64 levels."
    body = owner.generic("POST", url(project), f"[{text}]", content_type="application/json")
    assert body.json()["errors"][0]["message"] == "JSON nested deeper than 64 levels."


def test_an_item_too_large_to_read_says_so(monkeypatch, owner, project):
    """An element past the per-item limit is reported as too large, not as the unterminated
    string it looks like when cut off."""
    monkeypatch.setattr("tasks.ingest.MAX_ELEMENT_CHARS", 4096)
    monkeypatch.setattr("tasks.ingest.READ_SIZE", 1024)
    row = item(1)
    row["data"]["prompt"] = "x" * 20_000
    response = owner.generic("POST", url(project), json.dumps([row]),
                             content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{
        "row": 1, "field": "non_field_errors",
        "message": "Item 1 is larger than 4,096 characters, the most one item may hold."}]
    broken = owner.generic("POST", url(project), '[{"external_id": }' + " " * 20_000 + "]",
                           content_type="application/json")
    assert "Expecting value" in broken.json()["errors"][0]["message"]
