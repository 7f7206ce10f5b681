"""The one CSV writer for every file the service produces, made safe to open in a spreadsheet.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return before one) as a formula, so text written by customers and experts (an external id,
an answer, a memo, a name) could run in whoever opens the export. Such text is written with
a leading ``'``, which spreadsheets show as text; numbers, negative ones included, stay
numbers.
"""

import csv
import re
from collections.abc import Iterable, Iterator
from typing import IO

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


def cell(value: object) -> str:
    """A value as CSV text, inert for spreadsheets: None is empty, numbers are written as
    they are, and text that a spreadsheet would run is prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not NUMBER.match(text):
        return f"'{text}"
    return text


class _Line:
    """A file-like object whose write returns the line, so csv.writer can feed a stream."""

    def write(self, line: str) -> str:
        return line


def lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV lines of a header and rows, every cell through ``cell``, one at a time for a
    streaming response."""
    writer = csv.writer(_Line())
    yield writer.writerow([cell(name) for name in header])
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def write(handle: IO[str], header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    """Write a whole CSV file to ``handle``, opened with ``newline=""``."""
    handle.writelines(lines(header, rows))
