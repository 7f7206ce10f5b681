"""Running calls at the same moment from several threads, each on its own connection."""

import threading
import time

from django.db import close_old_connections, connection


def race(*calls) -> list:
    """Run the calls in threads released together; their results, or the exceptions they
    raised."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # the test inspects what each call raised
            results[index] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def deadlocks() -> int:
    """Deadlocks PostgreSQL has broken in the test database so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = "
                       "current_database()")
        return cursor.fetchone()[0]


def deadlocks_since(before: int) -> int:
    """Deadlocks broken since ``before``; a backend reports its statistics a moment after
    its transaction, so a few seconds are allowed for the count to arrive."""
    deadline = time.monotonic() + 5
    while (count := deadlocks()) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    return count - before
