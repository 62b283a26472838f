"""ISO 8601 in and out, the one way the API reads and writes times.

Python before 3.11 and Django's parser reject a trailing `Z`, which is how most clients (and
CallingBox) write UTC, so it is turned into `+00:00` first. Output always uses `Z` for UTC.
"""

from datetime import datetime

from django.utils.dateparse import parse_datetime


def parse(text) -> datetime | None:
    """The datetime in `text` (naive if it carries no offset), or None when it is not ISO 8601."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    try:
        return parse_datetime(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None


def format(value: datetime | None) -> str | None:  # noqa: A001 (reads as isotime.format)
    return value.isoformat().replace("+00:00", "Z") if value else None
