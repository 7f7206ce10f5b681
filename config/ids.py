"""Database ids read from what a client sent.

``str.isdigit`` is true of superscripts (``"²"``), which ``int`` then refuses, and
``int`` reads Arabic-Indic and full-width digits; an id is only ever ASCII digits, and one
too large for a bigint names no row.
"""

import re

ASCII_DIGITS = re.compile(r"[0-9]{1,19}\Z")
MAX_ID = 2**63 - 1


def parse_id(text: str | None) -> int | None:
    """The id written in ``text``, or None when it is not a whole number of ASCII digits
    that a bigint column can hold."""
    if not isinstance(text, str) or not ASCII_DIGITS.match(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
