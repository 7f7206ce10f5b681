"""The OpenAPI schema's error answers, documented from what each view is made of.

Every operation can fail in ways its view only implies: its path, query and body are
validated (400; a NUL anywhere is refused before any view, by ``config.middleware``), and a
body may be too large (413) or of a type no parser reads (415); authenticators refuse a bad
token (401); unsafe methods are refused to the wrong role by the services and, under session
authentication, without a CSRF token (403); ids in the path and page numbers of a list name
something that may not be there (404); throttled views count requests (429). ``AutoSchema``
adds those answers, with the bodies ``config.exceptions`` gives them, to every operation, so
that a view documents only what is particular to it: a ``409`` it raises, a ``403`` on a read
refused to a role. An ``extend_schema`` that declares only error answers keeps the view's
usual success answer; an error answer declared with a description only gets the error body,
and a 400 declared with a body of its own (row errors) may still be DRF's validation body.

A serializer names in ``Meta.optional_fields`` the read-only fields an answer leaves out
while they have no value (a pending report's figures); the others are always present.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from rest_framework import permissions, serializers

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
PLAIN_PERMISSIONS = (permissions.AllowAny, permissions.IsAuthenticated)
DESCRIPTIONS = {
    "400": "The input is invalid; each field names its problems.",
    "401": "No valid token or session.",
    "403": "Your role may not do this here.",
    "404": "Not found, or not yours to see.",
    "413": "The body is larger than the limit.",
    "415": "The body's content type is not one this operation reads.",
    "429": "Too many requests; retry after the number of seconds `Retry-After` gives.",
}


class ErrorSerializer(serializers.Serializer):
    """DRF's error body; services' conflicts add a machine-readable ``code``, and a body
    too large the ``limit`` it exceeded."""

    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text="Why a 409 conflicts.")
    limit = serializers.IntegerField(required=False,
                                     help_text="The largest body accepted, in bytes (413).")


class ValidationErrorSerializer(serializers.Serializer):
    """DRF's validation body: the messages of each field, by name (nested for nested input,
    ``non_field_errors`` for the whole), or a ``detail`` when the body cannot be parsed."""


class ValidationErrorExtension(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema, direction) -> dict[str, Any]:
        return {
            "type": "object",
            "description": ValidationErrorSerializer.__doc__.split("\n", 1)[0],
            "additionalProperties": {},
            "example": {"name": ["This field is required."]},
        }


class AutoSchema(BaseAutoSchema):
    """drf-spectacular's schema, with every error answer an operation can give."""

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if any(int(code) < 400 for code in bodies):
            return bodies
        if self.method == "DELETE":
            return {"204": {"description": "No response body"}, **bodies}
        code = "201" if self._is_create_operation() else "200"
        return {code: self._get_response_for_code(self._get_serializer(), code,
                                                  direction=direction), **bodies}

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        optional = set(getattr(getattr(serializer, "Meta", None), "optional_fields", ()))
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self._error_codes(operation):
            responses.setdefault(code, {"description": DESCRIPTIONS[code]})
        for code, response in responses.items():
            if int(code) < 400:
                continue
            if "content" not in response:
                response.update(self._error_body(code))
            elif code == "400":
                self._or_validation_error(response)
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_codes(self, operation: dict) -> set[str]:
        codes = {"400"}
        has_body = "requestBody" in operation
        queries = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if has_body:
            codes |= {"413", "415"}
        if self.view.get_authenticators():
            codes.add("401")
            if self.method in UNSAFE_METHODS or not all(
                    isinstance(permission, PLAIN_PERMISSIONS)
                    for permission in self.view.get_permissions()):
                codes.add("403")
        if "{" in self.path or "page" in queries:
            codes.add("404")
        if self.view.get_throttles():
            codes.add("429")
        return codes

    def _or_validation_error(self, response: dict) -> None:
        """A body that cannot be parsed, or lacks a part the view reads before its rows,
        answers DRF's validation shape whatever shape the view's own 400 has."""
        invalid = self.resolve_serializer(ValidationErrorSerializer, "response").ref
        for media in response["content"].values():
            if media.get("schema", invalid) != invalid:
                media["schema"] = {"anyOf": [media["schema"], invalid]}

    def _error_body(self, code: str) -> dict:
        body = ValidationErrorSerializer if code == "400" else ErrorSerializer
        schema = self.resolve_serializer(body, "response").ref
        return {"content": {"application/json": {"schema": schema}}}
