"""Settings are read once at start-up, so each case runs Django in a fresh process with a
clean environment: nothing from the shell running the suite leaks in."""

import json
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_SECRET_KEY = (string.ascii_letters + string.digits)[:60]

PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django_q.brokers import get_broker

report = {
    "q_cluster": settings.Q_CLUSTER,
    "broker": type(get_broker()).__name__,
    "cache": type(caches["default"]).__name__,
    "cache_location": settings.CACHES["default"].get("LOCATION"),
    "engine": connection.vendor,
    "options": settings.DATABASES["default"].get("OPTIONS", {}),
    "databases": {alias: {"host": db["HOST"], "options": db.get("OPTIONS", {}),
                          "test": db.get("TEST", {})}
                  for alias, db in settings.DATABASES.items()},
}
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        report["journal_mode"] = cursor.fetchone()[0]
    report["transaction_mode"] = connection.transaction_mode
print(json.dumps(report))
"""


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings", **overrides}


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT,
                          env=clean_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=120)


def probe(tmp_path: Path, **env: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT,
                            env=clean_env(tmp_path, **env), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def defaults(tmp_path_factory) -> dict:
    return probe(tmp_path_factory.mktemp("var"), SECRET_KEY="x")


def test_production_without_secret_key_refuses_to_start(tmp_path):
    result = manage(tmp_path, "check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


def test_debug_starts_without_secret_key(tmp_path):
    result = manage(tmp_path, "check", DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_deploy_checks_are_clean_in_production(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", DEBUG="0",
                    SECRET_KEY=DEPLOY_SECRET_KEY, ALLOWED_HOSTS="example.com")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_background_jobs_are_retried_safely(defaults):
    cluster = defaults["q_cluster"]
    assert cluster["timeout"] < cluster["retry"]
    assert cluster["ack_failures"] is True
    assert 1 <= cluster["max_attempts"] <= 10


def test_embedded_default_is_sqlite_with_wal_and_immediate_transactions(defaults):
    assert defaults["engine"] == "sqlite"
    assert defaults["journal_mode"] == "wal"
    assert defaults["transaction_mode"] == "IMMEDIATE"
    assert defaults["options"]["timeout"] > 0


def test_without_redis_jobs_use_the_database_and_the_cache_is_local(defaults):
    assert defaults["broker"] == "ORM"
    assert defaults["q_cluster"]["orm"] == "default"
    assert "redis" not in defaults["q_cluster"]
    assert defaults["cache"] == "LocMemCache"


def test_redis_url_moves_jobs_and_cache_to_redis(tmp_path):
    url = "redis://cache.internal:6379/2"
    report = probe(tmp_path, SECRET_KEY="x", REDIS_URL=url)
    assert report["broker"] == "Redis"
    assert report["q_cluster"]["redis"] == url
    assert "orm" not in report["q_cluster"]
    assert report["cache"] == "RedisCache"
    assert report["cache_location"] == url



@pytest.mark.parametrize(("flag", "threshold"), [("", 0), ("0", None)])
def test_postgresql_prepares_statements_unless_a_pooler_forbids_it(monkeypatch, flag,
                                                                   threshold):
    from config.settings import database_settings

    monkeypatch.setenv("DATABASE_URL", "postgres://annomarket@db.internal:5432/annomarket")
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", flag)
    assert database_settings()["OPTIONS"]["prepare_threshold"] == threshold


def test_options_in_the_database_url_are_kept(monkeypatch):
    from config.settings import database_settings

    monkeypatch.setenv("DATABASE_URL", "postgres://annomarket@db.internal/annomarket"
                                       "?sslmode=require&application_name=web")
    options = database_settings()["OPTIONS"]
    assert options["sslmode"] == "require"
    assert options["application_name"] == "web"


def test_postgresql_connections_are_pooled_by_default(monkeypatch):
    from config.settings import database_settings

    monkeypatch.setenv("DATABASE_URL", "postgres://annomarket@db.internal:5432/annomarket")
    monkeypatch.setenv("CONN_MAX_AGE", "60")
    config = database_settings()
    assert config["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 20, "timeout": 10}
    assert config["CONN_MAX_AGE"] == 0
    assert config["OPTIONS"]["prepare_threshold"] == 0


def test_the_pool_is_sized_from_the_environment(monkeypatch):
    from config.settings import database_settings

    monkeypatch.setenv("DATABASE_URL", "postgres://annomarket@db.internal:5432/annomarket")
    monkeypatch.setenv("DATABASE_POOL_MIN_SIZE", "0")
    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "4")
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "3")
    assert database_settings()["OPTIONS"]["pool"] == {"min_size": 0, "max_size": 4,
                                                      "timeout": 3}


def test_without_the_pool_connections_are_persistent(monkeypatch):
    from config.settings import database_settings

    monkeypatch.setenv("DATABASE_URL", "postgres://annomarket@db.internal:5432/annomarket")
    monkeypatch.setenv("DATABASE_POOL", "0")
    monkeypatch.setenv("CONN_MAX_AGE", "60")
    config = database_settings()
    assert "pool" not in config["OPTIONS"]
    assert config["CONN_MAX_AGE"] == 60


def test_without_a_replica_there_is_one_database(defaults):
    assert list(defaults["databases"]) == ["default"]


def test_a_replica_url_adds_the_reports_database_pooled_and_mirrored_in_tests(tmp_path):
    report = probe(tmp_path, SECRET_KEY="x", REPORTS_DATABASE_URL="postgres://annomarket@replica.internal/annomarket")
    replica = report["databases"]["reports"]
    assert replica["host"] == "replica.internal"
    assert replica["options"]["pool"]["max_size"] == 20
    assert replica["test"]["MIRROR"] == "default"


def test_sqlite_is_never_pooled(defaults):
    assert "pool" not in defaults["options"]


@pytest.mark.parametrize(("variable", "value"), [
    ("DATABASE_POOL_MIN_SIZE", "30"), ("DATABASE_POOL_MAX_SIZE", "0"),
    ("DATABASE_POOL_MIN_SIZE", "-1"), ("DATABASE_POOL_TIMEOUT", "0"),
])
def test_an_impossible_pool_refuses_to_start(tmp_path, variable, value):
    result = manage(tmp_path, "check", SECRET_KEY="x", **{variable: value},
                    DATABASE_URL="postgres://annomarket@db.internal:5432/annomarket")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DATABASE_POOL_" in result.stderr
