"""Values read by plain SQL, made the same whichever database returned them.

The hot paths read rows with a cursor rather than the ORM, so they get what the driver
hands back: psycopg decodes JSON and returns aware timestamps, SQLite returns JSON as text
and timestamps naive.
"""

import json
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone


def json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def aware(value: datetime) -> datetime:
    """Timestamps are stored in UTC."""
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
