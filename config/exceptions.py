"""Errors that services raise, and how the API answers them.

Services stay free of DRF: they raise Django's ``ValidationError`` for bad input and the
domain errors below for requests that clash with an object's state. The handler turns both
into DRF's usual shapes so that every client sees one error format.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(Exception):
    """The request is valid but the object's current state forbids it (HTTP 409)."""

    def __init__(self, message: str, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.code = code


class PayloadTooLarge(Exception):
    """An upload exceeds a configured size or row limit (HTTP 413)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
        return Response({"detail": exc.message},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    return drf_exception_handler(exc, context)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A URL no route matches: the API's JSON error body under ``/api/``, where clients
    parse every answer (an id that is not a number matches no route), else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)
