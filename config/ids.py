"""Database ids read from what a client sent.

``str.isdigit`` is true of superscripts (``"²"``), which ``int`` then refuses, and
``int`` reads Arabic-Indic and full-width digits; an id is only ever ASCII digits, and one
too large for a bigint names no row.
"""

import re

from rest_framework import serializers

ASCII_DIGITS = re.compile(r"[0-9]{1,19}\Z")
MAX_ID = 2**63 - 1


def parse_id(text: str | None) -> int | None:
    """The id written in ``text``, or None when it is not a whole number of ASCII digits
    that a bigint column can hold."""
    if not isinstance(text, str) or not ASCII_DIGITS.match(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


class IdField(serializers.PrimaryKeyRelatedField):
    """A reference to a row by its id, written as a JSON integer or a string of ASCII digits.

    DRF's own field hands the value to the database as it came, where ``int`` reads an
    Arabic-Indic one as 1 and fails on "²"; here both are an unknown id, as is one past a
    bigint.
    """

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if isinstance(data, int):
            data = str(data)
        if isinstance(data, str) and parse_id(data) is None:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, whose foreign keys are read as ids by ``IdField``."""

    serializer_related_field = IdField
