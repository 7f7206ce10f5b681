"""Routing under load: 16 experts on their own connections pull and submit 20k assignments.

The baseline is the cheapest correct work queue PostgreSQL can run: a bare table dequeued
with ``FOR UPDATE SKIP LOCKED`` and acknowledged in a second transaction, by the same number
of processes in the same run. Our figure is assignments per second through the real routing
and submit services; the ratio says what eligibility, slot accounting, lease bookkeeping,
answer validation and the quality and money hooks cost on top of the bare queue.

``routing_floor`` runs only the lease statement and the submission statement of the same
code, without any of the rest, on a second project like the first: how close to the bare
queue any implementation on this schema and this framework could come on this machine.
"""

import json
import multiprocessing
import random
import statistics
import time
from collections import Counter
from datetime import timedelta

import psycopg
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, transaction
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Domain
from tasks import services
from tasks.models import Assignment, Item
from tasks.routing import LEASE_SQL_POSTGRES, next_assignment
from tasks.services import RECORD_ANSWER_SQL_POSTGRES

from .common import operator_and_owner, preference_project, verified_experts

EXPERTS = 16
OVERLAP = 3
ITEMS = 6_667  # 20,001 slots at overlap 3
TARGET_RATIO = 0.25
TARGET_P99_MS = 50.0


# Bench users never log in; hashing their passwords the production way would only add
# seconds to the set-up.
@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
def _setup():
    """The routed project, a second one like it for the floor, and the experts."""
    operator, owner = operator_and_owner()
    domain = Domain.objects.get(slug="medicine-cardiology")
    projects = [preference_project(owner, domain, name, items=ITEMS, overlap=OVERLAP,
                                   prefix="r") for name in ("Routing bench", "Floor")]
    experts = verified_experts(EXPERTS, domain, operator)
    # The statistics autovacuum would have gathered by the time a loaded project is worked.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return projects, experts


def _run_processes(target, count: int) -> tuple[float, list]:
    """Run `target(index) -> result` in `count` forked processes that start together.

    Processes, not threads: each expert is a separate client with its own connection, as
    behind a pool of web workers, and Python's interpreter lock would otherwise serialize
    the client side and measure it instead of the database.
    """
    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = context.Barrier(count + 1)
    results = context.Queue()

    def wrapped(index):
        try:
            start.wait()
            results.put((index, target(index), None))
        except BaseException as exc:
            results.put((index, None, repr(exc)))
        finally:
            connections.close_all()

    processes = [context.Process(target=wrapped, args=(n,)) for n in range(count)]
    for process in processes:
        process.start()
    start.wait()
    started = time.perf_counter()
    collected = [results.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    errors = [error for _, _, error in collected if error]
    if errors:
        raise RuntimeError(errors[0])
    return elapsed, [result for _, result, _ in sorted(collected, key=lambda r: r[0])]


def _routing(project, experts) -> tuple[int, float, list[float]]:
    def work(index):
        expert, rng = experts[index], random.Random(index)
        latencies, done = [], 0
        while True:
            started = time.perf_counter()
            try:
                assignment = next_assignment(expert, project, rng=rng).assignment
            except PermissionDenied:  # the last answer completed the project
                return done, latencies
            latencies.append(time.perf_counter() - started)
            if assignment is None:
                return done, latencies
            services.submit(assignment_id=assignment.pk, user=expert,
                            answer={"better": rng.choice("AB")})
            done += 1

    elapsed, results = _run_processes(work, len(experts))
    return (sum(done for done, _ in results), elapsed,
            [x for _, latencies in results for x in latencies])


def _floor(project, experts) -> float:
    """Assignments per second through the two statements that every lease and every
    submission must run on this schema, each in its own transaction, and nothing else: no
    eligibility, answer validation, quality or money. The gap between this and the baseline
    is what the schema and the framework cost before the product does anything."""
    answer = json.dumps({"better": "A"})

    def work(index):
        expert, done = experts[index], 0
        while True:
            now = timezone.now()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(LEASE_SQL_POSTGRES, [
                    project.pk, expert.pk, project.pk, expert.pk, now,
                    now + timedelta(seconds=project.assignment_ttl_s), 0])
                lease = cursor.fetchone()
            if lease is None:
                return done
            assignment_id, item_id = lease[:2]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(RECORD_ANSWER_SQL_POSTGRES, [
                    now, 1.0, 0, None, assignment_id, item_id, project.pk, expert.pk, answer,
                    now, item_id, True])
            done += 1

    elapsed, results = _run_processes(work, len(experts))
    return sum(results) / elapsed


def _baseline(dsn: str, rows: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_queue")
        conn.execute("CREATE TABLE bench_queue (id bigserial PRIMARY KEY, payload jsonb, "
                     "state text NOT NULL DEFAULT 'ready')")
        conn.execute("INSERT INTO bench_queue (payload) SELECT jsonb_build_object('n', g) "
                     "FROM generate_series(1, %s) g", (rows,))
        conn.execute("CREATE INDEX ON bench_queue (id) WHERE state = 'ready'")

    def work(index):
        done = 0
        with psycopg.connect(dsn) as conn:
            while True:
                with conn.transaction():
                    row = conn.execute(
                        "SELECT id FROM bench_queue WHERE state = 'ready' ORDER BY id "
                        "LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()
                    if row is None:
                        return done
                    conn.execute("UPDATE bench_queue SET state = 'leased' WHERE id = %s", row)
                with conn.transaction():
                    conn.execute("UPDATE bench_queue SET state = 'done' WHERE id = %s", row)
                done += 1

    elapsed, results = _run_processes(work, EXPERTS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_queue")
    return sum(results) / elapsed


def _violations(project) -> int:
    """Invariant breaches: over-filled items, counters out of step, an item twice to one
    expert, or slots left unanswered."""
    bad = Item.objects.filter(project=project, filled__gt=F("overlap")).count()
    live = Counter(Assignment.objects.filter(project=project, status="assigned")
                   .values_list("item_id", flat=True))
    counted = Counter(Assignment.objects.filter(project=project,
                                                status__in=Assignment.COUNTED)
                      .values_list("item_id", flat=True))
    for item_id, filled, annotated in Item.objects.filter(project=project).values_list(
            "pk", "filled", "annotated"):
        bad += filled != live[item_id] + counted[item_id] or annotated != counted[item_id]
    pairs = Counter(Assignment.objects.filter(project=project)
                    .values_list("item_id", "expert_id"))
    bad += sum(1 for n in pairs.values() if n > 1)
    bad += sum(1 for n in counted.values() if n != OVERLAP) + (ITEMS - len(counted))
    return bad


def run() -> list[dict]:
    (project, floor_project), experts = _setup()
    assignments, elapsed, latencies = _routing(project, experts)
    rate = assignments / elapsed
    floor = _floor(floor_project, experts)
    dsn = connection.get_connection_params()
    conninfo = psycopg.conninfo.make_conninfo(**{
        k: v for k, v in dsn.items() if k in {"dbname", "user", "host", "port", "password"}})
    baseline = _baseline(conninfo, assignments)
    cuts = statistics.quantiles(latencies, n=100)
    violations = _violations(project)
    return [
        {"name": "routing", "value": round(rate, 1), "unit": "assignments/s",
         "baseline": round(baseline, 1), "ratio": round(rate / baseline, 3),
         "target": f">= {TARGET_RATIO}", "assignments": assignments,
         "violations": violations},
        {"name": "routing_floor", "value": round(floor, 1), "unit": "assignments/s",
         "baseline": round(baseline, 1), "ratio": round(floor / baseline, 3),
         "target": None},
        {"name": "routing_next_p50", "value": round(cuts[49] * 1000, 2), "unit": "ms",
         "baseline": None, "ratio": None, "target": None},
        {"name": "routing_next_p99", "value": round(cuts[98] * 1000, 2), "unit": "ms",
         "baseline": None, "ratio": None, "target": f"< {TARGET_P99_MS}"},
    ]
