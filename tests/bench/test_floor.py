"""The HTTP benchmark's floor: the product's authentication in front of one indexed read,
and nothing else; without a token it is refused like any API request."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.test import APIClient

from bench.floor_urls import FLOOR_PATH
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@override_settings(ROOT_URLCONF="bench.floor_urls")
def test_the_floor_is_one_read_behind_token_authentication():
    expert = factories.expert()
    client = client_for(expert)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(FLOOR_PATH)
    assert response.status_code == 200
    assert response.json() == {"verification": "verified"}
    own = [query["sql"] for query in queries.captured_queries
           if "accounts_expertprofile" in query["sql"]]
    assert len(own) == 1
    assert client_for(expert).get("/api/v1/me/").status_code == 200  # the product is served
    assert APIClient().get(FLOOR_PATH).status_code == 401
