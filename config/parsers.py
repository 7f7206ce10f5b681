"""The API's request parsers: every body is refused with a 4xx before a view sees what
PostgreSQL cannot store, what nests too deep to decode, or more than the configured size."""

from django.conf import settings
from django.http.multipartparser import MultiPartParserError
from rest_framework import exceptions, parsers

from . import jsonvalues
from .exceptions import PayloadTooLarge, body_too_large_message


def _refuse_unstorable(fields) -> None:
    """A form field's value holding a NUL is refused naming the field; the database would
    refuse it with a server error."""
    for name in fields:
        for value in fields.getlist(name):
            if isinstance(value, str) and (message := jsonvalues.text_problem(value)):
                raise exceptions.ValidationError({name: [message]})


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413,
    nesting deeper than ``JSON_MAX_DEPTH`` a 400 (not a ``RecursionError``), and a NUL, an
    unpaired surrogate or an infinite number a 400 naming where it is."""

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise PayloadTooLarge(body_too_large_message(limit), limit=limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(f"JSON parse error - the body is not {encoding} "
                                        "text.") from exc
        depth = jsonvalues.max_depth()
        try:
            value, infinite = jsonvalues.decode_document(text)
        except RecursionError as exc:
            raise exceptions.ParseError(jsonvalues.depth_message(depth)) from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        if infinite or jsonvalues.needs_walk(text, depth):
            found = jsonvalues.problem(value, depth)
            if found is not None:
                path, message = found
                if message == jsonvalues.depth_message(depth):
                    raise exceptions.ParseError(message)
                raise exceptions.ValidationError({path or "non_field_errors": [message]})
        return value


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing field values PostgreSQL cannot store."""

    def parse(self, stream, media_type=None, parser_context=None):
        fields = super().parse(stream, media_type, parser_context)
        _refuse_unstorable(fields)
        return fields


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing field values PostgreSQL cannot store; a body whose
    boundary is missing or broken is a 400, however Django words the failure."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            parsed = super().parse(stream, media_type, parser_context)
        except (MultiPartParserError, ValueError) as exc:
            raise exceptions.ParseError(f"Multipart form parse error - {exc}") from exc
        _refuse_unstorable(parsed.data)
        return parsed
