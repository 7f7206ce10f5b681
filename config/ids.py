"""Database ids, and whole numbers, read from what a client sent.

``str.isdigit`` is true of superscripts (``"²"``), which ``int`` then refuses, and
``int`` reads Arabic-Indic and full-width digits; an id is only ever ASCII digits, and one
too large for a bigint names no row.
"""

import re

from django.db import models
from rest_framework import serializers

ASCII_DIGITS = re.compile(r"[0-9]{1,19}\Z")
WHOLE_NUMBER = re.compile(r"-?[0-9]+\Z")
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


def is_whole_number(text: str) -> bool:
    """Whether ``text`` is a whole number written in ASCII digits, with an optional minus."""
    return bool(WHOLE_NUMBER.match(text))


class WholeNumberField(serializers.IntegerField):
    """DRF's IntegerField, reading a string only when it is ASCII digits: ``int`` would read
    other scripts' digits as a number a person never typed as one."""

    def to_internal_value(self, data):
        if isinstance(data, str) and not is_whole_number(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, whose foreign keys are read as ids by ``IdField`` and whose
    integers as ``WholeNumberField``."""

    serializer_related_field = IdField
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        **{field: WholeNumberField for field in (
            models.IntegerField, models.BigIntegerField, models.SmallIntegerField,
            models.PositiveIntegerField, models.PositiveBigIntegerField,
            models.PositiveSmallIntegerField)},
    }
