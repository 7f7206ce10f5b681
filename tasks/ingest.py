"""Batch ingest: items uploaded as a JSON array, JSONL or CSV, stored all-or-nothing.

An upload is streamed, never read whole: the readers pull it in blocks and yield one row at a
time, numbered the way the customer counts (JSON array element, JSONL line, CSV data row), and
``RowChecker`` validates each row against the project's fields (gold answers against its
questions) with one ``ItemValidator``. Nothing is kept unless every row is valid: the new rows
go in with one statement inside one transaction, under a per-project advisory lock so that
two uploads to one project serialize and an ``external_id`` ends up stored once. On
PostgreSQL that statement is ``COPY``; elsewhere ``bulk_create`` does the same job more slowly.

Uploads of up to ``settings.BATCH_SYNC_ROW_LIMIT`` rows are checked during the request and
stored once all of them are known to be valid. Larger ones are spooled to
``MEDIA_ROOT/uploads`` as they are read and handed to ``run_batch`` in the background, which
checks the rows and streams them into the database in one pass and one transaction (rolled
back if any row is bad), publishing its progress in ``Batch.rows``. An item
already in the project counts as ``existing`` and is left as it was, which makes
re-uploading a file safe; an ``Idempotency-Key`` makes a retried request return the first
batch without reading the upload again.

A batch that adds work to a completed project reopens it: new non-gold items arrive as open
work, so the project goes back to ``active``. Gold items alone do not reopen it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import struct
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from json.decoder import scanstring
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from accounts.access import Action, require
from config import jsonvalues
from config.exceptions import Conflict, PayloadTooLarge
from config.ids import is_whole_number
from durable.runner import enqueue

from .models import Batch, Item, Project
from .schema import FIELD_REQUIRED, ItemValidator, parse_csv_row
from .signals import batch_ingested

FORMATS = ("json", "jsonl", "csv")
EXTENSIONS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv"}
ITEM_KEYS = ("external_id", "data", "gold", "priority")
_ITEM_KEY_SET = frozenset(ITEM_KEYS)
NON_FIELD = "non_field_errors"
MAX_REPORTED_ROWS = 100
EXTERNAL_ID_MAX_LENGTH = Item._meta.get_field("external_id").max_length
PRIORITY_RANGE = (-32768, 32767)

READ_SIZE = 1 << 20
# A JSON array element that is still not complete after this many characters is reported as
# broken rather than read further: a syntax error must not pull the rest of the file in.
MAX_ELEMENT_CHARS = 16 << 20
PROGRESS_EVERY = 10_000
EXISTING_CHUNK = 10_000
COPY_CHUNK = 1000
PORTABLE_CHUNK = 500
# Advisory lock keys are (namespace, project id); ids wrap at 2**31, which can only make two
# uploads to different projects wait for each other.
LOCK_NAMESPACE = 0x1A6E57


class Row(NamedTuple):
    """A valid row. ``data_json`` and ``gold_json`` are the upload's own JSON text for those
    values when it had any (JSON formats), so storing the row needs no serializing."""

    external_id: str
    data: dict
    gold: Any
    priority: int
    data_json: str | None = None
    gold_json: str | None = None


class Unreadable(NamedTuple):
    """What a reader yields for a row it could not turn into a value: (field, message) pairs."""

    errors: list[tuple[str, str]]


class MalformedUpload(Exception):
    """The file cannot be read past this point (broken JSON array, bad CSV header, not UTF-8)."""

    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(message)
        self.errors = [row_error(row, field, message)]


class UploadRejected(Exception):
    """The upload has bad rows; ``errors`` lists them and nothing was written."""

    def __init__(self, errors: list[dict]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the upload")
        self.errors = errors


def row_error(row: int, field: str, message: str) -> dict:
    return {"row": row, "field": field, "message": message}


# -- readers ------------------------------------------------------------------------------


_DECODER = jsonvalues.DECODER
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"Is not valid JSON: {exc.msg}."
    if isinstance(exc, UnicodeDecodeError):
        return "Is not UTF-8 text."
    if isinstance(exc, RecursionError):
        return jsonvalues.depth_message(jsonvalues.max_depth())
    return f"Is not valid JSON: {exc}."


def _unstorable(value: Any, level: int) -> str | None:
    """Why a parsed value, held in ``level`` arrays and objects, cannot be stored
    (``config.jsonvalues``: a NUL, an unpaired surrogate, an infinite number, nesting too
    deep), or None."""
    found = jsonvalues.problem(value, jsonvalues.max_depth(), level)
    return None if found is None else found[1]


def _storable(value: Any) -> Any:
    """Return the row value, or an Unreadable naming the part of it that cannot be stored.
    The row itself is the first level of nesting, its data and gold the second."""
    if not isinstance(value, dict):
        problem = _unstorable(value, 0)
        return value if problem is None else Unreadable([(NON_FIELD, problem)])
    errors = []
    for key, part in value.items():
        if problem := jsonvalues.text_problem(key):
            errors.append((NON_FIELD, problem))
        elif key == "data" and isinstance(part, dict):
            errors += [(str(name), problem) for name, item in part.items()
                       if (problem := _unstorable(name, 0) or _unstorable(item, 2))]
        elif key == "gold" and isinstance(part, dict):
            errors += [(f"gold.{name}", problem) for name, item in part.items()
                       if (problem := _unstorable(name, 0) or _unstorable(item, 2))]
        elif problem := _unstorable(part, 1):
            errors.append((str(key), problem))
    return Unreadable(errors) if errors else value


def _decode(text: str, pos: int) -> tuple[Any, dict[str, str] | None, int]:
    """Decode the JSON value at ``pos``: (value, source, end). For an object, ``source``
    holds the text of its ``data`` and ``gold`` members, which is what gets stored.

    The top level of an object is walked here with json's own scanner for each member;
    anything else, and anything broken, is left to ``raw_decode``, which words the error.
    """
    try:
        return _decode_members(text, pos)
    except (ValueError, IndexError, StopIteration):
        value, end = _DECODER.raw_decode(text, pos)
        return value, None, end


def _decode_members(text: str, pos: int) -> tuple[dict, dict[str, str], int]:
    if text[pos] != "{":
        raise ValueError("not an object")
    value: dict[str, Any] = {}
    source: dict[str, str] = {}
    pos += 1
    while text[pos] in _BLANK:
        pos += 1
    if text[pos] == "}":
        return value, source, pos + 1
    while True:
        if text[pos] != '"':
            raise ValueError("expected a member name")
        key, pos = scanstring(text, pos + 1)
        while text[pos] in _BLANK:
            pos += 1
        if text[pos] != ":":
            raise ValueError("expected ':'")
        pos += 1
        while text[pos] in _BLANK:
            pos += 1
        start = pos
        value[key], pos = _SCAN(text, pos)
        if key in _SOURCED:
            source[key] = text[start:pos]
        while text[pos] in _BLANK:
            pos += 1
        if text[pos] == ",":
            pos += 1
            while text[pos] in _BLANK:
                pos += 1
        elif text[pos] == "}":
            return value, source, pos + 1
        else:
            raise ValueError("expected ',' or '}'")


_SCAN = _DECODER.scan_once
_BLANK = " \t\n\r"
_SOURCED = frozenset({"data", "gold"})


def read_jsonl(stream: BinaryIO) -> Iterator[tuple[int, Any, dict | None]]:
    """One JSON value per line; blank lines are skipped but still counted."""
    for number, line in enumerate(stream, start=1):
        if line.isspace():
            continue
        try:
            text = line.decode()
            if number == 1:
                text = text.removeprefix("\ufeff")
            value, source, end = _decode(text, _WHITESPACE.match(text).end())
            if end < len(text) and not text[end:].isspace():
                raise json.JSONDecodeError("Extra data", text, end)
        except (ValueError, RecursionError) as exc:
            yield number, Unreadable([(NON_FIELD, _json_problem(exc))]), None
            continue
        suspect = jsonvalues.needs_walk(line, jsonvalues.max_depth())
        yield number, _storable(value) if suspect else value, source


def read_json_array(stream: BinaryIO) -> Iterator[tuple[int, Any, dict | None]]:
    """The elements of one top-level JSON array, decoded one at a time from a sliding buffer."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig")
    try:
        yield from _array_elements(text)
    finally:
        text.detach()


def _cut_short(exc: Exception, text: str) -> bool:
    """Whether decoding failed for want of more text, not on a syntax error."""
    return isinstance(exc, json.JSONDecodeError) and (
        exc.msg.startswith("Unterminated string") or exc.pos >= len(text))


def _array_elements(text: io.TextIOWrapper) -> Iterator[tuple[int, Any, dict | None]]:
    buffer, pos, number = "", 0, 0

    def more() -> bool:
        nonlocal buffer, pos
        try:
            # Read at least as much again as is pending, so a huge element costs linear time.
            chunk = text.read(max(READ_SIZE, len(buffer) - pos))
        except UnicodeDecodeError as exc:
            raise MalformedUpload(max(number, 1), NON_FIELD, "The file is not UTF-8 text.") \
                from exc
        if not chunk:
            return False
        buffer, pos = buffer[pos:] + chunk, 0
        return True

    def peek() -> str:
        nonlocal pos
        while True:
            pos = _WHITESPACE.match(buffer, pos).end()
            if pos < len(buffer) or not more():
                return buffer[pos:pos + 1]

    if peek() != "[":
        raise MalformedUpload(0, NON_FIELD, "The upload must be a JSON array of items, "
                                            '[{"external_id": ..., "data": {...}}, ...].')
    pos += 1
    if peek() == "]":
        pos += 1
    else:
        while True:
            number += 1
            peek()
            while True:
                try:
                    value, source, end = _decode(buffer, pos)
                except (ValueError, RecursionError) as exc:
                    if len(buffer) - pos < MAX_ELEMENT_CHARS and more():
                        continue
                    if _cut_short(exc, buffer) and more():
                        raise MalformedUpload(number, NON_FIELD, (
                            f"Item {number} is larger than {MAX_ELEMENT_CHARS:,} characters, "
                            "the most one item may hold.")) from exc
                    raise MalformedUpload(number, NON_FIELD, _json_problem(exc)) from exc
                # A number at the very end of the buffer may continue in the next block.
                if end < len(buffer) or not more():
                    break
            start, pos = pos, end
            if jsonvalues.needs_walk(buffer[start:end], jsonvalues.max_depth()):
                value = _storable(value)
            yield number, value, source
            separator = peek()
            if separator == ",":
                pos += 1
                continue
            if separator == "]":
                pos += 1
                break
            raise MalformedUpload(number, NON_FIELD, (
                f"Expected ',' or ']' after item {number}, found {separator!r}." if separator
                else "The JSON array is not closed with ']'."))
    if peek():
        raise MalformedUpload(number, NON_FIELD, "Unexpected data after the closing ']'.")


CSV_RESERVED = ("external_id", "gold", "priority")


def read_csv(stream: BinaryIO, fields: list[dict]) -> Iterator[tuple[int, Any, None]]:
    """Data rows of a CSV file with a header: ``external_id``, one column per field, and
    optionally ``gold`` (JSON) and ``priority``. Those three names are reserved for these
    columns. Rows are numbered from 1 after the header; blank lines are not rows."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    number = 0
    try:
        reader = csv.DictReader(text, strict=True)
        _check_header(reader.fieldnames, fields)
        for row in reader:
            number += 1
            yield number, _csv_record(row, fields), None
    except csv.Error as exc:
        raise MalformedUpload(number + 1, NON_FIELD, f"Is not valid CSV: {exc}.") from exc
    except UnicodeDecodeError as exc:
        raise MalformedUpload(number + 1, NON_FIELD, "The file is not UTF-8 text.") from exc
    finally:
        text.detach()


def _check_header(header: list[str] | None, fields: list[dict]) -> None:
    if not header:
        raise MalformedUpload(0, NON_FIELD, "The CSV file is empty; it needs a header row.")
    names = {field["name"] for field in fields}
    for index, column in enumerate(header):
        if column in header[:index]:
            raise MalformedUpload(0, column, "The header names this column more than once.")
        if column not in names and column not in CSV_RESERVED:
            raise MalformedUpload(0, column, (
                "Unknown column; the columns are external_id, "
                f"{', '.join(field['name'] for field in fields)}, and optionally gold and "
                "priority."))
    if "external_id" not in header:
        raise MalformedUpload(0, "external_id", "The header has no external_id column.")


def _csv_record(row: dict, fields: list[dict]) -> Any:
    errors: list[tuple[str, str]] = []
    record: dict[str, Any] = {"external_id": row.pop("external_id") or ""}
    gold = row.pop("gold", None)
    if gold:
        try:
            record["gold"] = _DECODER.decode(gold)
        except (ValueError, RecursionError) as exc:
            errors.append(("gold", _json_problem(exc)))
    priority = row.pop("priority", None)
    if priority:
        if is_whole_number(priority.strip()):
            record["priority"] = int(priority)
        else:
            errors.append(("priority", f"Must be a whole number, got {priority!r}."))
    record["data"], cell_errors = parse_csv_row(fields, row)
    errors += cell_errors
    return Unreadable(errors) if errors else _storable(record)


def read_rows(stream: BinaryIO, file_format: str,
              fields: list[dict]) -> Iterator[tuple[int, Any, dict | None]]:
    """(row number, value, source) for each row of an upload: ``source`` is the JSON text of
    the row's data and gold (None for CSV), and a value the reader could not parse is an
    ``Unreadable``. Raises ``MalformedUpload`` where the file stops being readable."""
    if file_format == "jsonl":
        return read_jsonl(stream)
    if file_format == "json":
        return read_json_array(stream)
    return read_csv(stream, fields)


# -- validation ---------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(value), type(value).__name__)


class RowChecker:
    """Validates the rows of one upload and remembers what was wrong with them.

    It stops collecting after ``MAX_REPORTED_ROWS`` bad rows and at the row limit,
    and it knows every external_id seen, to find repeats inside the upload.
    """

    def __init__(self, fields: list[dict], questions: list[dict], *, max_rows: int) -> None:
        self.fields = fields
        self.max_rows = max_rows
        self.rows = 0
        self.bad_rows = 0
        self.errors: list[dict] = []
        self.finished = False
        self._validator = ItemValidator(fields, questions)
        self._seen: dict[str, int] = {}

    @property
    def external_ids(self) -> Collection[str]:
        return self._seen.keys()

    def read(self, stream: BinaryIO, file_format: str) -> Iterator[Row | None]:
        """Check every row of the upload in turn, yielding it (None when it is bad) until the
        end of the file or until enough is known to refuse the upload."""
        try:
            for number, value, source in read_rows(stream, file_format, self.fields):
                if self.rows == self.max_rows:
                    self.reject([row_error(number, NON_FIELD, (
                        f"An upload holds at most {self.max_rows:,} rows; split this one into "
                        "several batches."))])
                    return
                yield self.check(number, value, source)
                if self.finished:
                    return
        except MalformedUpload as exc:
            self.reject(exc.errors)
            return
        if self.rows == 0 and not self.errors:
            self.reject([row_error(0, NON_FIELD, "The upload holds no items.")])

    def reject(self, errors: list[dict]) -> None:
        self.errors += errors
        self.finished = True

    def check(self, number: int, value: Any, source: dict | None = None) -> Row | None:
        self.rows += 1
        problems = self._problems(number, value)
        if not problems:
            gold = value.get("gold")
            source = source or {}
            return Row(value["external_id"], value["data"], gold, value.get("priority", 0),
                       source.get("data"), None if gold is None else source.get("gold"))
        self.bad_rows += 1
        self.errors += [row_error(number, field, message) for field, message in problems]
        self.finished = self.bad_rows >= MAX_REPORTED_ROWS
        return None

    def _problems(self, number: int, value: Any) -> list[tuple[str, str]]:
        if isinstance(value, Unreadable):
            return value.errors
        if not isinstance(value, dict):
            return [(NON_FIELD, "Must be an object with external_id and data, got "
                                f"{_type_name(value)}.")]
        problems = [] if value.keys() <= _ITEM_KEY_SET else [
            (str(key), f"Unknown key; an item has {', '.join(ITEM_KEYS)}.")
            for key in value if key not in _ITEM_KEY_SET]
        external_id = value.get("external_id")
        if not isinstance(external_id, str):
            problems.append(("external_id", FIELD_REQUIRED if external_id is None else
                             f"Must be a string, got {_type_name(external_id)}."))
        elif not external_id.strip():
            problems.append(("external_id", "Cannot be blank."))
        elif len(external_id) > EXTERNAL_ID_MAX_LENGTH:
            problems.append(("external_id", f"Must have at most {EXTERNAL_ID_MAX_LENGTH} "
                                            f"characters, got {len(external_id)}."))
        else:
            first = self._seen.setdefault(external_id, number)
            if first != number:
                problems.append(("external_id", f"Repeats the external_id of row {first}."))
        if "data" not in value:
            problems.append(("data", FIELD_REQUIRED))
            data_ok = False
        else:
            data_problems = self._validator.validate(value["data"])
            if data_problems:
                problems += [("data" if field == NON_FIELD else field, message)
                             for field, message in data_problems]
            data_ok = not data_problems
        gold = value.get("gold")
        if gold is not None and data_ok:
            if gold == {}:
                problems.append(("gold", "A gold item needs the answer to at least one "
                                         "question."))
            problems += [("gold" if field == NON_FIELD else f"gold.{field}", message)
                         for field, message in self._validator.validate_gold(value["data"], gold)]
        priority = value.get("priority", 0)
        low, high = PRIORITY_RANGE
        if type(priority) is not int or not low <= priority <= high:
            problems.append(("priority", f"Must be a whole number from {low} to {high}, got "
                                         f"{json.dumps(priority)}."))
        return problems


# -- writing ------------------------------------------------------------------------------
# On PostgreSQL rows go in through COPY in its binary format: nothing is escaped on the way
# and the server parses no text but the JSON, which is most of what COPY costs it per row.

COPY_ITEMS = (
    "COPY tasks_item (external_id, data, gold, is_gold, priority, project_id, batch_id, "
    "overlap, filled, annotated, created_at) FROM STDIN (FORMAT BINARY)"
)
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"
_FIELDS = struct.pack(">h", 11)
_LENGTH = struct.Struct(">i").pack
_PRIORITY = struct.Struct(">ih").pack
_JSONB = b"\x01"  # jsonb's binary form: a version byte, then the JSON text
_NOT_GOLD = _LENGTH(-1) + _LENGTH(1) + b"\x00"
_GOLD = _LENGTH(1) + b"\x01"
_SHARED = struct.Struct(">iqiqihihihiq")
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def shared_columns(project: Project, batch: Batch, now: datetime) -> bytes:
    """project_id, batch_id, overlap, filled, annotated and created_at, the columns every row
    of a batch has, as the end of a binary COPY tuple."""
    return _SHARED.pack(8, project.pk, 8, batch.pk, 2, project.overlap, 2, 0, 2, 0,
                        8, (now - _POSTGRES_EPOCH) // timedelta(microseconds=1))


def copy_record(row: Row, shared: bytes) -> bytes:
    """The row as a binary COPY tuple: its own columns, then ``shared``. JSON the upload
    brought along is stored as it is."""
    external_id = row.external_id.encode()
    data = (row.data_json if row.data_json is not None else json.dumps(row.data)).encode()
    if row.gold is None:
        gold = _NOT_GOLD
    else:
        text = (row.gold_json if row.gold_json is not None else json.dumps(row.gold)).encode()
        gold = b"".join((_LENGTH(len(text) + 1), _JSONB, text, _GOLD))
    return b"".join((_FIELDS, _LENGTH(len(external_id)), external_id, _LENGTH(len(data) + 1),
                     _JSONB, data, gold, _PRIORITY(2, row.priority), shared))


def _lock_project(project_id: int) -> None:
    """Serialize uploads to one project until the transaction ends. SQLite needs nothing:
    its IMMEDIATE transactions already let one writer in at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                           [LOCK_NAMESPACE, project_id % 2**31])


def _chunks(values: Iterable, size: int) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def existing_external_ids(project_id: int, among: Iterable[str] | None = None) -> set[str]:
    """The project's external_ids; only those ``among`` the given ones when they are given,
    asked in chunks."""
    items = Item.objects.filter(project_id=project_id).values_list("external_id", flat=True)
    if among is None:
        return set(items.iterator(chunk_size=EXISTING_CHUNK))
    found: set[str] = set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for chunk in _chunks(among, EXISTING_CHUNK):
                cursor.execute("SELECT external_id FROM tasks_item "
                               "WHERE project_id = %s AND external_id = ANY(%s)",
                               [project_id, chunk])
                found.update(external_id for (external_id,) in cursor.fetchall())
        return found
    for chunk in _chunks(among, PORTABLE_CHUNK):
        found.update(items.filter(external_id__in=chunk))
    return found


def store_rows(project: Project, batch: Batch, rows: Iterable[Row]) -> int:
    """Insert the rows as new items of the batch with the project's overlap; returns how
    many. On PostgreSQL it is a single COPY fed in chunks while ``rows`` is still being
    produced, so the server stores rows as the client reads and checks the next ones."""
    if connection.vendor != "postgresql":
        created = 0
        for chunk in _chunks(rows, PORTABLE_CHUNK):
            Item.objects.bulk_create(
                Item(project=project, batch=batch, external_id=row.external_id, data=row.data,
                     gold=row.gold, is_gold=row.gold is not None, priority=row.priority,
                     overlap=project.overlap)
                for row in chunk)
            created += len(chunk)
        return created
    shared = shared_columns(project, batch, timezone.now())
    # Rows are encoded as they come, so that only bytes wait for the next write: holding a
    # chunk of parsed rows instead keeps the garbage collector busy.
    records = [COPY_HEADER]
    with connection.cursor() as cursor:
        with cursor.cursor.copy(COPY_ITEMS) as copy:
            for row in rows:
                records.append(copy_record(row, shared))
                if len(records) >= COPY_CHUNK:
                    copy.write(b"".join(records))
                    records.clear()
            records.append(COPY_TRAILER)
            copy.write(b"".join(records))
        return cursor.cursor.rowcount


def _finish(project: Project, batch: Batch, *, rows: int, created: int, existing: int) -> Batch:
    """Inside the locked transaction, once the items are in: complete the batch, reopen a
    completed project that received new work, and announce the batch."""
    batch.rows = rows
    batch.created = created
    batch.existing = existing
    batch.status = Batch.Status.DONE
    batch.errors = []
    batch.finished_at = timezone.now()
    batch.save(update_fields=["rows", "created", "existing", "status", "errors", "finished_at"])
    if (created and project.status == Project.Status.COMPLETED
            and batch.items.filter(is_gold=False).exists()):
        project.status = Project.Status.ACTIVE
        project.save(update_fields=["status", "updated_at"])
    batch_ingested.send(sender=Project, batch=batch)
    return batch


# -- the service --------------------------------------------------------------------------


def uploads_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "uploads"


def format_of(filename: str) -> str | None:
    """The upload format a file name announces by its extension, or None."""
    return EXTENSIONS.get(Path(filename or "").suffix.lower())


def answered_in_background(batch: Batch) -> bool:
    """Whether the batch was (or is being) ingested by the job, i.e. first answered 202.
    ``upload_path`` is kept after the job deletes the file, as the record of that."""
    return bool(batch.upload_path)


class _MeteredUpload(io.RawIOBase):
    """The client's stream, counted against the size limit and copied to a spool file as it
    is read, so an upload found too large for the request can be handed to the job whole."""

    def __init__(self, source: BinaryIO, limit: int, spool: BinaryIO) -> None:
        super().__init__()
        self._source, self._limit, self._spool = source, limit, spool
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        self.size += len(data)
        if self.size > self._limit:
            raise PayloadTooLarge(too_large_message(self._limit), limit=self._limit)
        self._spool.write(data)
        buffer[:len(data)] = data
        return len(data)

    def drain(self) -> None:
        buffer = bytearray(READ_SIZE)
        while self.readinto(buffer):
            pass


def too_large_message(limit: int) -> str:
    return (f"The upload is larger than {limit:,} bytes, the most one batch may hold; split "
            "it into several batches.")


def _check_open(project: Project) -> None:
    if project.status == Project.Status.ARCHIVED:
        raise Conflict("The project is archived; it takes no new items.", code="archived")


def _replay(project: Project, idempotency_key: str) -> Batch | None:
    if not idempotency_key:
        return None
    return Batch.objects.filter(project=project, idempotency_key=idempotency_key).first()


def upload(*, user, project: Project, stream: BinaryIO, file_format: str, filename: str = "",
           idempotency_key: str = "") -> Batch:
    """Ingest an upload, or spool it and queue ``run_batch`` when it has more rows than
    ``settings.BATCH_SYNC_ROW_LIMIT``.

    A repeated ``idempotency_key`` returns the project's batch of that key without reading
    the stream. Raises ``UploadRejected`` (nothing written), ``PayloadTooLarge``, ``Conflict``
    for an archived project and ``PermissionDenied`` for roles that may not upload.
    """
    require(user, Action.EDIT_PROJECTS, project.organization_id)
    if file_format not in FORMATS:
        raise ValueError(f"unknown upload format {file_format!r}")
    replay = _replay(project, idempotency_key)
    if replay is not None:
        return replay
    _check_open(project)
    checker = RowChecker(project.fields, project.questions, max_rows=settings.BATCH_MAX_ROWS)
    spooled = _new_spool_path(file_format)
    rows: list[Row] = []
    batch = None
    try:
        with open(spooled, "wb") as spool:
            metered = _MeteredUpload(stream, settings.BATCH_MAX_BYTES, spool)
            for row in checker.read(io.BufferedReader(metered, READ_SIZE), file_format):
                if checker.rows > settings.BATCH_SYNC_ROW_LIMIT:
                    metered.drain()
                    break
                if row is not None:
                    rows.append(row)
        if checker.rows > settings.BATCH_SYNC_ROW_LIMIT:
            batch = _defer(user, project, spooled, file_format, filename, idempotency_key)
            return batch
    finally:
        if batch is None or not answered_in_background(batch):
            spooled.unlink(missing_ok=True)
    if checker.errors:
        raise UploadRejected(checker.errors)
    with transaction.atomic():
        _lock_project(project.pk)
        replay = _replay(project, idempotency_key)
        if replay is not None:
            return replay
        project = Project.objects.get(pk=project.pk)
        _check_open(project)
        batch = Batch.objects.create(
            project=project, created_by=user, idempotency_key=idempotency_key,
            filename=filename, file_format=file_format, status=Batch.Status.PROCESSING)
        existing = existing_external_ids(project.pk, checker.external_ids)
        created = store_rows(project, batch,
                             [row for row in rows if row.external_id not in existing])
        return _finish(project, batch, rows=len(rows), created=created, existing=len(existing))


def _new_spool_path(file_format: str) -> Path:
    directory = uploads_dir()
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=f".{file_format}")
    os.close(handle)
    return Path(name)


def _defer(user, project: Project, spooled: Path, file_format: str, filename: str,
           idempotency_key: str) -> Batch:
    """Record a pending batch for the spooled file and queue the job once it is committed."""
    with transaction.atomic():
        _lock_project(project.pk)
        replay = _replay(project, idempotency_key)
        if replay is not None:
            return replay
        _check_open(Project.objects.get(pk=project.pk))
        batch = Batch.objects.create(
            project=project, created_by=user, idempotency_key=idempotency_key,
            filename=filename, file_format=file_format,
            upload_path=spooled.relative_to(settings.MEDIA_ROOT).as_posix())
        enqueue("tasks.jobs.process_batch", batch.pk, key=f"tasks.process_batch:{batch.pk}",
                give_up="tasks.jobs.give_up_batch")
    return batch


FINISHED = (Batch.Status.DONE, Batch.Status.FAILED)


def _finish_failed(batch: Batch, errors: list[dict]) -> Batch:
    batch.status = Batch.Status.FAILED
    batch.errors = errors
    batch.finished_at = timezone.now()
    batch.save(update_fields=["status", "errors", "finished_at"])
    return batch


def fail_batch(batch_id: int, message: str) -> None:
    """End a batch that is not done as failed, with the message as its error, and delete its
    spooled file; a finished batch is left as it is."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch_id)
        if batch.status in FINISHED:
            return
        _finish_failed(batch, [row_error(0, NON_FIELD, message)])
    if batch.upload_path:
        (Path(settings.MEDIA_ROOT) / batch.upload_path).unlink(missing_ok=True)


def run_batch(batch_id: int) -> Batch:
    """Ingest a spooled upload in one pass: rows are checked and streamed into the database
    in the same transaction, which is rolled back if any row is bad.

    A batch that is already done or failed is left alone, so the job is safe to run twice;
    the spooled file is deleted once the batch is done or failed, and kept for a retry if the
    job breaks off. The project's external_ids are read once up front (a few tens of MB for
    a million items) so that the rows can go in as one statement.
    """
    batch = Batch.objects.get(pk=batch_id)
    if batch.status in FINISHED:
        return batch
    # Conditional, so that a second run of the job cannot undo the first one's result.
    Batch.objects.filter(pk=batch.pk, status__in=[Batch.Status.PENDING, Batch.Status.PROCESSING]
                         ).update(status=Batch.Status.PROCESSING, rows=0)
    path = Path(settings.MEDIA_ROOT) / batch.upload_path
    try:
        with transaction.atomic():
            batch = _ingest_spooled(batch, path)
    except UploadRejected as rejected:
        batch = _finish_failed(batch, rejected.errors)
    path.unlink(missing_ok=True)
    return batch


def _ingest_spooled(batch: Batch, path: Path) -> Batch:
    _lock_project(batch.project_id)
    batch.refresh_from_db()
    if batch.status in FINISHED:
        return batch
    if not path.exists():
        raise UploadRejected([row_error(0, NON_FIELD, (
            "The uploaded file is no longer available; upload it again."))])
    project = Project.objects.get(pk=batch.project_id)
    if project.status == Project.Status.ARCHIVED:
        raise UploadRejected([row_error(0, NON_FIELD, (
            "The project was archived before the upload was stored."))])
    existing = existing_external_ids(project.pk)
    checker = RowChecker(project.fields, project.questions, max_rows=settings.BATCH_MAX_ROWS)

    def new_rows(stream: BinaryIO, publish: Callable[[int], None]) -> Iterator[Row]:
        for row in checker.read(stream, batch.file_format):
            if checker.rows % PROGRESS_EVERY == 0:
                publish(checker.rows)
            if row is not None and not checker.errors and row.external_id not in existing:
                yield row
        if checker.errors:
            raise UploadRejected(checker.errors)

    with open(path, "rb", buffering=READ_SIZE) as stream, _progress(batch.pk) as publish:
        created = store_rows(project, batch, new_rows(stream, publish))
    return _finish(project, batch, rows=checker.rows, created=created,
                   existing=checker.rows - created)


@contextmanager
def _progress(batch_id: int) -> Iterator[Callable[[int], None]]:
    """Publish the rows read so far while the ingest transaction is still open, on a
    connection of its own. SQLite lets one connection write at a time, so there the count
    appears only with the finished batch."""
    if connection.vendor != "postgresql":
        yield lambda rows: None
        return
    own = connections.create_connection(DEFAULT_DB_ALIAS)
    own.set_autocommit(True)

    def publish(rows: int) -> None:
        with own.cursor() as cursor:
            cursor.execute(f"UPDATE {Batch._meta.db_table} SET rows = %s WHERE id = %s",
                           [rows, batch_id])

    try:
        yield publish
    finally:
        own.close()
