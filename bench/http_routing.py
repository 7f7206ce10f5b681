"""Routing over HTTP against the framework's own floor, both measured in the same run.

The service runs as production runs it (``bench.servers``: gunicorn with the project's
configuration and 4 sync workers, ``DEBUG`` off, Redis), and 16 expert clients, each a
process of its own with one keep-alive connection and a token, pull and answer work over
HTTP (``POST /api/v1/assignments/next/`` then ``.../submit/``) until 5,000 assignments at
overlap 3 are done. The floor is the same clients, on the same server, asking
``GET /bench/floor/`` (``bench.floor_urls``): a token-authenticated request that does one
indexed read, which is what any request of this framework costs before it does anything.

An assignment is two requests, so the ratio is assignments/s over half the floor's
requests/s; the target is 0.5. ``next`` is also held to a p99 under 100 ms, and the work
done must break no invariant (``bench.invariants``).
"""

import multiprocessing
import os
import random
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from django.test.utils import override_settings
from knox.models import AuthToken

from accounts.models import Domain

from . import clients, invariants
from .common import (
    conninfo,
    operator_and_owner,
    preference_project,
    result,
    verified_experts,
)
from .floor_urls import FLOOR_PATH
from .servers import serving

EXPERTS = 16
ASSIGNMENTS = 5_000
OVERLAP = 3
ITEMS = -(-ASSIGNMENTS // OVERLAP)
WEB_WORKERS = 4
JOB_WORKERS = 1
FLOOR_SECONDS = float(os.environ.get("BENCH_FLOOR_SECONDS", "20"))
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "11"))
TARGET_RATIO = 0.5
TARGET_NEXT_P99_MS = 100.0
LOGS = Path(settings.VAR_DIR) / "bench" / "http_routing"


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
def _seed() -> dict:
    """A published unpaid project of ``ITEMS`` items at overlap 3 and verified experts
    qualified for its domain, each with a token."""
    operator, owner = operator_and_owner()
    domain = Domain.objects.get(slug="medicine-cardiology")
    project = preference_project(owner, domain, "HTTP routing", items=ITEMS, overlap=OVERLAP,
                                 prefix="h")
    experts = verified_experts(EXPERTS, domain, operator)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"project": project.pk,
            "experts": [AuthToken.objects.create(user)[1] for user in experts]}


def _session(port: int, token: str) -> clients.Session:
    return clients.Session(port, token, clients.Tally(), threading.Lock())


def _floor_client(port: int, token: str, seconds: float) -> clients.Tally:
    session = _session(port, token)
    deadline = time.time() + seconds
    while time.time() < deadline:
        session.request("GET", FLOOR_PATH, FLOOR_PATH, parse=False)
    session.connection.close()
    return session.tally


def _routing_client(port: int, token: str, project: int, seed: int) -> clients.Tally:
    """Pull and answer until the project has nothing left for this expert."""
    session, rng = _session(port, token), random.Random(seed)
    while True:
        status, leased = session.request("POST", "/api/v1/assignments/next/",
                                         "/api/v1/assignments/next/", {"project": project})
        if status != 201 or not leased:
            break
        session.request("POST", "/api/v1/assignments/{id}/submit/",
                        f"/api/v1/assignments/{leased['id']}/submit/",
                        {"answer": {"better": rng.choice("AB")}})
    session.connection.close()
    return session.tally


def _in_processes(work, arguments: list[tuple]) -> tuple[float, clients.Tally]:
    """Run ``work(*arguments[n])`` in one forked process each, started together; the
    wall-clock seconds from the start to the last one's end, and their merged tallies."""
    connections.close_all()
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(len(arguments) + 1), context.Queue()

    def wrapped(args):
        start.wait()
        results.put(work(*args))

    processes = [context.Process(target=wrapped, args=(args,)) for args in arguments]
    for process in processes:
        process.start()
    start.wait()
    started = time.perf_counter()
    merged = clients.Tally()
    for _ in processes:
        tally = results.get()
        merged.calls += tally.calls
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    return elapsed, merged


def _percentile_ms(calls: list[clients.Call], endpoint: str, fraction: float) -> float:
    ordered = sorted(seconds for name, _, seconds, status, _ in calls
                     if name == endpoint and status)
    if not ordered:
        return float("nan")
    return 1000 * ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run() -> list[dict]:
    seed = _seed()
    dbname = connection.settings_dict["NAME"]
    dsn = conninfo(dbname)
    tokens = seed["experts"]
    with tempfile.TemporaryDirectory() as var_dir, \
            serving(dbname, var_dir=Path(var_dir), logs=LOGS, redis_db=REDIS_DB,
                    web_workers=WEB_WORKERS, job_workers=JOB_WORKERS,
                    DJANGO_SETTINGS_MODULE="bench.floor_settings") as servers:
        floor_s, floor = _in_processes(_floor_client, [(servers.port, token, FLOOR_SECONDS)
                                                       for token in tokens])
        routing_s, routing = _in_processes(
            _routing_client, [(servers.port, token, seed["project"], n)
                              for n, token in enumerate(tokens)])
        tracebacks = servers.tracebacks()
    broken = invariants.violations(dsn, excluded_batches=[])
    floor_ok = [call for call in floor.calls if call[3] == 200]
    submitted = [call for call in routing.calls
                 if call[0] == "POST /api/v1/assignments/{id}/submit/" and call[3] == 200]
    errors = sum(1 for call in [*floor.calls, *routing.calls] if call[3] == 0 or call[3] >= 500)
    floor_rps = len(floor_ok) / floor_s
    rate = len(submitted) / routing_s
    next_route, submit_route = ("POST /api/v1/assignments/next/",
                                "POST /api/v1/assignments/{id}/submit/")
    return [
        result("http_floor", floor_rps, "requests/s", target=None,
               clients=EXPERTS, web_workers=WEB_WORKERS, errors=errors),
        result("http_routing", rate, "assignments/s", baseline=floor_rps / 2,
               target=f">= {TARGET_RATIO}", assignments=len(submitted),
               violations=sum(check["count"] for check in broken.values()),
               server_errors=errors, tracebacks=len(tracebacks)),
        result("http_next_p50", _percentile_ms(routing.calls, next_route, 0.5), "ms"),
        result("http_next_p99", _percentile_ms(routing.calls, next_route, 0.99), "ms",
               target=f"< {TARGET_NEXT_P99_MS}"),
        result("http_submit_p50", _percentile_ms(routing.calls, submit_route, 0.5), "ms"),
        result("http_submit_p99", _percentile_ms(routing.calls, submit_route, 0.99), "ms"),
    ]
