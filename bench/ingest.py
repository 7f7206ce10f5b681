"""Batch ingest: 100k items from a JSONL file into PostgreSQL through the real ingest path.

Each item is a prompt and two completions, about 1 KB of JSON, one in a hundred with a gold
answer. The figure is items per second for what a 100k-row upload goes through: the request
side (reading the first rows, spooling the file) and then the background job (checking every
row while streaming it into one binary COPY under the project's lock, the batch bookkeeping
and the commit).

The baseline is the least a loader of the same file must do: read each line, pull out
``external_id`` and ``data``, and COPY them with psycopg into a bare two-column table
(``external_id text, data jsonb``, no keys, no indexes) in one transaction, in the same run
and on the same database. The ratio says what validation, the indexes and constraints of
``tasks_item`` and the all-or-nothing bookkeeping cost on top of that.

Both sides run ``ROUNDS`` times, interleaved, each into empty tables; the best round of each
counts, the usual defence against a machine that is busy with something else.
"""

import json
import random
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
from django.db import connection
from django.test import override_settings
from django_q.conf import Conf

from accounts import services as account_services
from accounts.models import Domain
from tasks import ingest, services
from tasks.models import Batch

from .common import conninfo, result, timed

ITEMS = 100_000
ROUNDS = 5
TARGET_RATIO = 0.5
VOCABULARY = (
    "the patient presented with acute chest pain radiating to the left arm and an elevated "
    "troponin level suggesting myocardial injury although the electrocardiogram showed only "
    "nonspecific changes so the differential includes pericarditis aortic dissection and "
    "pulmonary embolism which require different imaging and treatment strategies dose "
    "adjustment renal function beta blocker anticoagulation risk benefit guideline evidence"
)
WORDS = VOCABULARY.split()
ACCENTED = ["café", "naïve", "37 °C", "β-blocker", "Ménière"]


def _text(rng: random.Random, size: int) -> str:
    words, length = [], 0
    while length < size:
        word = rng.choice(WORDS)
        if rng.random() < 0.01:
            word = rng.choice(ACCENTED)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def write_items(path: Path, count: int) -> int:
    """A deterministic JSONL file of preference items; returns its size in bytes."""
    rng = random.Random(2026)
    with path.open("w") as out:
        for n in range(count):
            row = {"external_id": f"bench-{n:06d}",
                   "data": {"prompt": _text(rng, 300) + "?",
                            "completions": [_text(rng, 160) + ".\n\n" + _text(rng, 160),
                                            _text(rng, 330)]}}
            if n % 100 == 0:
                row["gold"] = {"better": rng.choice("AB")}
            out.write(json.dumps(row) + "\n")
    return path.stat().st_size


def _project():
    owner = account_services.signup_customer(
        username="bench-owner", email="owner@bench.test", password="x",
        organization_name="Bench Org").user
    project = services.create_project(
        user=owner, organization=owner.memberships.get().organization, name="Ingest bench",
        domain=Domain.objects.get(slug="medicine-cardiology"), preset="preference")
    return owner, project


def _ingest(owner, project, path: Path) -> Batch:
    """The upload as the API hands it over; the job it queues runs at once, in this process."""
    with path.open("rb") as stream:
        batch = ingest.upload(user=owner, project=project, stream=stream, file_format="jsonl",
                              filename=path.name)
    batch.refresh_from_db()
    if not ingest.answered_in_background(batch):
        raise AssertionError("a 100k-row upload should go to the background job")
    if (batch.status, batch.created) != (Batch.Status.DONE, ITEMS):
        raise AssertionError(f"ingest did not store every item: {batch.status} "
                             f"{batch.created} {batch.errors[:3]}")
    return batch


@contextmanager
def _jobs_in_process():
    """django-q runs queued jobs synchronously, so none lands on a queue a worker shares."""
    synchronous, Conf.SYNC = Conf.SYNC, True
    try:
        yield
    finally:
        Conf.SYNC = synchronous


def _raw_copy(dsn: str, path: Path) -> int:
    rows = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        with cursor.copy("COPY bench_raw (external_id, data) FROM STDIN") as copy, \
                path.open("rb") as lines:
            for line in lines:
                value = json.loads(line)
                copy.write_row((value["external_id"], json.dumps(value["data"])))
                rows += 1
        conn.commit()
    return rows


def run() -> dict:
    owner, project = _project()
    dsn = conninfo(connection.settings_dict["NAME"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_raw (external_id text, data jsonb)")
    with tempfile.TemporaryDirectory() as directory, \
            override_settings(MEDIA_ROOT=directory), _jobs_in_process():
        path = Path(directory) / "items.jsonl"
        size = write_items(path, ITEMS)
        ours, theirs = [], []
        for _ in range(ROUNDS):
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE tasks_item, tasks_batch CASCADE")
            ours.append(timed(lambda: _ingest(owner, project, path))[0])
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE bench_raw")
            seconds, rows = timed(lambda: _raw_copy(dsn, path))
            if rows != ITEMS:
                raise AssertionError(f"the baseline copied {rows} rows")
            theirs.append(seconds)
    return result("ingest", ITEMS / min(ours), "items/s", baseline=ITEMS / min(theirs),
                  target=f">= {TARGET_RATIO}", items=ITEMS, megabytes=round(size / 1e6, 1),
                  seconds=[round(s, 2) for s in ours],
                  baseline_seconds=[round(s, 2) for s in theirs])
