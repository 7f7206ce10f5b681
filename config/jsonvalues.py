"""What a JSON value from a client may hold before it reaches PostgreSQL.

JSON lets through what PostgreSQL refuses in text and ``jsonb``: NUL characters (``\\u0000``),
unpaired surrogates (``\\ud800``) and, read as floats, numbers too large to be finite
(``1e400``). Python's decoder also recurses once per level of nesting, so a deep enough
document raises ``RecursionError``. Request bodies and uploaded rows are decoded with
``DECODER`` and checked with ``problem``, which names the first part that cannot be kept.

Checking walks the whole value, which costs as much again as decoding it; ``needs_walk`` tells
from the text alone when a walk can find nothing, which is almost always.
"""

import json
import math
import re
from typing import Any

from django.conf import settings

# JSON escapes of what PostgreSQL cannot store: NUL and (possibly unpaired) surrogates.
SUSPECT = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
SUSPECT_BYTES = re.compile(SUSPECT.pattern.encode())

NUL_MESSAGE = "Contains a NUL character (\\u0000), which cannot be stored."
SURROGATE_MESSAGE = "Contains an unpaired surrogate (\\ud800-\\udfff), which is not text."
HUGE_NUMBER_MESSAGE = "Holds a number too large to store."


def max_depth() -> int:
    """How many levels of arrays and objects a JSON value may nest (``JSON_MAX_DEPTH``)."""
    return settings.JSON_MAX_DEPTH


def depth_message(limit: int) -> str:
    return f"JSON nested deeper than {limit} levels."


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large a number")
    return value


DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def loads(text: str) -> Any:
    """Decode JSON a client wrote into a form field, by the rules of a request body: raises
    ``ValueError`` saying what is wrong when it is not JSON, nests deeper than
    ``JSON_MAX_DEPTH`` or holds what PostgreSQL cannot store."""
    limit = max_depth()
    try:
        value = DECODER.decode(text)
    except RecursionError as exc:
        raise ValueError(depth_message(limit)) from exc
    if needs_walk(text, limit) and (found := problem(value, limit)):
        path, message = found
        named = path and message != depth_message(limit)
        raise ValueError(f"{path}: {message}" if named else message)
    return value


def decode_document(text: str) -> tuple[Any, bool]:
    """The value of a whole JSON document, and whether it holds a number too large to be
    finite, which ``problem`` then finds and names. Raises ``ValueError`` and
    ``RecursionError`` as ``json`` does."""
    infinite = False

    def read_float(number: str) -> float:
        nonlocal infinite
        value = float(number)
        infinite = infinite or math.isinf(value)
        return value

    decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_float=read_float)
    return decoder.decode(text), infinite


def needs_walk(text: str | bytes, limit: int) -> bool:
    """False when ``text`` cannot decode to a value that ``problem`` refuses: it escapes no
    NUL or surrogate, and has too few brackets to nest deeper than ``limit``."""
    if isinstance(text, bytes):
        brackets = text.count(b"[") + text.count(b"{")
        return brackets > limit or SUSPECT_BYTES.search(text) is not None
    return text.count("[") + text.count("{") > limit or SUSPECT.search(text) is not None


def text_problem(value: str) -> str | None:
    """Why PostgreSQL cannot store this string, or None."""
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def problem(value: Any, limit: int, level: int = 0) -> tuple[str, str] | None:
    """(path, message) for the first part of a decoded JSON value that cannot be stored or
    nests deeper than ``limit`` levels, or None. ``level`` is how many arrays and objects
    already hold the value (0 for a whole document). The path joins object keys and array
    indexes with dots, so the top level names a serializer's field; it is empty for the
    value as a whole."""
    stack: list[tuple[Any, str, int]] = [(value, "", level)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            message = text_problem(item)
        elif isinstance(item, float):
            message = None if math.isfinite(item) else HUGE_NUMBER_MESSAGE
        elif isinstance(item, dict | list):
            if depth == limit:
                return path, depth_message(limit)
            members = item.items() if isinstance(item, dict) else enumerate(item)
            for key, member in members:
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (message := text_problem(key)):
                    return name, message
                stack.append((member, name, depth + 1))
            continue
        else:
            message = None
        if message:
            return path, message
    return None
