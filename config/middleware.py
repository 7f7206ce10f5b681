"""Refuses what PostgreSQL cannot store in a URL, a header, a cookie or a page's form, before
any view uses it.

A NUL (``%00``) in the path, the query string or a posted form field would reach the database
as a lookup value (a domain's slug, a filter, a session key) or a stored answer, and be
refused there with a server error. Every view reads the path, the query string, the headers
and cookies, and every page reads its form the same way, so they are checked once here rather
than in each view. The API's bodies are checked by its parsers (``config.parsers``), which
also name the field.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

from .exceptions import body_too_large_message
from .jsonvalues import text_problem


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _refusal(request: HttpRequest, name: str, message: str) -> HttpResponse:
    """The API's error shape under ``/api/``, where clients parse every answer; plain text
    elsewhere."""
    if is_api(request):
        body = {"detail": message} if name == "detail" else {name: [message]}
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(f"{name}: {message}",
                                  content_type="text/plain; charset=utf-8")


def _header_problem(request: HttpRequest) -> tuple[str, str] | None:
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and (
                message := text_problem(value)):
            return key.removeprefix("HTTP_").replace("_", "-").title(), message
    for name, value in request.COOKIES.items():
        if message := text_problem(name) or text_problem(value):
            return f"{name} cookie", message
    return None


def _first_problem(fields) -> tuple[str, str] | None:
    for name, values in fields.lists():
        for value in [name, *values]:
            if isinstance(value, str) and (message := text_problem(value)):
                return name, message
    return None


class RefuseUnstorableInput:
    """Answers 400 to a request whose path, query string, headers, cookies or (outside the
    API) posted form hold a NUL character, naming the parameter, header, cookie or field; a
    page's form over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is answered 413 rather than read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if message := text_problem(request.path_info):
            return _refusal(request, "detail", f"The URL path {message[0].lower()}{message[1:]}")
        found = _first_problem(request.GET) or _header_problem(request)
        if found is None and request.method == "POST" and not is_api(request):
            try:
                found = _first_problem(request.POST)
            except RequestDataTooBig:
                limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
                return HttpResponse(body_too_large_message(limit), status=413,
                                    content_type="text/plain; charset=utf-8")
            except MultiPartParserError as exc:
                return _refusal(request, "detail", f"The form cannot be read: {exc}")
        if found is not None:
            return _refusal(request, *found)
        return self.get_response(request)
