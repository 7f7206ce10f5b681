"""API tokens that are not printable ASCII are invalid tokens, not server errors."""

import pytest

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
