from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.rawsql import instances, statement_cursor
from tasks.models import Project
from tests import factories

pytestmark = pytest.mark.django_db


def test_rows_become_instances_with_converted_fields_extras_and_deferred_rest():
    project = factories.project(factories.customer(), items=2, gold_rate="0.25")
    [read] = instances(Project, "SELECT p.id, p.questions, p.gold_rate, 7 AS extra "
                                "FROM tasks_project p WHERE p.id = %s", [project.pk])
    assert isinstance(read, Project) and read.pk == project.pk
    assert read.questions == project.questions, "JSON decoded on every database"
    assert read.gold_rate == Decimal("0.25")
    assert read.extra == 7
    assert read.get_deferred_fields() >= {"name", "overlap"}
    assert read.name == project.name, "an unselected field loads on first access"


def test_no_rows_is_an_empty_list():
    assert instances(Project, "SELECT p.id FROM tasks_project p WHERE p.id = %s", [0]) == []


def _prepared(fragment: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       [f"%{fragment}%"])
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_statements_are_prepared_once_per_connection():
    project = factories.project(factories.customer())
    for _ in range(3):
        with statement_cursor() as cursor:
            cursor.execute("SELECT p.name FROM tasks_project p WHERE p.id = %s", [project.pk])
            assert cursor.fetchone() == (project.name,)
    assert _prepared("SELECT p.name FROM tasks_project p WHERE p.id = $1") == 1


@pytest.mark.postgres
def test_without_prepared_statements_the_statement_still_runs_unprepared():
    project = factories.project(factories.customer())
    connection.ensure_connection()
    configured = connection.connection.prepare_threshold
    connection.connection.prepare_threshold = None
    try:
        with statement_cursor() as cursor:
            cursor.execute("SELECT p.overlap FROM tasks_project p WHERE p.id = %s",
                           [project.pk])
            assert cursor.fetchone() == (project.overlap,)
    finally:
        connection.connection.prepare_threshold = configured
    assert _prepared("SELECT p.overlap FROM tasks_project p") == 0


def test_errors_are_djangos_and_queries_are_logged():
    project = factories.project(factories.customer())
    with CaptureQueriesContext(connection) as queries, statement_cursor() as cursor:
        cursor.execute("SELECT p.id FROM tasks_project p WHERE p.id = %s", [project.pk])
    assert "tasks_project" in queries.captured_queries[-1]["sql"]
    with pytest.raises(IntegrityError), transaction.atomic(), statement_cursor() as cursor:
        cursor.execute("UPDATE tasks_project SET overlap = 0 WHERE id = %s", [project.pk])
