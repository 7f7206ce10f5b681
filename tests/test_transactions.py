import threading

import pytest
from django.db import OperationalError, connection, transaction

from accounts.models import Organization
from config.transactions import ATTEMPTS, retried_on_deadlock
from tests import factories
from tests.concurrency import race


def _opposite_orders(*, retried: bool, inside: bool = False):
    """Two transactions that lock the same two rows in opposite orders, meeting in the
    middle on their first attempt only; returns what each call gave and each one's number
    of attempts. ``inside`` runs each call within a transaction of its caller's."""
    first, second = (factories.customer().memberships.get().organization for _ in range(2))
    met = threading.Barrier(2, timeout=10)
    attempts = {"forward": 0, "backward": 0}
    committed = {"forward": threading.Event(), "backward": threading.Event()}

    def lock_both(name, rows):
        attempts[name] += 1
        if attempts[name] > 1:
            # A retry starts once the survivor is through, or the two could race for the
            # freed row and meet again, which is load, not the retry, at work.
            (other,) = set(committed) - {name}
            committed[other].wait(timeout=10)
        with transaction.atomic():
            Organization.objects.filter(pk=rows[0].pk).update(name=f"{name} 1")
            if attempts[name] == 1:
                met.wait()
            Organization.objects.filter(pk=rows[1].pk).update(name=f"{name} 2")
        committed[name].set()
        return name

    call = retried_on_deadlock(lock_both) if retried else lock_both

    def run(name, rows):
        if not inside:
            return call(name, rows)
        with transaction.atomic():
            return call(name, rows)

    outcomes = race(lambda: run("forward", (first, second)),
                    lambda: run("backward", (second, first)))
    return outcomes, attempts


@pytest.mark.postgres
def test_the_transaction_a_deadlock_aborted_runs_again():
    outcomes, attempts = _opposite_orders(retried=True)
    assert outcomes == ["forward", "backward"]
    assert sorted(attempts.values()) == [1, 2]


@pytest.mark.postgres
def test_without_the_retry_one_side_of_the_deadlock_fails():
    outcomes, _ = _opposite_orders(retried=False)
    assert sum(isinstance(outcome, OperationalError) for outcome in outcomes) == 1


@pytest.mark.postgres
def test_a_deadlock_inside_a_callers_transaction_goes_up_to_the_caller():
    outcomes, attempts = _opposite_orders(retried=True, inside=True)
    assert sum(isinstance(outcome, OperationalError) for outcome in outcomes) == 1
    assert attempts == {"forward": 1, "backward": 1}


@pytest.mark.postgres
def test_other_database_errors_are_not_retried():
    calls = []

    @retried_on_deadlock
    def too_slow():
        calls.append(1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 10")
            cursor.execute("SELECT pg_sleep(1)")

    with pytest.raises(OperationalError):
        too_slow()
    assert len(calls) == 1 < ATTEMPTS
