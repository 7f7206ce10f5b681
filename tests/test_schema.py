"""The OpenAPI schema is part of the contract: customers generate clients from it."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db
PARAMETER = re.compile(r"\(\?P<\w+>[^)]*\)|<(?:\w+:)?\w+>|\{\w+\}")


def registered_routes(patterns=None, prefix: str = "") -> set[str]:
    """Every URL the project serves, as ``/path/{}/`` with parameters left unnamed, because
    the schema may rename them (``pk`` becomes ``id``)."""
    routes = set()
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
        if isinstance(entry, URLResolver):
            routes |= registered_routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            routes.add("/" + PARAMETER.sub("{}", route))
    return routes


def test_schema_lists_every_api_v1_path(api):
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    documented = {PARAMETER.sub("{}", path) for path in schema["paths"]}
    served = {route for route in registered_routes() if route.startswith("/api/v1/")}
    assert served, "no /api/v1/ routes found"
    assert documented == served


def test_schema_documents_the_accounts_contract(api):
    paths = api.get("/api/schema/?format=json").json()["paths"]
    assert "post" in paths["/api/v1/auth/token/"]
    assert "post" in paths["/api/v1/auth/signup/expert/"]
    assert "post" in paths["/api/v1/auth/signup/customer/"]
    assert {"get", "patch"} <= set(paths["/api/v1/me/"])
    assert "post" in paths["/api/v1/orgs/{org_pk}/members/"]
    assert "post" in paths["/api/v1/experts/{id}/verify/"]


def test_docs_page_is_served(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"/api/schema/" in response.content


def test_schema_validates_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                 stdout=out)
    assert '"openapi"' in out.getvalue()


def test_models_and_migrations_agree():
    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exit_:
        pytest.fail(f"makemigrations --check found missing migrations:\n{out.getvalue()}"
                    f" (exit {exit_.code})")


def test_every_operation_documents_the_errors_its_view_can_answer(api):
    paths = api.get("/api/schema/?format=json").json()["paths"]
    submit = paths["/api/v1/assignments/{id}/submit/"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "413", "415"} == set(submit)
    assert submit["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"}
    assert submit["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert set(paths["/api/v1/me/"]["get"]["responses"]) == {"200", "400", "401"}
    assert set(paths["/api/v1/auth/token/"]["post"]["responses"]) == {
        "200", "400", "413", "415", "429"}
    listed = paths["/api/v1/marketplace/projects/"]["get"]["responses"]
    assert set(listed) == {"200", "400", "401", "403", "404"}
    assert listed["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedListedProjectList"}
    upload = paths["/api/v1/projects/{project_pk}/batches/"]["post"]["responses"]["400"]
    assert upload["content"]["application/json"]["schema"] == {"anyOf": [
        {"$ref": "#/components/schemas/UploadErrors"},
        {"$ref": "#/components/schemas/ValidationError"}]}


def test_fields_are_nullable_or_optional_as_answers_give_them(api):
    schemas = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert schemas["Domain"]["properties"]["parent"]["nullable"] is True
    assert schemas["StatementLine"]["properties"]["project_name"]["nullable"] is True
    assert set(schemas["Report"]["required"]) == {
        "id", "project", "status", "error", "created_at", "started_at", "finished_at"}
