"""How errors outside any view answer: a URL no route matches."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_api_url_no_route_matches_answers_the_json_error_body(api):
    response = api.get("/api/v1/assignments/not-a-number/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_page_no_route_matches_answers_the_html_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
