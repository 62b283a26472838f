"""Cursor pagination over (created_at, id) descending: stable while new rows arrive."""

import base64
from datetime import datetime

from django.db.models import Q

from .base import ApiError


def encode_cursor(created_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = raw.split("|")
        return datetime.fromisoformat(when), int(pk)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "cursor is not valid; pass the next_cursor of a previous page",
                       fields={"cursor": "is not a cursor returned by this API"})


def page(qs, *, cursor: str | None, limit: int, rows=list):
    """Rows newest first after `cursor`, and the cursor of the next page (or None).

    `rows` turns the sliced queryset into the row objects (each with `created_at` and `pk`).
    """
    qs = qs.order_by("-created_at", "-id")
    if cursor:
        when, pk = decode_cursor(cursor)
        qs = qs.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=pk))
    rows = rows(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1].created_at, rows[-1].pk) if more and rows else None
    return rows, nxt
