"""Request headers whose values the API stores or looks up."""

from rest_framework import exceptions
from rest_framework.request import Request

from .jsonvalues import text_problem

IDEMPOTENCY_KEY = "Idempotency-Key"


def idempotency_key(request: Request, max_length: int) -> str:
    """The request's ``Idempotency-Key``, stripped ("" when absent); one too long to store,
    or holding what PostgreSQL cannot store, is a 400 naming the header."""
    key = request.headers.get(IDEMPOTENCY_KEY, "").strip()
    if len(key) > max_length:
        raise exceptions.ValidationError({IDEMPOTENCY_KEY: [
            f"Use at most {max_length} characters."]})
    if message := text_problem(key):
        raise exceptions.ValidationError({IDEMPOTENCY_KEY: [message]})
    return key
