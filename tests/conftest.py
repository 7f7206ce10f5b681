import os

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests import factories


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """PostgreSQL tests run in real transactions. They are marked before pytest-django orders
    transactional tests last, and they restore the migrations' data (the domain taxonomy)
    that their closing flush wipes, so that no test after them finds an empty table.

    Every other transactional test (the browser tests) restores it too: one that did not
    would have its flush recreate the content types under new ids, which the next restoring
    test then collides with."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if item.get_closest_marker("postgres"):
            item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))
        elif marker is not None and marker.kwargs.get("transaction"):
            item.add_marker(pytest.mark.django_db(**{**marker.kwargs,
                                                     "serialized_rollback": True}),
                            append=False)
    return (yield)


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """PostgreSQL tests skip on a laptop's SQLite but fail in CI, where they must run."""
    if request.node.get_closest_marker("postgres") is None:
        return
    if connection.vendor != "postgresql":
        message = f"needs PostgreSQL, but the database is {connection.vendor}"
        if os.environ.get("REQUIRE_POSTGRES") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    """An empty Redis database for tests that run real workers on the Redis broker
    (``TEST_REDIS_URL``, database 15 of the local server by default). Like PostgreSQL, it
    skips on a laptop without Redis but fails in CI."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.RedisError as exc:
        message = f"needs Redis at {url}: {exc}"
        if os.environ.get("REQUIRE_POSTGRES") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """The suite runs with production settings, minus the HTTPS redirect and slow hashing."""
    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def staff(db):
    return factories.staff_user()


@pytest.fixture
def expert(db):
    return factories.expert()


@pytest.fixture
def customer(db):
    return factories.customer()


@pytest.fixture
def other_customer(db):
    return factories.customer(organization="Other Org")


@pytest.fixture
def admin_client(staff):
    """The Django admin, signed in as an operator."""
    client = Client()
    client.force_login(staff)
    return client


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {factories.token_for(user)}")
    return client
