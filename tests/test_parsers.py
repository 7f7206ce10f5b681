"""The API's request parsers over HTTP: what PostgreSQL cannot store, nesting too deep to
decode, broken encodings and oversized bodies are 4xx answers naming the field, and nothing
is written."""

import json

import pytest

from accounts.models import Domain
from tasks.models import Item, Project
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(customer):
    return client_for(customer)


def project_body(customer, **changes) -> dict:
    return {"organization": factories.organization_of(customer).pk, "name": "Cardiology QA",
            "domain": "medicine-cardiology", "preset": "preference", **changes}


def post_json(client, url: str, text: str | bytes):
    return client.generic("POST", url, text, content_type="application/json")


@pytest.mark.parametrize(("changes", "field"), [
    ({"domain": "a\x00b"}, "domain"),
    ({"name": "Cardio\x00logy"}, "name"),
    ({"instructions": "\ud800"}, "instructions"),
    ({"preset": "pref\x00erence"}, "preset"),
    ({"currency": "U\x00D"}, "currency"),
    ({"fields": [{"name": "x\x00", "type": "text"}]}, "fields.0.name"),
    ({"na\x00me": "key"}, "na\x00me"),
])
def test_a_nul_or_lone_surrogate_in_a_json_body_is_a_400_naming_the_field(
        customer, owner_client, changes, field):
    response = post_json(owner_client, "/api/v1/projects/",
                         json.dumps(project_body(customer, **changes)))
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not Project.objects.exists()


@pytest.mark.parametrize(("text", "field"), [
    ('{"overlap": 1e400}', "overlap"), ('{"fields": [{"help": -1E999}]}', "fields.0.help")])
def test_a_number_too_large_to_be_finite_is_a_400_naming_the_field(owner_client, text, field):
    response = post_json(owner_client, "/api/v1/projects/", text)
    assert response.status_code == 400
    assert response.json() == {field: ["Holds a number too large to store."]}


def test_a_nul_in_a_domain_on_update_is_a_400(customer, owner_client):
    project = factories.project(customer)
    response = owner_client.patch(f"/api/v1/projects/{project.pk}/", {"domain": "x\x00"},
                                  format="json")
    assert (response.status_code, list(response.json())) == (400, ["domain"])
    project.refresh_from_db()
    assert project.domain.slug == "medicine-cardiology"


def test_a_nul_in_a_form_body_is_a_400_naming_the_field(customer, owner_client):
    body = project_body(customer, domain="a\x00b")
    for content_type in ("multipart", "urlencoded"):
        response = (owner_client.post("/api/v1/projects/", body) if content_type == "multipart"
                    else owner_client.post("/api/v1/projects/", "&".join(
                        f"{key}={value}" for key, value in body.items()).replace("\x00", "%00"),
                        content_type="application/x-www-form-urlencoded"))
        assert (response.status_code, list(response.json())) == (400, ["domain"])
    assert not Project.objects.exists()


def test_json_nested_beyond_the_limit_is_a_400_saying_so(customer, owner_client, settings):
    settings.JSON_MAX_DEPTH = 8
    within = project_body(customer, instructions="x")
    within["fields"] = [{"name": "x", "type": "text", "help": [[[[[1]]]]]}]
    assert post_json(owner_client, "/api/v1/projects/", json.dumps(within)).status_code != 500
    for depth in (9, 1000, 100_000):
        response = post_json(owner_client, "/api/v1/projects/", "[" * depth + "]" * depth)
        assert response.status_code == 400
        assert response.json() == {"detail": "JSON nested deeper than 8 levels."}


def test_the_default_depth_limit_is_64(customer, owner_client):
    deep = "[" * 65 + "]" * 65
    response = post_json(owner_client, "/api/v1/projects/", deep)
    assert response.json() == {"detail": "JSON nested deeper than 64 levels."}


@pytest.mark.parametrize("text", [
    b'{"name": "\xff\xfe"}', b"\xed\xa0\x80", '{"overlap": NaN}',
    '{"overlap": ' + "9" * 5000 + "}", "{", '{"name": "a"} trailing',
])
def test_broken_json_is_a_400(customer, owner_client, text):
    response = post_json(owner_client, "/api/v1/projects/", text)
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not Project.objects.exists()


@pytest.mark.parametrize("value", ["99999999999999999999", 99999999999999999999, 1e300, -1,
                                   "²"])
def test_huge_or_foreign_integers_are_a_400(customer, owner_client, value):
    response = owner_client.post("/api/v1/projects/", project_body(customer, overlap=value),
                                 format="json")
    assert (response.status_code, list(response.json())) == (400, ["overlap"])


def test_a_body_over_the_memory_limit_is_a_json_413_naming_the_limit(
        customer, owner_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps(project_body(customer, instructions="x" * 2000))
    response = post_json(owner_client, "/api/v1/projects/", body)
    assert response.status_code == 413
    assert response.json()["limit"] == 1000
    assert "1,000 bytes" in response.json()["detail"]
    form = owner_client.post("/api/v1/projects/", project_body(customer, instructions="x" * 2000))
    assert (form.status_code, form.json()["limit"]) == (413, 1000)


def test_a_multipart_body_with_a_broken_boundary_is_a_400(customer, owner_client):
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=",
                         "multipart/form-data; boundary=zz"):
        response = owner_client.generic("POST", "/api/v1/projects/", b"--xx\r\nbroken",
                                        content_type=content_type)
        assert response.status_code == 400, (content_type, response.content)


def test_a_content_type_that_lies_is_a_4xx(customer, owner_client):
    for content_type, body in [("application/json", b"name=a&b=c"),
                               ("application/x-www-form-urlencoded", b"\xff\xfe{"),
                               ("text/plain", b"{}"),
                               ("application/json; charset=klingon", b"{}")]:
        response = owner_client.generic("POST", "/api/v1/projects/", body,
                                        content_type=content_type)
        assert 400 <= response.status_code < 500, (content_type, response.content)


def test_a_nul_in_item_data_on_a_json_body_is_a_400(customer, owner_client):
    project = factories.project(customer, items=1)
    item = Item.objects.filter(project=project).first()
    response = owner_client.patch(f"/api/v1/items/{item.pk}/",
                                  {"data": {"prompt": "a\x00"}}, format="json")
    assert response.status_code in (400, 404, 405)
    assert response.status_code != 400 or list(response.json()) == ["data.prompt"]


def test_domains_are_untouched_by_refused_bodies(customer, owner_client):
    before = Domain.objects.count()
    post_json(owner_client, "/api/v1/projects/", '{"domain": "\\u0000"}')
    assert Domain.objects.count() == before
