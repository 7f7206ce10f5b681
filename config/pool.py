"""Database connection pools never cross a fork.

Django keeps one psycopg pool per process, and a process forked from one that had used the
database (a ``qcluster`` worker, spawned again by its parent after the last one died) would
inherit the parent's pool with its idle connections: two processes talking over one socket.
The child forgets the inherited pools and opens its own on first use. It does not close them:
closing would end the parent's sessions, and psycopg only closes a connection in the process
that opened it.
"""

import os


def forget_inherited_pools() -> None:
    from django.db.backends.postgresql.base import DatabaseWrapper

    DatabaseWrapper._connection_pools.clear()


def register() -> None:
    os.register_at_fork(after_in_child=forget_inherited_pools)
