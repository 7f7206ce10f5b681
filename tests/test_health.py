"""Liveness and readiness: in process for what Django decides, and through gunicorn against
real Redis, a real closed port and a database that is not there."""

import pytest

from tests.servers import CLOSED, get, gunicorn


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_over_plain_http_whatever_the_host(client, settings, path):
    """A load balancer probes the process at its own address over HTTP."""
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(path, HTTP_HOST="10.0.3.7:8000").status_code == 200
    assert client.get(path, HTTP_HOST="api.example.com").status_code == 200


@pytest.mark.django_db
def test_other_paths_keep_the_host_check_and_the_https_redirect(client, settings):
    settings.ALLOWED_HOSTS = ["api.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/api/v1/me/", HTTP_HOST="10.0.3.7:8000").status_code == 400
    response = client.get("/api/v1/me/", HTTP_HOST="api.example.com")
    assert response.status_code == 301
    assert response["Location"] == "https://api.example.com/api/v1/me/"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_answer_only_reads(client, path):
    response = client.post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_ready_when_the_database_broker_and_cache_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_an_unreachable_cache_is_named(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://{CLOSED}/0"}}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "ok",
                               "cache": "unreachable: ConnectionError"}


@pytest.mark.postgres
def test_ready_on_redis_and_postgresql(tmp_path, redis_url):
    with gunicorn(tmp_path, REDIS_URL=redis_url) as (url, _):
        response = get(f"{url}/readyz", headers={"Host": "10.0.3.7:8000"})
    assert response.status == 200
    assert response.json() == {"database": "ok", "broker": "ok", "cache": "ok"}


@pytest.mark.postgres
def test_an_unreachable_redis_is_named_for_the_broker_and_the_cache(tmp_path):
    with gunicorn(tmp_path, REDIS_URL=f"redis://{CLOSED}/0") as (url, _):
        response = get(f"{url}/readyz")
    assert response.status == 503
    assert response.json() == {"database": "ok", "broker": "unreachable: ConnectionError",
                               "cache": "unreachable: ConnectionError"}
    assert "Connection refused" in (tmp_path / "gunicorn.log").read_text()


@pytest.mark.postgres
def test_an_unreachable_database_is_named_while_the_process_stays_live(tmp_path):
    """The ORM broker's queue is in the database, so it is named as well."""
    with gunicorn(tmp_path, DATABASE_URL=f"postgres://annomarket@{CLOSED}/annomarket",
                  DATABASE_POOL_TIMEOUT="1") as (url, _):
        live, ready = get(f"{url}/healthz"), get(f"{url}/readyz")
    assert live.status == 200
    assert ready.status == 503
    report = ready.json()
    assert report["database"].startswith("unreachable: ")
    assert report["broker"].startswith("unreachable: ")
    assert report["cache"] == "ok"
