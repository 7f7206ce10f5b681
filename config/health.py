"""Liveness and readiness, for load balancers and orchestrators.

``/healthz`` says the process is up and answering: it touches nothing else, so a slow
database never gets healthy web processes restarted. ``/readyz`` says whether this process can
serve now: the database, the job broker and the cache each answer, or the 503 names those that
do not. The body names the kind of error only; the full message, which may carry internal
host names, goes to the log.
"""

import logging
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django_q.brokers import get_broker

logger = logging.getLogger(__name__)


class NotAnswering(Exception):
    """A dependency was reached but did not give the expected answer."""


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    """``ping`` reaches Redis; the ORM broker's ping answers without asking anything, so its
    queue is counted as well, which reads the broker's table."""
    broker = get_broker()
    if not broker.ping():
        raise NotAnswering("the broker did not answer the ping")
    broker.queue_size()


def check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    try:
        if cache.get(key) != "1":
            raise NotAnswering("the cache did not return what was stored")
    finally:
        cache.delete(key)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
}


def state_of(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as exc:  # whatever a dependency raises, readiness reports it
        logger.warning("readiness: %s is unreachable: %s", name, exc)
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    report = {name: state_of(name, check) for name, check in CHECKS.items()}
    ready = all(state == "ok" for state in report.values())
    return JsonResponse(report, status=200 if ready else 503)
