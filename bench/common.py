"""What every benchmark needs: a fresh PostgreSQL database, raw connections, timing, results.

Benchmarks measure against PostgreSQL only, because that is what production runs and what
the figures are about; ``DATABASE_URL`` names the server, and each benchmark gets a database
of its own on it, created and migrated before and dropped after, so runs never see each
other's rows.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from psycopg import sql


class BenchError(Exception):
    """The benchmark cannot run here; the message says what to change."""


def conninfo(dbname: str | None = None) -> str:
    """A libpq connection string for the default database's server (and database)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        raise BenchError("Benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    params = {"dbname": dbname or database["NAME"], "user": database.get("USER"),
              "password": database.get("PASSWORD"), "host": database.get("HOST"),
              "port": database.get("PORT")}
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v})


def _recreate(name: str, *, create: bool) -> None:
    with psycopg.connect(conninfo(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                      .format(sql.Identifier(name)))
        if create:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def fresh_database(name: str) -> Iterator[None]:
    """Point Django at a new, migrated database called ``name``; drop it on the way out.

    Django's connections read ``settings.DATABASES`` when they connect, so closing them and
    changing the name there moves every connection, including ones opened by threads later.
    """
    database = settings.DATABASES["default"]
    original = database["NAME"]
    _recreate(name, create=True)
    _disconnect()
    database["NAME"] = name
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield
    finally:
        _disconnect()
        database["NAME"] = original
        _recreate(name, create=False)


def _disconnect() -> None:
    """Close every connection, and the connection pool too: Django builds one pool per
    process from the settings at its first use, and it would go on connecting to the
    database of the benchmark before."""
    connections.close_all()
    default = connections["default"]
    if getattr(default, "pool", None) is not None:
        default.close_pool()


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of wall-clock time that ``work`` took, and what it returned."""
    started = time.perf_counter()
    outcome = work()
    return time.perf_counter() - started, outcome


def _significant(value: float) -> float:
    return float(f"{value:.4g}")


def result(name: str, value: float, unit: str, *, baseline: float | None = None,
           target: str | None = None, **extra: Any) -> dict:
    """One line of bench/results.json; ``ratio`` is value / baseline. Figures keep four
    significant digits, so that a report of about a second still shows its baseline."""
    return {"name": name, "value": _significant(value), "unit": unit,
            "baseline": None if baseline is None else _significant(baseline),
            "ratio": None if not baseline else round(value / baseline, 3),
            "target": target, **extra}


def verified_experts(count: int, domain, operator) -> list:
    """``count`` experts signed up through the services, verified by the operator and
    qualified in the domain, so that routing admits them to its projects."""
    from accounts import services as account_services
    from accounts.models import ExpertProfile

    experts = []
    for n in range(count):
        profile = account_services.signup_expert(
            username=f"bench-expert-{n}", email=f"e{n}@bench.test", password="x",
            full_name=f"Expert {n}", highest_degree="phd", field_of_study="Cardiology",
            domains=[domain], languages=["en"])
        account_services.set_verification(expert=profile, actor=operator,
                                          verification=ExpertProfile.Verification.VERIFIED)
        account_services.qualify_expertise(expert=profile, domain=domain, score=None,
                                           source="operator")
        experts.append(profile.user)
    return experts


def operator_and_owner() -> tuple:
    """A staff operator and a customer who owns the organization "Bench Org"."""
    from accounts import services as account_services

    operator = account_services.User.objects.create_user(
        "bench-operator", "op@bench.test", "x", is_staff=True)
    owner = account_services.signup_customer(
        username="bench-owner", email="owner@bench.test", password="x",
        organization_name="Bench Org").user
    return operator, owner


def preference_project(owner, domain, name: str, *, items: int, overlap: int, prefix: str):
    """An active, unpaid preference project of the owner's with ``items`` items of two
    completions each at ``overlap``."""
    from tasks import services
    from tasks.models import Item

    project = services.create_project(
        user=owner, organization=owner.memberships.get().organization, name=name,
        domain=domain, preset="preference", overlap=overlap, max_overlap=overlap)
    Item.objects.bulk_create(
        [Item(project=project, external_id=f"{prefix}{n}", overlap=overlap,
              data={"prompt": f"Question {n}?", "completions": [f"A{n}", f"B{n}"]})
         for n in range(items)], batch_size=2000)
    services.transition_project(user=owner, project=project, action="activate")
    project.refresh_from_db()
    return project
