"""Language codes experts may declare, taken from Django's own locale table."""

from django.conf.locale import LANG_INFO

KNOWN_LANGUAGE_CODES = frozenset(LANG_INFO) | {code.split("-")[0] for code in LANG_INFO}


def normalize_language(code: str) -> str | None:
    """The lower-case code when Django knows the language (``en``, ``pt-br``, ``zh``)."""
    normalized = code.strip().lower().replace("_", "-")
    return normalized if normalized in KNOWN_LANGUAGE_CODES else None
