"""Dataset exports read from the read replica when one is configured, and nothing else does.

The replica here is the test database itself, reached under its own application name and in
read-only transactions, as a streaming replica would be: an export that tried to write there
would fail, and pg_stat_activity shows which requests opened it."""

import psycopg
import pytest

from config.replica import ReplicaRouter, read_from_replica
from tasks.models import Annotation
from tests import factories
from tests.servers import database_url, get, gunicorn

REPLICA_NAME = "annomarket-replica"


def replica_connections() -> int:
    with psycopg.connect(database_url(), autocommit=True) as watcher:
        return watcher.execute("SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = %s", [REPLICA_NAME]).fetchone()[0]


def test_without_a_replica_every_read_stays_on_the_primary():
    def steps():
        yield ReplicaRouter().db_for_read(Annotation)

    assert list(read_from_replica(steps())) == [None]


@pytest.mark.postgres
def test_an_export_streams_from_the_replica_and_other_requests_do_not(tmp_path, customer):
    project = factories.project(customer)
    annotations = factories.bulk_answered(project, [factories.expert(), factories.expert()], 40)
    auth = {"Authorization": f"Token {factories.token_for(customer)}"}
    replica = database_url(application_name=REPLICA_NAME,
                           options="-c%20default_transaction_read_only%3Don")
    with gunicorn(tmp_path, REPORTS_DATABASE_URL=replica) as (url, _):
        assert get(f"{url}/api/v1/projects/{project.pk}/", headers=auth).status == 200
        assert replica_connections() == 0
        export = get(f"{url}/api/v1/projects/{project.pk}/export/?view=raw&format=jsonl",
                     headers=auth)
        assert export.status == 200
        assert len(export.body.decode().splitlines()) == annotations
        assert replica_connections() >= 1
