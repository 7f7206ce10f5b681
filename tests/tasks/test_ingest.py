"""Batch ingest below the API: readers, row checks, the all-or-nothing service and the job."""

import csv
import io
import json
import struct
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connection, connections
from django.utils import timezone

from accounts.models import Membership
from config.exceptions import Conflict, PayloadTooLarge
from tasks import ingest, jobs
from tasks.models import Batch, Item, Project
from tasks.schema import build_schema
from tasks.signals import batch_ingested
from tests import factories

FIELDS, QUESTIONS = build_schema("preference", None, None)


def item(n, **extra):
    return {"external_id": f"q-{n}", "data": factories.preference_data(n), **extra}


def jsonl(*rows) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def rows_of(reader) -> list:
    """(row number, value) pairs, leaving out the JSON source texts."""
    return [(number, value) for number, value, _ in reader]


def check_all(values, max_rows=1000):
    """Errors a checker reports for (row number, value) pairs."""
    checker = ingest.RowChecker(FIELDS, QUESTIONS, max_rows=max_rows)
    for number, value in values:
        checker.check(number, value)
    return checker.errors


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def project(customer):
    return factories.project(customer, activate=False, overlap=2, max_overlap=3)


def upload(project, body: bytes, file_format="jsonl", user=None, **kwargs):
    return ingest.upload(user=user or project.created_by, project=project,
                         stream=io.BytesIO(body), file_format=file_format, **kwargs)


def rejected(project, body: bytes, file_format="jsonl", **kwargs) -> list[dict]:
    with pytest.raises(ingest.UploadRejected) as caught:
        upload(project, body, file_format, **kwargs)
    return caught.value.errors


def spooled_files(settings) -> list[Path]:
    return sorted((Path(settings.MEDIA_ROOT) / "uploads").glob("*"))


# -- readers ------------------------------------------------------------------------------


def test_jsonl_rows_are_numbered_by_line_and_blank_lines_are_skipped():
    body = b'{"a": 1}\n\n  \n{"b": 2}\r\n{"c": 3}'
    assert rows_of(ingest.read_jsonl(io.BytesIO(body))) == [(1, {"a": 1}), (4, {"b": 2}),
                                                            (5, {"c": 3})]


def test_jsonl_bad_lines_are_unreadable_rows_and_reading_goes_on():
    body = b'{"a": 1\n{"b": NaN}\n\xff\xfe\n{"c": 1e999}\n{"d": 4}\n'
    rows = rows_of(ingest.read_jsonl(io.BytesIO(body)))
    assert [number for number, _ in rows] == [1, 2, 3, 4, 5]
    assert all(isinstance(value, ingest.Unreadable) for _, value in rows[:4])
    assert rows[0][1].errors[0][1].startswith("Is not valid JSON: Expecting ',' delimiter")
    assert rows[2][1].errors == [("non_field_errors", "Is not UTF-8 text.")]
    assert rows[4] == (5, {"d": 4})


def test_text_postgresql_cannot_store_is_named_by_field():
    body = jsonl({"external_id": "a\u0000", "data": {"prompt": "ok"}},
                 {"external_id": "b", "data": {"prompt": "x\u0000y", "completions": []},
                  "gold": {"better": "\ud800"}},
                 {"external_id": "c", "data": {"prompt": "caf\u00e9 \ud83d\ude00"}})
    rows = rows_of(ingest.read_jsonl(io.BytesIO(body)))
    assert rows[0][1].errors == [("external_id",
                                  "Contains a NUL character (\\u0000), which cannot be stored.")]
    assert [field for field, _ in rows[1][1].errors] == ["prompt", "gold.better"]
    assert "unpaired surrogate" in rows[1][1].errors[1][1]
    assert rows[2][1] == {"external_id": "c", "data": {"prompt": "caf\u00e9 \U0001f600"}}


@pytest.mark.parametrize("read_size", [1, 3, 7, 64, 1 << 20])
def test_json_array_decodes_elements_across_any_block_boundary(monkeypatch, read_size):
    monkeypatch.setattr(ingest, "READ_SIZE", read_size)
    values = [item(1), {"nested": [1, 2, {"x": "y, ]"}]}, 123456789, "tail\u00e9", None]
    body = ("\ufeff [\n " + " ,\n".join(json.dumps(v) for v in values) + "\n] \n").encode()
    assert rows_of(ingest.read_json_array(io.BytesIO(body))) == list(enumerate(values, 1))


@pytest.mark.parametrize("body", [b"[]", b"  [ ]\n", b"[\n]"])
def test_an_empty_json_array_has_no_rows(body):
    assert rows_of(ingest.read_json_array(io.BytesIO(body))) == []


@pytest.mark.parametrize(("body", "row", "message"), [
    (b"", 0, "The upload must be a JSON array"),
    (b'{"external_id": "a"}', 0, "The upload must be a JSON array"),
    (b'[{"a": 1} {"b": 2}]', 1, "Expected ',' or ']' after item 1, found '{'."),
    (b'[{"a": 1}, {"b": 2}', 2, "The JSON array is not closed with ']'."),
    (b'[{"a": 1}, {"b": }]', 2, "Is not valid JSON: Expecting value."),
    (b'[{"a": 1}, {"b": "unterminated', 2, "Is not valid JSON: Unterminated string"),
    (b'[{"a": 1}] [', 1, "Unexpected data after the closing ']'."),
    (b'[{"a": 1}, {"b": "\xff"}]', 1, "The file is not UTF-8 text."),
])
def test_a_broken_json_array_stops_reading_at_the_row_it_broke(monkeypatch, body, row, message):
    monkeypatch.setattr(ingest, "READ_SIZE", 4)
    with pytest.raises(ingest.MalformedUpload) as caught:
        rows_of(ingest.read_json_array(io.BytesIO(body)))
    [error] = caught.value.errors
    assert error["row"] == row
    assert error["message"].startswith(message)


def test_a_broken_element_does_not_pull_in_the_rest_of_the_file(monkeypatch):
    monkeypatch.setattr(ingest, "READ_SIZE", 1000)
    monkeypatch.setattr(ingest, "MAX_ELEMENT_CHARS", 5000)

    class Endless(io.RawIOBase):
        """An array whose second element is a string that never ends."""

        sent = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            start = b'[{"a": 1}, {"b": "' if self.sent == 0 else b""
            buffer[:] = start + b"x" * (len(buffer) - len(start))
            self.sent += len(buffer)
            return len(buffer)

    source = Endless()
    with pytest.raises(ingest.MalformedUpload) as caught:
        rows_of(ingest.read_json_array(io.BufferedReader(source)))
    assert caught.value.errors[0]["row"] == 2
    assert source.sent < 100_000


def csv_body(*lines: str) -> bytes:
    return "\r\n".join(lines).encode() + b"\r\n"


def csv_of(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["external_id", "prompt", "completions", "gold", "priority"])
    for row in rows:
        writer.writerow([row["external_id"], row["data"]["prompt"],
                         json.dumps(row["data"]["completions"]),
                         json.dumps(row["gold"]) if "gold" in row else "",
                         row.get("priority", "")])
    return out.getvalue().encode()


def test_csv_rows_are_records_numbered_after_the_header():
    body = csv_body('\ufeffexternal_id,prompt,completions,gold,priority',
                    'a,"Hello, world","[""x"", ""y""]",,',
                    '',
                    'b,Two,"[""p"", ""q""]","{""better"": ""B""}",5')
    assert rows_of(ingest.read_csv(io.BytesIO(body), FIELDS)) == [
        (1, {"external_id": "a", "data": {"prompt": "Hello, world", "completions": ["x", "y"]}}),
        (2, {"external_id": "b", "data": {"prompt": "Two", "completions": ["p", "q"]},
             "gold": {"better": "B"}, "priority": 5}),
    ]


def test_csv_cell_problems_are_unreadable_rows():
    body = csv_body("external_id,prompt,completions,gold,priority",
                    'a,x,"[""p""",{oops},high',
                    "b,x,[],,,surplus")
    [(_, first), (_, second)] = rows_of(ingest.read_csv(io.BytesIO(body), FIELDS))
    assert [field for field, _ in first.errors] == ["gold", "priority", "completions"]
    assert second.errors == [("non_field_errors", "The row has more cells than the header.")]


def test_csv_cells_postgresql_cannot_store_are_unreadable():
    body = csv_body("external_id,prompt,completions", 'a,x\x00y,"[""p"", ""q""]"',
                    'b,x,"[""p"", 1e999]"')
    [(_, first), (_, second)] = rows_of(ingest.read_csv(io.BytesIO(body), FIELDS))
    assert first.errors == [("prompt", "Contains a NUL character (\\u0000), which cannot be "
                                       "stored.")]
    assert second.errors == [("completions", "Holds a number too large to store.")]


@pytest.mark.parametrize(("header", "field", "message"), [
    ("", "non_field_errors", "The CSV file is empty"),
    ("prompt,completions", "external_id", "The header has no external_id column."),
    ("external_id,prompt,answer", "answer", "Unknown column; the columns are external_id, "
                                            "prompt, completions, and optionally gold"),
    ("external_id,prompt,prompt", "prompt", "The header names this column more than once."),
])
def test_csv_header_problems_are_reported_as_row_zero(header, field, message):
    with pytest.raises(ingest.MalformedUpload) as caught:
        rows_of(ingest.read_csv(io.BytesIO(header.encode()), FIELDS))
    [error] = caught.value.errors
    assert (error["row"], error["field"]) == (0, field)
    assert error["message"].startswith(message)


def test_csv_that_is_not_utf8_or_not_csv_stops_at_its_row():
    with pytest.raises(ingest.MalformedUpload) as caught:
        rows_of(ingest.read_csv(io.BytesIO(b"external_id,prompt\na,\xff\xfe\n"), FIELDS))
    assert caught.value.errors[0]["message"] == "The file is not UTF-8 text."
    with pytest.raises(ingest.MalformedUpload) as caught:
        rows_of(ingest.read_csv(io.BytesIO(b'external_id,prompt\na,"x"y"\n'), FIELDS))
    assert caught.value.errors[0]["row"] == 1
    assert caught.value.errors[0]["message"].startswith("Is not valid CSV")


# -- row checks ---------------------------------------------------------------------------


def test_a_valid_row_becomes_a_row_with_defaults():
    checker = ingest.RowChecker(FIELDS, QUESTIONS, max_rows=10)
    assert checker.check(1, item(1)) == ingest.Row("q-1", factories.preference_data(1), None, 0)
    assert checker.check(2, item(2, gold={"better": "A"}, priority=-3)) == ingest.Row(
        "q-2", factories.preference_data(2), {"better": "A"}, -3)
    assert checker.errors == []
    assert set(checker.external_ids) == {"q-1", "q-2"}


def test_json_readers_keep_the_source_text_of_data_and_gold():
    body = b'{"external_id": "a",\t"data" : {"prompt":  "x"} , "gold": {"better": "A"}}\n'
    [(_, value, source)] = list(ingest.read_jsonl(io.BytesIO(body)))
    assert source == {"data": '{"prompt":  "x"}', "gold": '{"better": "A"}'}
    assert value["data"] == {"prompt": "x"}
    pretty = json.dumps([item(1, gold={"better": "B"})], indent=2).encode()
    [(_, value, source)] = list(ingest.read_json_array(io.BytesIO(pretty)))
    assert json.loads(source["data"]) == value["data"]
    assert "\n" in source["data"]


@pytest.mark.parametrize("body", [b'{"a": 1} x', b'{"a" 1}', b'{"a": 1 "b": 2}', b"{1: 2}",
                                  b'{"a": 1,}', b'{"a": 1'])
def test_broken_objects_are_reported_like_json_does(body):
    [(_, value, _)] = list(ingest.read_jsonl(io.BytesIO(body)))
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    assert value.errors == [("non_field_errors", f"Is not valid JSON: {expected.value.msg}.")]


def binary_fields(record: bytes) -> list[bytes | None]:
    """The fields of one binary COPY tuple."""
    (count,), pos, fields = struct.unpack_from(">h", record), 2, []
    for _ in range(count):
        (length,) = struct.unpack_from(">i", record, pos)
        pos += 4
        fields.append(None if length < 0 else record[pos:pos + length])
        pos += max(length, 0)
    assert pos == len(record)
    return fields


@pytest.mark.parametrize("row", [
    ingest.Row("plain", {"prompt": "x"}, None, 0),
    ingest.Row("tab\there \u00e9", {"prompt": "a\\b\t\"c\"\n"}, {"better": "A"}, -7),
    ingest.Row("q", {"prompt": "x"}, {"better": "B"}, 3, '{\n  "prompt": "x"\n}',
               '{"better":\t"B"}'),
])
def test_a_copy_record_is_one_binary_tuple_of_the_row_and_the_shared_columns(row):
    now = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    shared = ingest.shared_columns(SimpleNamespace(pk=7, overlap=3), SimpleNamespace(pk=9), now)
    fields = binary_fields(ingest.copy_record(row, shared))
    assert len(fields) == 11
    assert fields[0].decode() == row.external_id
    assert fields[1][:1] == b"\x01"
    assert json.loads(fields[1][1:]) == row.data
    if row.data_json is not None:
        assert fields[1][1:].decode() == row.data_json
    if row.gold is None:
        assert (fields[2], fields[3]) == (None, b"\x00")
    else:
        assert (json.loads(fields[2][1:]), fields[3]) == (row.gold, b"\x01")
    assert struct.unpack(">h", fields[4]) == (row.priority,)
    assert [struct.unpack(">q", fields[5])[0], struct.unpack(">q", fields[6])[0]] == [7, 9]
    assert [struct.unpack(">h", f)[0] for f in fields[7:10]] == [3, 0, 0]
    assert struct.unpack(">q", fields[10])[0] == (
        now - datetime(2000, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.mark.parametrize(("value", "expected"), [
    ("text", [("non_field_errors", "Must be an object with external_id and data, got string.")]),
    ({"data": factories.preference_data(1)}, [("external_id", "This field is required.")]),
    ({**item(1), "external_id": 17}, [("external_id", "Must be a string, got integer.")]),
    ({**item(1), "external_id": "  "}, [("external_id", "Cannot be blank.")]),
    ({**item(1), "external_id": "x" * 201},
     [("external_id", "Must have at most 200 characters, got 201.")]),
    ({"external_id": "a"}, [("data", "This field is required.")]),
    ({"external_id": "a", "data": ["x"]},
     [("data", "Must be an object of field values, got list.")]),
    ({"external_id": "a", "data": {"prompt": "", "completions": ["only one"], "extra": 1}},
     [("prompt", "This field is required and cannot be blank."),
      ("completions", "Needs at least 2 entries because question 'better' compares them, got "
                      "1."),
      ("extra", "Unknown field; this project's fields are prompt, completions.")]),
    ({**item(1), "label": "x"},
     [("label", "Unknown key; an item has external_id, data, gold, priority.")]),
    ({**item(1), "priority": 40000},
     [("priority", "Must be a whole number from -32768 to 32767, got 40000.")]),
    ({**item(1), "priority": True},
     [("priority", "Must be a whole number from -32768 to 32767, got true.")]),
])
def test_row_problems_are_named_by_field(value, expected):
    assert [(e["field"], e["message"]) for e in check_all([(3, value)])] == expected
    assert {e["row"] for e in check_all([(3, value)])} == {3}


@pytest.mark.parametrize(("gold", "expected"), [
    (["A"], [("gold", "Must be an object mapping questions to answers, got list.")]),
    ({}, [("gold", "A gold item needs the answer to at least one question.")]),
    ({"better": "C"}, [("gold.better", 'Must be "A", "B" or "tie"; got "C".')]),
    ({"rewrite": "Better text"}, [("gold.rewrite", "Text questions cannot have a gold "
                                                   "answer.")]),
    ({"quality": 3}, [("gold.quality", "Unknown question; gold answers must name a question of "
                                       "this project: better, rewrite.")]),
])
def test_gold_answers_are_checked_against_the_questions(gold, expected):
    assert [(e["field"], e["message"]) for e in check_all([(1, item(1, gold=gold))])] == expected


def test_gold_is_not_checked_when_the_data_is_already_wrong():
    errors = check_all([(1, {"external_id": "a", "data": {}, "gold": {"better": "C"}})])
    assert {e["field"] for e in errors} == {"prompt", "completions"}


def test_a_repeated_external_id_points_at_its_first_row():
    errors = check_all([(1, item(1)), (2, item(2)), (5, item(1))])
    assert errors == [{"row": 5, "field": "external_id",
                       "message": "Repeats the external_id of row 1."}]


def test_errors_stop_after_a_hundred_bad_rows():
    body = jsonl(*[{"external_id": f"x{n}"} for n in range(150)])
    checker = ingest.RowChecker(FIELDS, QUESTIONS, max_rows=1000)
    list(checker.read(io.BytesIO(body), "jsonl"))
    assert checker.bad_rows == 100
    assert checker.errors[-1]["row"] == 100
    assert checker.rows == 100


def test_the_row_limit_stops_reading_with_a_clear_message():
    checker = ingest.RowChecker(FIELDS, QUESTIONS, max_rows=3)
    list(checker.read(io.BytesIO(jsonl(*[item(n) for n in range(5)])), "jsonl"))
    assert checker.errors == [{"row": 4, "field": "non_field_errors", "message":
                               "An upload holds at most 3 rows; split this one into several "
                               "batches."}]


# -- the service: in the request ----------------------------------------------------------


@pytest.mark.parametrize("file_format", ["jsonl", "json", "csv"])
def test_every_format_stores_its_items_with_the_projects_overlap(project, file_format):
    rows = [item(1), item(2, priority=4), item(3, gold={"better": "tie"})]
    body = {"jsonl": jsonl(*rows), "json": json.dumps(rows).encode(),
            "csv": csv_of(rows)}[file_format]
    batch = upload(project, body, file_format, filename=f"items.{file_format}")
    assert (batch.status, batch.rows, batch.created, batch.existing) == ("done", 3, 3, 0)
    assert (batch.file_format, batch.filename, batch.upload_path) == (
        file_format, f"items.{file_format}", "")
    items = {i.external_id: i for i in Item.objects.filter(project=project)}
    assert set(items) == {"q-1", "q-2", "q-3"}
    assert all(i.overlap == 2 and i.batch_id == batch.pk and i.filled == 0 for i in
               items.values())
    assert items["q-1"].data == factories.preference_data(1)
    assert abs(timezone.now() - items["q-1"].created_at) < timedelta(minutes=1)
    assert (items["q-2"].priority, items["q-2"].is_gold) == (4, False)
    assert (items["q-3"].is_gold, items["q-3"].gold) == (True, {"better": "tie"})
    assert items["q-1"].gold is None


def test_awkward_text_is_stored_exactly(project):
    rows = [{"external_id": "tab\there\\back\nslash",
             "data": {"prompt": 'Quote " back \\ tab \t nl \n cr \r caf\u00e9 \U0001f600',
                      "completions": ["\\N", "\\."]},
             "gold": {"better": "tie"}}]
    pretty = json.dumps(rows, indent="\t", ensure_ascii=False).encode()
    upload(project, pretty, "json")
    stored = Item.objects.get(project=project)
    assert (stored.external_id, stored.data, stored.gold) == (
        rows[0]["external_id"], rows[0]["data"], rows[0]["gold"])


def test_one_bad_row_stores_nothing(project):
    errors = rejected(project, jsonl(item(1), item(2), {"external_id": "q-3", "data": {}}))
    assert [e["row"] for e in errors] == [3, 3]
    assert Item.objects.filter(project=project).count() == 0
    assert Batch.objects.filter(project=project).count() == 0


def test_an_empty_upload_is_refused(project):
    assert rejected(project, b"\n\n") == [
        {"row": 0, "field": "non_field_errors", "message": "The upload holds no items."}]
    assert rejected(project, b"[]", "json")[0]["message"] == "The upload holds no items."


def test_known_external_ids_count_as_existing_and_are_left_alone(project):
    upload(project, jsonl(item(1), item(2)))
    changed = {"external_id": "q-1", "data": {"prompt": "New?", "completions": ["a", "b"]}}
    batch = upload(project, jsonl(changed, item(3)))
    assert (batch.rows, batch.created, batch.existing) == (2, 1, 1)
    assert Item.objects.get(project=project, external_id="q-1").data == \
        factories.preference_data(1)
    assert Item.objects.filter(project=project).count() == 3


def test_external_ids_are_per_project(customer, project):
    upload(project, jsonl(item(1)))
    other = factories.project(customer, activate=False)
    assert upload(other, jsonl(item(1))).created == 1


def test_the_same_idempotency_key_returns_the_first_batch_without_reading(project):
    first = upload(project, jsonl(item(1)), idempotency_key="k-1")
    again = upload(project, b"not even json", idempotency_key="k-1")
    assert again.pk == first.pk
    assert Item.objects.filter(project=project).count() == 1
    other = upload(project, jsonl(item(1), item(2)), idempotency_key="k-2")
    assert (other.pk != first.pk, other.created, other.existing) == (True, 1, 1)


def test_a_rejected_upload_leaves_its_idempotency_key_free(project):
    rejected(project, jsonl({"external_id": "q-1"}), idempotency_key="k")
    assert upload(project, jsonl(item(1)), idempotency_key="k").created == 1


def test_roles_that_may_not_upload_are_refused(project):
    organization = project.organization
    for role, allowed in [("admin", True), ("member", True), ("qa_lead", False)]:
        user = factories.member(organization, role=role)
        if allowed:
            upload(project, jsonl(item(role)), user=user)
        else:
            with pytest.raises(PermissionDenied):
                upload(project, jsonl(item(role)), user=user)
    assert Item.objects.filter(project=project).count() == 2
    assert Membership.objects.filter(organization=organization).count() == 4


def test_an_archived_project_takes_no_upload(project):
    Project.objects.filter(pk=project.pk).update(status=Project.Status.ARCHIVED)
    project.refresh_from_db()
    with pytest.raises(Conflict) as caught:
        upload(project, jsonl(item(1)))
    assert caught.value.code == "archived"


def test_new_work_reopens_a_completed_project_but_gold_alone_does_not(project):
    Project.objects.filter(pk=project.pk).update(status=Project.Status.COMPLETED)
    upload(project, jsonl(item(1, gold={"better": "A"})))
    project.refresh_from_db()
    assert project.status == Project.Status.COMPLETED
    upload(project, jsonl(item(1, gold={"better": "A"})))
    assert Project.objects.get(pk=project.pk).status == Project.Status.COMPLETED
    upload(project, jsonl(item(2)))
    assert Project.objects.get(pk=project.pk).status == Project.Status.ACTIVE


def test_an_upload_over_the_byte_limit_is_refused_while_streaming(settings, project):
    settings.BATCH_MAX_BYTES = 1000
    body = jsonl(*[item(n) for n in range(30)])
    with pytest.raises(PayloadTooLarge) as caught:
        upload(project, body)
    assert "larger than 1,000 bytes" in caught.value.message
    assert Item.objects.filter(project=project).count() == 0
    assert spooled_files(settings) == []


def test_batch_ingested_is_sent_once_per_stored_batch(project):
    received = []

    def receiver(sender, batch, **kwargs):
        received.append((sender, batch.pk, batch.status, batch.created))

    batch_ingested.connect(receiver)
    try:
        batch = upload(project, jsonl(item(1), item(2)))
        rejected(project, jsonl({"external_id": "bad"}))
    finally:
        batch_ingested.disconnect(receiver)
    assert received == [(Project, batch.pk, "done", 2)]


# -- the service: in the background -------------------------------------------------------


@pytest.fixture
def small_sync_limit(settings):
    settings.BATCH_SYNC_ROW_LIMIT = 5


def test_a_large_upload_is_spooled_and_stored_by_the_job(
        settings, small_sync_limit, project, django_capture_on_commit_callbacks):
    body = jsonl(*[item(n) for n in range(12)])
    with django_capture_on_commit_callbacks() as callbacks:
        batch = upload(project, body, filename="big.jsonl", idempotency_key="big")
    assert len(callbacks) == 1, "the job is queued once the batch is committed"
    assert (batch.status, batch.created) == ("pending", 0)
    assert ingest.answered_in_background(batch)
    [spooled] = spooled_files(settings)
    assert spooled.read_bytes() == body
    assert Item.objects.filter(project=project).count() == 0

    jobs.process_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.rows, batch.created, batch.existing) == ("done", 12, 12, 0)
    assert batch.finished_at is not None
    assert Item.objects.filter(project=project, batch=batch).count() == 12
    assert spooled_files(settings) == []
    jobs.process_batch(batch.pk)
    assert Item.objects.filter(project=project).count() == 12
    assert upload(project, b"", idempotency_key="big").pk == batch.pk


@pytest.mark.postgres
def test_the_job_refreshes_the_planner_statistics_of_items(small_sync_limit, project):
    def estimated_items():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'tasks_item'")
            return cursor.fetchone()[0]

    batch = upload(project, jsonl(*[item(n) for n in range(40)]))
    jobs.process_batch(batch.pk)
    assert estimated_items() == 40


@pytest.mark.parametrize("file_format", ["json", "csv"])
def test_the_job_reads_every_format(small_sync_limit, project, file_format):
    rows = [item(n) for n in range(8)]
    body = json.dumps(rows).encode() if file_format == "json" else csv_of(rows)
    batch = upload(project, body, file_format)
    ingest.run_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.created) == ("done", 8)


def test_the_job_runs_through_django_q_when_it_is_synchronous(
        monkeypatch, small_sync_limit, project, django_capture_on_commit_callbacks):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    with django_capture_on_commit_callbacks(execute=True):
        batch = upload(project, jsonl(*[item(n) for n in range(7)]))
    batch.refresh_from_db()
    assert (batch.status, batch.created) == ("done", 7)


def test_a_large_bad_upload_fails_in_the_job_and_stores_nothing(monkeypatch, settings,
                                                                 small_sync_limit, project):
    monkeypatch.setattr(ingest, "COPY_CHUNK", 2)
    rows = [item(n) for n in range(9)] + [{"external_id": "q-1", "data": {}}]
    batch = upload(project, jsonl(*rows))
    ingest.run_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert [(e["row"], e["field"]) for e in batch.errors] == [
        (10, "external_id"), (10, "prompt"), (10, "completions")]
    assert Item.objects.filter(project=project).count() == 0
    assert spooled_files(settings) == []
    ingest.run_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == "failed"


def test_the_row_limit_fails_a_background_batch(settings, small_sync_limit, project):
    settings.BATCH_MAX_ROWS = 8
    batch = upload(project, jsonl(*[item(n) for n in range(10)]))
    batch = ingest.run_batch(batch.pk)
    assert batch.status == "failed"
    assert batch.errors[0]["message"].startswith("An upload holds at most 8 rows")


def test_a_late_second_run_of_the_job_leaves_the_first_ones_result(monkeypatch,
                                                                    small_sync_limit, project):
    batch = upload(project, jsonl(*[item(n) for n in range(6)]))
    stale = Batch.objects.get(pk=batch.pk)  # what a second run read before the first ended
    assert ingest.run_batch(batch.pk).status == "done"
    monkeypatch.setattr(Batch.objects, "get", lambda **kwargs: stale)
    ingest.run_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.existing) == ("done", 6, 0)


def test_a_batch_whose_file_is_gone_fails(settings, small_sync_limit, project):
    batch = upload(project, jsonl(*[item(n) for n in range(6)]))
    for path in spooled_files(settings):
        path.unlink()
    batch = ingest.run_batch(batch.pk)
    assert batch.status == "failed"
    assert "no longer available" in batch.errors[0]["message"]


def test_a_batch_whose_job_gives_up_fails_saying_so_and_loses_its_spooled_file(
        settings, small_sync_limit, project):
    batch = upload(project, jsonl(*[item(n) for n in range(6)]))
    assert len(spooled_files(settings)) == 1
    jobs.give_up_batch(batch.pk, error="The worker w:1 died during attempt 3.")
    batch.refresh_from_db()
    assert (batch.status, batch.created) == ("failed", 0)
    assert batch.errors == [{"row": 0, "field": "non_field_errors", "message": (
        "The upload could not be stored: The worker w:1 died during attempt 3. "
        "Upload it again.")}]
    assert spooled_files(settings) == []
    jobs.give_up_batch(batch.pk, error="A second reason.")
    batch.refresh_from_db()
    assert "second" not in batch.errors[0]["message"], "a finished batch is left as it is"


def test_a_project_archived_before_the_job_keeps_its_items_out(small_sync_limit, project):
    batch = upload(project, jsonl(*[item(n) for n in range(6)]))
    Project.objects.filter(pk=project.pk).update(status=Project.Status.ARCHIVED)
    batch = ingest.run_batch(batch.pk)
    assert batch.status == "failed"
    assert Item.objects.filter(project=project).count() == 0


def test_the_job_counts_items_another_batch_stored_meanwhile(small_sync_limit, project):
    batch = upload(project, jsonl(*[item(n) for n in range(6)]))
    upload(project, jsonl(item(0), item(1)))
    batch = ingest.run_batch(batch.pk)
    assert (batch.created, batch.existing) == (4, 2)
    assert Item.objects.filter(project=project).count() == 6


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_concurrent_uploads_to_one_project_store_each_external_id_once(settings, tmp_path):
    owner = factories.customer()
    project = factories.project(owner, activate=False)
    uploads = [jsonl(*[item(n) for n in range(start, start + 3000)]) for start in (0, 1000, 2000)]
    barrier = threading.Barrier(len(uploads))
    results, errors = [], []

    def send(body):
        try:
            barrier.wait()
            results.append(upload(project, body))
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=send, args=(body,)) for body in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(batch.created for batch in results) == 5000
    assert sum(batch.existing for batch in results) == 4000
    assert Item.objects.filter(project=project).count() == 5000
    assert Item.objects.filter(project=project).values("external_id").distinct().count() == 5000


@pytest.mark.postgres
def test_the_job_publishes_progress_while_its_transaction_is_open(settings, monkeypatch):
    settings.BATCH_SYNC_ROW_LIMIT = 5
    monkeypatch.setattr(ingest, "PROGRESS_EVERY", 3)
    project = factories.project(factories.customer(), activate=False)
    batch = upload(project, jsonl(*[item(n) for n in range(7)]))
    poller = connections.create_connection(DEFAULT_DB_ALIAS)
    seen = []
    check = ingest.RowChecker.check

    def spy(self, number, value, source=None):
        """Read the batch as a client polling it would, on a connection of its own."""
        with poller.cursor() as cursor:
            cursor.execute("SELECT status, rows FROM tasks_batch WHERE id = %s", [batch.pk])
            seen.append(cursor.fetchone())
        return check(self, number, value, source)

    monkeypatch.setattr(ingest.RowChecker, "check", spy)
    try:
        assert ingest.run_batch(batch.pk).status == "done"
    finally:
        poller.close()
    assert seen == [("processing", 0)] * 3 + [("processing", 3)] * 3 + [("processing", 6)]
