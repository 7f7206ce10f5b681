"""The connection pool on PostgreSQL: it survives a fork, and it bounds the connections a
threaded server opens however many requests arrive at once."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection

from tests import factories
from tests.servers import database_url, get, runserver

pytestmark = pytest.mark.postgres

APPLICATION = "annomarket-pool-test"


def query(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_a_forked_process_opens_connections_of_its_own():
    """A qcluster worker is forked by a parent that has used the database: the child must not
    take the parent's pooled connections, and dropping them must not end the parent's."""
    assert connection.pool is not None
    query("SELECT 1")
    connection.close()  # back to the pool, idle, as before django-q forks a worker
    forked_at = query("SELECT clock_timestamp()")
    connection.close()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            import gc

            started = query("SELECT backend_start FROM pg_stat_activity "
                            "WHERE pid = pg_backend_pid()")
            connection.close()
            gc.collect()
            os.write(writer, b"new" if started > forked_at else b"inherited")
        finally:
            os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader, "rb") as answer:
        assert answer.read() == b"new"
    assert query("SELECT 41 + 1") == 42


def peak_connections(url: str, requests: int, at_once: int,
                     headers: dict) -> tuple[int, int, list[int]]:
    """Send the requests ``at_once`` at a time while counting the server's connections to
    PostgreSQL; the most seen at once, the count once the requests have ended, and the
    statuses."""
    counting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    seen, done = [0], threading.Event()

    def count() -> None:
        with psycopg.connect(database_url(), autocommit=True) as watcher:
            while not done.is_set():
                seen.append(watcher.execute(counting, [APPLICATION]).fetchone()[0])
                time.sleep(0.01)

    watcher = threading.Thread(target=count)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=at_once) as clients:
            statuses = list(clients.map(
                lambda _: get(f"{url}/api/v1/me/", headers=headers).status, range(requests)))
    finally:
        done.set()
        watcher.join()
    time.sleep(0.5)
    with psycopg.connect(database_url(), autocommit=True) as watcher:
        after = watcher.execute(counting, [APPLICATION]).fetchone()[0]
    return max(seen), after, statuses


def test_a_threaded_server_never_holds_more_connections_than_the_pool(tmp_path, expert):
    token = factories.token_for(expert)
    with runserver(tmp_path, DATABASE_URL=database_url(application_name=APPLICATION),
                   DATABASE_POOL_MIN_SIZE="1", DATABASE_POOL_MAX_SIZE="4") as url:
        peak, after, statuses = peak_connections(url, 300, 50,
                                                 {"Authorization": f"Token {token}"})
    assert statuses == [200] * 300
    assert 2 <= peak <= 4
    assert after <= 4


def test_without_the_pool_the_development_server_keeps_a_connection_per_thread(tmp_path,
                                                                               expert):
    """How PostgreSQL once ran out of connections, which the test above guards against: every
    request's thread leaves its connection open. Kept to a dozen requests, since the server's
    connection slots are shared with whatever else uses it."""
    token = factories.token_for(expert)
    with runserver(tmp_path, DATABASE_URL=database_url(application_name=APPLICATION),
                   DATABASE_POOL="0", CONN_MAX_AGE="60") as url:
        _, after, statuses = peak_connections(url, 12, 12,
                                              {"Authorization": f"Token {token}"})
    assert statuses == [200] * 12
    assert after > 4
