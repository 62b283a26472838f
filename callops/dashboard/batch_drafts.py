"""Uploaded recipient lists waiting for the user to confirm them (the batch form's second step).

Between "upload" and "start" the user picks the phone column from the file's real columns and
sees valid and rejected rows, so the file has to be kept for a while. It is kept compressed in
the cache (Redis) for DRAFT_TTL: a draft is nobody's work yet, so losing it costs only a
re-upload, and it needs no table or file store shared by every web process. A draft is reachable
only by the user and the organization that uploaded it; anyone else gets a 404.
"""

from __future__ import annotations

import io
import secrets
import zlib

from django.conf import settings
from django.core.cache import cache
from django.http import Http404

from callops.batches import recipient_lists, services

DRAFT_TTL = 2 * 3600


class DraftTooLarge(ValueError):
    pass


def max_bytes() -> int:
    # The same ceiling as POST /v1/batches, so the UI and the API accept the same files.
    return int(getattr(settings, "API_MAX_UPLOAD_BYTES", 32 * 1024 * 1024))


def _key(request, token: str) -> str:
    return f"batch-draft:{request.org.pk}:{request.user.pk}:{token}"


def save(request, *, data: bytes, filename: str, pasted: bool) -> str:
    if len(data) > max_bytes():
        raise DraftTooLarge(f"the list is {len(data) // (1024 * 1024)} MB; at most "
                            f"{max_bytes() // (1024 * 1024)} MB can be uploaded at once")
    token = secrets.token_urlsafe(16)
    cache.set(_key(request, token), {"filename": filename[:200], "pasted": pasted,
                                     "data": zlib.compress(data, 3)}, DRAFT_TTL)
    return token


def load(request, token: str) -> dict:
    """The draft, or Http404 (unknown, expired, or someone else's)."""
    if not token or len(token) > 64:
        raise Http404("upload not found")
    draft = cache.get(_key(request, token))
    if draft is None:
        raise Http404("this upload has expired or does not exist; upload the list again")
    return draft


def discard(request, token: str) -> None:
    cache.delete(_key(request, token))


def table(draft: dict, phone_column: str | None) -> recipient_lists.CsvTable:
    """A fresh one-pass reader over the draft (CsvError when the chosen column is not usable)."""
    data = zlib.decompress(draft["data"])
    if draft["pasted"]:
        return recipient_lists.read_pasted(data.decode("utf-8"), phone_column=phone_column)
    return recipient_lists.read_csv(io.BytesIO(data), phone_column=phone_column)


def columns(draft: dict) -> list[str]:
    """The file's header columns, whatever the phone column turns out to be."""
    try:
        return [c for c in table(draft, None).columns if c]
    except recipient_lists.CsvError as exc:
        return [c for c in (exc.columns or []) if c]


def preview(request, token: str, draft: dict, phone_column: str | None, region: str) -> dict:
    """services.preview of the draft, cached: re-rendering the page (a settings error, a new
    column choice and back) does not re-validate 100,000 rows each time."""
    key = f"{_key(request, token)}:preview:{phone_column or ''}:{region}"
    found = cache.get(key)
    if found is not None:
        return found
    t = table(draft, phone_column)
    result = {"phone_column": t.phone_column, "columns": [c for c in t.columns if c], "encoding": t.encoding,
              **services.preview(t.rows, default_region=region, org=request.org)}
    cache.set(key, result, DRAFT_TTL)
    return result
