"""NUL characters in URLs and pages' forms are refused with a 400 naming where they are,
before they reach PostgreSQL as a lookup or a stored value; an oversized form is a 413."""

import pytest
from django.test import Client

from accounts.models import Domain
from tasks.models import Project
from tests import factories
from tests.conftest import client_for
from tests.web.clients import signed_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/domains/a%00b/", "/api/v1/projects/1%00/",
                                  "/api/v1/nowhere%00/"])
def test_a_nul_in_an_api_path_is_a_json_400(customer, path):
    response = client_for(customer).get(path)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The URL path contains a NUL character (\\u0000), which cannot be stored."}


@pytest.mark.parametrize(("query", "name"), [
    ("parent__slug=%00", "parent__slug"), ("page=1&status=a%00", "status"),
    ("x%00=1", "x\x00"), ("search=%00&ordering=x", "search")])
def test_a_nul_in_the_query_string_is_a_400_naming_the_parameter(customer, query, name):
    response = client_for(customer).get(f"/api/v1/domains/?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [name]


def test_the_domain_filter_still_works(customer):
    response = client_for(customer).get("/api/v1/domains/?parent__slug=medicine")
    assert response.status_code == 200
    assert response.json()["count"] == Domain.objects.filter(parent__slug="medicine").count()


def test_a_nul_in_a_pages_path_or_query_is_a_plain_400(customer):
    page = signed_in(customer)
    for url in ("/workspace/projects/%00/", "/workspace/projects/?status=%00",
                "/admin/tasks/project/a%00b/change/"):
        response = page.get(url)
        assert response.status_code == 400, url
        assert response["Content-Type"].startswith("text/plain")


def test_a_nul_in_a_pages_form_is_a_400_naming_the_field(customer):
    organization = factories.organization_of(customer)
    response = signed_in(customer).post("/workspace/projects/new/", {
        "organization": organization.pk, "name": "Cardio\x00", "domain": "medicine-cardiology",
        "preset": "preference"})
    assert response.status_code == 400
    assert response.content.decode().startswith("name: Contains a NUL character")
    assert not Project.objects.exists()


def test_a_pages_form_over_the_memory_limit_is_a_413(customer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = signed_in(customer).post("/workspace/projects/new/", {"name": "x" * 2000})
    assert response.status_code == 413
    assert "1,000 bytes" in response.content.decode()


def test_a_pages_multipart_form_with_a_broken_boundary_is_a_400(customer):
    response = signed_in(customer).generic("POST", "/workspace/projects/new/", b"--a\r\nbroken",
                                           content_type="multipart/form-data; boundary=")
    assert response.status_code == 400


@pytest.mark.parametrize(("headers", "name"), [
    ({"HTTP_AUTHORIZATION": "Token abc\x00def"}, "Authorization"),
    ({"HTTP_X_REQUEST_ID": "a\x00"}, "X-Request-Id"),
    ({"HTTP_COOKIE": 'sessionid="abcdefgh\\000ijklmnop"'}, "sessionid cookie"),
])
def test_a_nul_in_a_header_or_a_cookie_is_a_400_naming_it(headers, name):
    response = Client(**headers).get("/api/v1/me/")
    assert (response.status_code, list(response.json())) == (400, [name])
    page = Client(**headers).get("/workspace/")
    assert page.status_code == 400
    assert page.content.decode().startswith(f"{name}: ")
