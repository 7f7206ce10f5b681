"""Rows read by plain SQL, made the same whichever database returned them.

The hot paths read rows with a cursor rather than the ORM, so they get what the driver
hands back: psycopg decodes JSON and returns aware timestamps, SQLite returns JSON as text
and timestamps naive. ``instances`` turns rows into model instances as ``Manager.raw()``
does, without the set-up that ``raw()`` repeats on every call and that costs more than a
small query itself.

The same few statements run on every lease and every submission. ``statement_cursor`` runs
them as prepared statements on PostgreSQL, parsed and planned once per connection: planning
them again on every call cost the server more time than running them.
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model
from django.utils import timezone


def json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def aware(value: datetime) -> datetime:
    """Timestamps are stored in UTC."""
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


class PreparedCursor(psycopg.Cursor):
    """Parameters bound by the server, and each statement prepared on its first run.

    psycopg keeps the prepared statements per connection and forgets them on rollback or
    when the connection's ``prepare_threshold`` is None (``DATABASE_PREPARED_STATEMENTS=0``,
    for a pooler that cannot hold them); statements then still run, only unprepared.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


class PreparedDebugWrapper(CursorDebugWrapper):
    """Logs a statement as it was sent, placeholders and all, since the server binds the
    parameters; Django's wrapper would look for the client-side bound text."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params, use_last_executed_query=False):
            return super(CursorDebugWrapper, self).execute(sql, params)


def statement_cursor() -> CursorWrapper:
    """A cursor for the fixed statements of the hot paths, wrapped as Django wraps its own:
    database errors become Django's, and queries are logged when Django logs them."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    cursor = PreparedCursor(connection.connection)
    if connection.queries_logged:
        return PreparedDebugWrapper(cursor, connection)
    return connection.make_cursor(cursor)


@lru_cache(maxsize=64)
def _layout(model: type[Model], columns: tuple[str, ...]) -> tuple:
    """Where the result's columns go: the model's fields among them, in the model's field
    order as ``from_db`` takes them (attnames and column positions), and the other columns
    (position and name), which become plain attributes."""
    position = {name: n for n, name in enumerate(columns)}
    fields = [field for field in model._meta.concrete_fields if field.column in position]
    used = {field.column for field in fields}
    return (tuple(fields), tuple(field.attname for field in fields),
            tuple(position[field.column] for field in fields),
            tuple((n, name) for n, name in enumerate(columns) if name not in used))


def instances(model: type[Model], sql: str, params: Sequence) -> list[Model]:
    """The rows of ``sql`` as ``model`` instances. A column named after one of the model's
    columns fills that field, through the field's converters; any other column becomes a
    plain attribute; fields not selected load on first access, as with ``raw()``."""
    with statement_cursor() as cursor:
        cursor.execute(sql, params)
        columns = tuple(column[0] for column in cursor.description)
        rows = cursor.fetchall()
    fields, names, positions, extras = _layout(model, columns)
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        functions = [*connection.ops.get_db_converters(column),
                     *field.get_db_converters(connection)]
        if functions:
            converters.append((index, column, functions))
    made = []
    for row in rows:
        values = [row[n] for n in positions]
        for index, column, functions in converters:
            for function in functions:
                values[index] = function(values[index], column, connection)
        instance = model.from_db(connection.alias, names, values)
        for n, name in extras:
            setattr(instance, name, row[n])
        made.append(instance)
    return made
