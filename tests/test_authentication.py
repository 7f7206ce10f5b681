"""API tokens that are not printable ASCII are invalid tokens, not server errors; a request
reads its own token only, and expired tokens are deleted by a job."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import CONSTANTS

from accounts import jobs
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("token", ["\u00e9" * 64, "abc\x7fdef", "\u00ff"])
def test_a_token_that_is_not_printable_ascii_is_a_401(api, token):
    response = api.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_a_real_token_still_authenticates(api, expert):
    api.credentials(HTTP_AUTHORIZATION=f"Token {factories.token_for(expert)}")
    assert api.get("/api/v1/me/").json()["username"] == expert.username


def test_the_schema_still_describes_the_token(staff, api):
    api.force_authenticate(staff)
    schema = api.get("/api/schema/?format=json").json()
    assert schema["components"]["securitySchemes"]["knoxApiToken"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"'}
    assert {"knoxApiToken": []} in schema["paths"]["/api/v1/me/"]["get"]["security"]


def test_a_request_reads_only_its_own_token(api, expert):
    """Knox would read every token of the user on each request to delete expired ones; that
    is left to a job, so the request reads its token (with its user) and nothing more."""
    for _ in range(3):
        factories.token_for(expert)
    api.credentials(HTTP_AUTHORIZATION=f"Token {factories.token_for(expert)}")
    api.get("/api/v1/me/")
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/me/").status_code == 200
    assert sum("knox_authtoken" in query["sql"] for query in queries.captured_queries) == 1


def test_an_expired_token_is_refused_and_deleted(api, expert):
    token = factories.token_for(expert)
    AuthToken.objects.filter(user=expert).update(expiry=timezone.now() - timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/").status_code == 401
    assert not AuthToken.objects.filter(user=expert).exists()


def test_the_job_deletes_expired_tokens_only(expert):
    live, expired = factories.token_for(expert), factories.token_for(expert)
    AuthToken.objects.filter(token_key=expired[:CONSTANTS.TOKEN_KEY_LENGTH]).update(
        expiry=timezone.now() - timedelta(hours=1))
    assert jobs.delete_expired_tokens() == 1
    assert jobs.delete_expired_tokens() == 0
    assert list(AuthToken.objects.values_list("token_key", flat=True)) == [
        live[:CONSTANTS.TOKEN_KEY_LENGTH]]
