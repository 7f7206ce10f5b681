from decimal import Decimal

import pytest

from config.rawsql import instances
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
