"""ISO 8601 in and out, the one way the API reads and writes times.

Python before 3.11 and Django's parser reject a trailing `Z`, which is how most clients (and
CallingBox) write UTC, so it is turned into `+00:00` first. Output always uses `Z` for UTC.
"""

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime


def parse(text: object) -> datetime | None:
    """The datetime in `text` (naive if it carries no offset), or None when it is not ISO 8601."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    try:
        when = parse_datetime(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None
    if when is None:
        return None
    # A time whose UTC value falls outside years 1-9999 cannot be stored or read back (9999-12-31
    # at -05:00 is year 10000 in UTC), so it is not a usable time at all; the first and last years
    # are refused too, so no later offset arithmetic can step outside the range.
    try:
        utc = when.astimezone(UTC) if when.tzinfo else when
    except OverflowError:
        return None
    return when if 1 < utc.year < 9999 else None


def format(value: datetime | None) -> str | None:  # noqa: A001 (reads as isotime.format)
    if not value:
        return None
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)  # the API speaks UTC whatever offset the time arrived with
    return value.isoformat().replace("+00:00", "Z")
