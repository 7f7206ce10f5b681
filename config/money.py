"""Amounts of money as clients write them: one parser for every amount the service accepts.

An amount is a string of ASCII digits with an optional ``.`` and at most ``DECIMALS``
decimals: ``"12"``, ``"12.5"``, ``"12.50"``. Anything looser reads as a different amount
somewhere: Python's ``Decimal`` and ``int`` take ``"1_0"`` for ten and full-width or
Arabic-Indic digits for ASCII ones, and a JSON number such as ``1.5`` has already been a
binary float on its way in. So a JSON number, a sign (unless the field takes negative
amounts), an exponent, an underscore, spaces or non-ASCII digits are refused with a message
that says how to write the amount.

``parse_amount`` is the parser; ``AmountField`` is the API's field and ``AmountFormField``
the workspace's, both built on it. Amounts go back out the same way, as strings with
``DECIMALS`` decimals.
"""

import re
from decimal import ROUND_HALF_UP, Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

# The ledger keeps every currency in cents.
DECIMALS = 2
MAX_DIGITS = 14
_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?\Z")


def pattern(*, allow_negative: bool = False, decimals: int = DECIMALS) -> str:
    """The amounts ``parse_amount`` accepts, as a regular expression for the schema."""
    return rf"^{'-?' if allow_negative else ''}[0-9]+(\.[0-9]{{1,{decimals}}})?$"


def _how_to_write(allow_negative: bool, decimals: int) -> str:
    sign = ", after an optional minus sign," if allow_negative else ""
    return (f"Write the amount in digits 0-9{sign} with at most {decimals} decimals after a "
            "point: 12.50, for example.")


def parse_amount(value: object, *, decimals: int = DECIMALS, max_digits: int = MAX_DIGITS,
                 allow_negative: bool = False) -> Decimal:
    """The amount written in ``value``; raises ``ValidationError`` saying how to write it
    when ``value`` is not a string in the one accepted form, or has more than ``max_digits``
    digits in all."""
    how = _how_to_write(allow_negative, decimals)
    if not isinstance(value, str):
        kind = "number" if isinstance(value, int | float) else "JSON " + type(value).__name__
        raise ValidationError(f"Send the amount as a string, not a {kind}. {how}",
                              code="invalid")
    match = _AMOUNT.match(value)
    if match is None or (match[1] and not allow_negative):
        raise ValidationError(how, code="invalid")
    whole, fraction = match[2], match[3] or ""
    if len(fraction) > decimals:
        raise ValidationError(f"Use at most {decimals} decimals.", code="max_decimal_places")
    if len(whole.lstrip("0")) > max_digits - decimals:
        raise ValidationError(f"Use at most {max_digits - decimals} digits before the point.",
                              code="max_whole_digits")
    return Decimal(value)


CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """An amount rounded half up to the cent, as the ledger keeps it."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def platform_fee(amount: Decimal) -> Decimal:
    """The platform's share of an amount paid to an expert, rounded half up to the cent."""
    return money(amount * settings.PLATFORM_FEE_RATE)


def after_fee(amount: Decimal) -> Decimal:
    """What an expert receives of an amount paid for their work: the rest after the fee.
    Every app that shows an expert a figure of pay (the ledger, listings, estimates) uses
    this one rule."""
    return money(amount) - platform_fee(amount)


def format_amount(value: Decimal | int | str, decimals: int = DECIMALS) -> str:
    """An amount as the API writes it: a string with ``decimals`` decimals."""
    return f"{Decimal(value):.{decimals}f}"


def _bounds_error(amount: Decimal, min_value: Decimal | None,
                  max_value: Decimal | None) -> str | None:
    if min_value is not None and amount < min_value:
        return f"Must be at least {format_amount(min_value)}."
    if max_value is not None and amount > max_value:
        return f"Must be at most {format_amount(max_value)}."
    return None


class AmountField(serializers.Field):
    """An amount in the API, read with ``parse_amount`` and written as a string with
    ``DECIMALS`` decimals; signed unless ``min_value`` is zero or more. The schema shows it
    as a string with its pattern."""

    def __init__(self, *, max_digits: int = MAX_DIGITS, min_value: Decimal | int | None = None,
                 max_value: Decimal | int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_digits = max_digits
        self.min_value = None if min_value is None else Decimal(min_value)
        self.max_value = None if max_value is None else Decimal(max_value)
        # A sign is read only where a negative amount means something: a field bounded
        # below at zero or more refuses "-0" and "-5" alike.
        self.allow_negative = self.min_value is None or self.min_value < 0

    def to_internal_value(self, data) -> Decimal:
        try:
            amount = parse_amount(data, max_digits=self.max_digits,
                                  allow_negative=self.allow_negative)
        except ValidationError as error:
            raise serializers.ValidationError(error.messages, code=error.code) from error
        if message := _bounds_error(amount, self.min_value, self.max_value):
            raise serializers.ValidationError(message)
        return amount

    def to_representation(self, value) -> str:
        return format_amount(value)


class AmountFieldExtension(OpenApiSerializerFieldExtension):
    target_class = AmountField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "decimal",
                "pattern": pattern(allow_negative=self.target.allow_negative)}


class AmountFormField(forms.CharField):
    """An amount in a workspace form, read with ``parse_amount``: the API's rules, on a page."""

    def __init__(self, *, max_digits: int = MAX_DIGITS, min_value: Decimal | int | None = None,
                 **kwargs) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal",
                                                           "pattern": pattern()[1:-1]}))
        super().__init__(**kwargs)
        self.max_digits = max_digits
        self.min_value = None if min_value is None else Decimal(min_value)

    def to_python(self, value) -> Decimal | None:
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        amount = parse_amount(text, max_digits=self.max_digits)
        if message := _bounds_error(amount, self.min_value, None):
            raise ValidationError(message, code="min_value")
        return amount

    def prepare_value(self, value):
        return format_amount(value) if isinstance(value, Decimal) else value
