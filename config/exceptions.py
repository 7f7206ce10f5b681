"""Errors that services raise, and how the API answers them.

Services stay free of DRF: they raise Django's ``ValidationError`` for bad input and the
domain errors below for requests that clash with an object's state. The handler turns both
into DRF's usual shapes so that every client sees one error format.
"""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response


class Conflict(Exception):
    """The request is valid but the object's current state forbids it (HTTP 409)."""

    def __init__(self, message: str, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.code = code


class PayloadTooLarge(Exception):
    """An upload exceeds a configured size or row limit (HTTP 413); ``limit`` is the size
    in bytes, when a size was exceeded."""

    def __init__(self, message: str, limit: int | None = None):
        super().__init__(message)
        self.message = message
        self.limit = limit


def body_too_large_message(limit: int) -> str:
    return (f"The request body is larger than {limit:,} bytes, the limit "
            "(DATA_UPLOAD_MAX_MEMORY_SIZE).")


def too_large_response(message: str, limit: int | None) -> Response:
    body = {"detail": message} if limit is None else {"detail": message, "limit": limit}
    return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def validation_detail(error: DjangoValidationError) -> dict | list:
    if hasattr(error, "error_dict"):
        return {field: [m for e in errors for m in e.messages] for field, errors in
                error.error_dict.items()}
    return {"non_field_errors": error.messages}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Conflict):
        return Response({"detail": exc.message, "code": exc.code},
                        status=status.HTTP_409_CONFLICT)
    elif isinstance(exc, PayloadTooLarge):
        return too_large_response(exc.message, exc.limit)
    elif isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return too_large_response(body_too_large_message(limit), limit)
    # DRF's views read the parser classes, which raise PayloadTooLarge, on import.
    from rest_framework.views import exception_handler as drf_exception_handler

    return drf_exception_handler(exc, context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL no route matches: the API's JSON error body under ``/api/``, where clients
    parse every answer (an id that is not a number matches no route), else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)
