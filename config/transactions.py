"""Transactions that PostgreSQL aborted to break a deadlock run again.

Locks are taken in one order wherever the code can choose it, but not everywhere: a lease
locks its item and then the customer's accounts, while a review pays from those accounts
first and may then remove the expert, which locks the items of the expert's leases. When
two such transactions meet, PostgreSQL aborts one of them. Nothing the aborted one did
remains, so running it again is safe, and its caller gets a slower answer instead of an
error.
"""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import OperationalError, connection

DEADLOCK_DETECTED = "40P01"
ATTEMPTS = 3

P = ParamSpec("P")
R = TypeVar("R")


def retried_on_deadlock(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func``, a whole transaction of its own, up to ATTEMPTS times while deadlocks
    abort it. Inside a caller's transaction there is nothing to retry: that transaction is
    broken as a whole, so the error goes up to whoever opened it."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(ATTEMPTS - 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if (getattr(exc.__cause__, "sqlstate", None) != DEADLOCK_DETECTED
                        or connection.in_atomic_block):
                    raise
        return func(*args, **kwargs)

    return wrapper
