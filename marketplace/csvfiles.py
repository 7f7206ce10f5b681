"""CSV for people: statements, earnings and payout files are opened in spreadsheets."""

import csv
import re
from collections.abc import Iterable, Iterator

NUMBER = re.compile(r"-?\d+(\.\d+)?")


def cell(value) -> str:
    """A value as text, made inert for spreadsheets, which run cells that start with these
    characters as formulas."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not NUMBER.fullmatch(text):
        return f"'{text}"
    return text  # negative amounts start with a minus and stay numbers


class _Line:
    """A file-like object whose write returns the line, so csv.writer can feed a stream."""

    def write(self, line: str) -> str:
        return line


def lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])
