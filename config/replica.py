"""Bulk reads that may come from a read replica of PostgreSQL.

A dataset export reads a whole project's work and writes nothing, so with
``REPORTS_DATABASE_URL`` set it reads from that database (the ``reports`` alias), a streaming
replica of the primary, and leaves the primary to the requests that write. Everything else,
agreement reports included (they read and write in one job), stays on the primary. A replica
lags its primary by a moment: an export may miss work submitted in the last seconds.

Only reads made inside ``read_from_replica`` are routed, step by step of a stream, so that a
streamed response routes its reads while it is being sent, after its view has returned.
"""

from collections.abc import Iterator
from contextvars import ContextVar
from typing import TypeVar

from django.conf import settings

REPLICA = "reports"
T = TypeVar("T")

_reading = ContextVar("annomarket_reads_from_replica", default=False)


class ReplicaRouter:
    """Reads made inside ``read_from_replica`` go to the replica, when one is configured;
    every other read and every write is left to the primary."""

    def db_for_read(self, model, **hints) -> str | None:
        if _reading.get() and REPLICA in settings.DATABASES:
            return REPLICA
        return None


def read_from_replica(steps: Iterator[T]) -> Iterator[T]:
    """``steps``, each taken with reads routed to the replica."""
    while True:
        token = _reading.set(True)
        try:
            step = next(steps)
        except StopIteration:
            return
        finally:
            _reading.reset(token)
        yield step
