"""Keyset pagination over (created_at, id), newest first, for every list under /v1/.

Two ways to page, both answered by the same envelope
`{"object": "list", "data": [...], "has_more": bool, "next_cursor": str | null}`:

- `starting_after` / `ending_before` take the public id of a row, as the CallingBox API and its
  SDKs do (`iter_pages` sends the last id of a page as `starting_after`, or the first id as
  `ending_before` when paging backward). `starting_after=X` answers the rows just older than X;
  `ending_before=X` answers the `limit` rows just newer than X, still newest first, and its
  `has_more` says whether still newer rows remain.
- `cursor` takes the opaque `next_cursor` of a previous page (forward only).

Keyset rather than OFFSET: a page stays the same size and order while new rows arrive, and the
query is an index range scan on (created_at, id) however deep the client pages.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from ninja import Query

from callops.accounts.tenancy import parse_public_id

from .base import ApiError
from .schemas import declare

# The query parameters every list takes, declared once so each list's signature reads the same.
LIMIT = Query(20, ge=1, le=100, description="rows per page (1-100)")
CURSOR = Query(None, max_length=200, description="the next_cursor of a previous page")
STARTING_AFTER = declare(Query(None, min_length=1, max_length=64,
                               description="an object id: answer the rows just older than it"), format="uuid")
ENDING_BEFORE = declare(Query(None, min_length=1, max_length=64,
                              description="an object id: answer the rows just newer than it (still newest first)"),
                        format="uuid")


@dataclass
class Page:
    rows: list
    has_more: bool
    next_cursor: str | None

    def body(self, to_dict: Callable[[Any], dict]) -> dict:
        return {"object": "list", "data": [to_dict(r) for r in self.rows], "has_more": self.has_more,
                "next_cursor": self.next_cursor}


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


def _anchor(anchors, name: str, value: str) -> tuple[datetime, int]:
    """(created_at, pk) of the row whose public id is `value`, looked up among `anchors` (the
    organization's rows of this kind, not only those the filters keep)."""
    pid = parse_public_id(value)
    row = anchors.filter(public_id=pid).values_list("created_at", "pk").first() if pid else None
    if row is None:
        raise ApiError(400, f"{name} must be the id of an object in this list; {value} was not found",
                       fields={name: "no such object in this organization"})
    return row


def page(qs, *, limit: int, cursor: str | None = None, starting_after: str | None = None,
         ending_before: str | None = None, anchors=None, rows: Callable = list) -> Page:
    """One page of `qs`, newest first.

    `anchors` is the organization-scoped queryset where `starting_after` / `ending_before` ids are
    looked up (default: `qs` itself). `rows` turns the sliced queryset into the row objects (each
    with `created_at` and `pk`).
    """
    given = [n for n, v in (("cursor", cursor), ("starting_after", starting_after),
                            ("ending_before", ending_before)) if v]
    if len(given) > 1:
        raise ApiError(400, f"pass only one of {', '.join(given)}", fields={n: "conflicts" for n in given[1:]})
    anchors = qs if anchors is None else anchors
    if ending_before:
        when, pk = _anchor(anchors, "ending_before", ending_before)
        # The rows just newer than the anchor are the oldest of the newer ones: read them oldest
        # first, then answer them newest first like every other page.
        newer = qs.filter(Q(created_at__gt=when) | Q(created_at=when, id__gt=pk)).order_by("created_at", "id")
        found = rows(newer[: limit + 1])
        more = len(found) > limit
        found = list(reversed(found[:limit]))
        # Older rows always remain (the anchor at least), so the forward cursor is set.
        nxt = encode_cursor(found[-1].created_at, found[-1].pk) if found else None
        return Page(found, more, nxt)
    qs = qs.order_by("-created_at", "-id")
    if starting_after:
        when, pk = _anchor(anchors, "starting_after", starting_after)
        qs = qs.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=pk))
    elif cursor:
        when, pk = decode_cursor(cursor)
        qs = qs.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=pk))
    found = rows(qs[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    nxt = encode_cursor(found[-1].created_at, found[-1].pk) if more and found else None
    return Page(found, more, nxt)
