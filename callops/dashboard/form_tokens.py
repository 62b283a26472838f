"""One-time form tokens: a form that places a call does it at most once, however often it is sent.

The new-call form carries a random token in a hidden field. The first POST with it claims the
token server-side (a row in the same per-organization idempotency table the API's
Idempotency-Key uses, so it expires after 24 hours the same way) before anything is placed; a
second POST with the same token (a double click, a browser resubmitting, the back button) finds
the claim and is sent to the call the first one placed, or told the first is still running, or
that the first ended in an error after which the call may exist.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from callops.calls.models import IdempotencyRecord

FIELD = "form_token"
KEY_PREFIX = "dashboard-form:"
PATH = "dashboard:call_new"
# A claim with no outcome after this long belongs to a request that died mid-way.
STALLED = timedelta(minutes=2)
# A second submit arriving while the first is still placing its call waits this long for it,
# so a double click ends on the call's page rather than on a "still working" message.
WAIT_SECONDS = 5.0
# Fields that do not change what is placed (they differ between two tabs of the same form).
IGNORED_FIELDS = ("csrfmiddlewaretoken", "tz", FIELD)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def well_formed(token: str) -> bool:
    return isinstance(token, str) and 16 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def _fingerprint(post) -> str:
    items = sorted((k, v) for k in post for v in post.getlist(k) if k not in IGNORED_FIELDS)
    return hashlib.sha256(repr(items).encode()).hexdigest()


@dataclass
class Claim:
    won: bool
    record: IdempotencyRecord | None = None
    call_public_id: str = ""
    message: str = ""


def claim(org, token: str, post) -> Claim:
    """Claim `token` for this submission, or say what the earlier submission with it did."""
    key = KEY_PREFIX + token
    fingerprint = _fingerprint(post)
    IdempotencyRecord.objects.filter(organization=org, key=key, created_at__lt=timezone.now() - IdempotencyRecord.TTL).delete()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                record: IdempotencyRecord | None = IdempotencyRecord.objects.create(
                    organization=org, key=key, request_hash=fingerprint, path=PATH)
            return Claim(True, record)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(organization=org, key=key).first()
        if record is None:
            continue  # released a moment ago (the first attempt failed): claim it again
        call_id = (record.response_body or {}).get("call_id")
        unknown = (record.response_body or {}).get("outcome") == "unknown" or (
            record.response_status is None and timezone.now() - record.created_at > STALLED)
        if unknown:
            # The first submission failed, or died, after the call row may have been created
            # and the provider asked: placing again could dial the same person twice.
            return Claim(False, record, message="This form was submitted before and that attempt ended in an "
                                                "error; the call may have been placed. Check the calls list, "
                                                "then open the form again if it is still needed.")
        if call_id:
            same = record.request_hash == fingerprint
            return Claim(False, record, call_public_id=call_id, message=(
                "This form was already submitted; here is the call it placed." if same else
                "This form already placed the call below; open the form again to place another call."))
        if time.monotonic() >= deadline:
            return Claim(False, record, message="This form was already submitted and its call is still being "
                                                "placed; it appears in the list in a moment.")
        time.sleep(0.1)


def complete(c: Claim, call) -> None:
    assert c.record is not None  # only a won claim completes, and it holds its record
    IdempotencyRecord.objects.filter(pk=c.record.pk).update(response_status=302,
                                                            response_body={"call_id": str(call.public_id)})


def release(c: Claim) -> None:
    """The placement was refused before anything was written: the token may be used again."""
    assert c.record is not None  # only a won claim is released, and it holds its record
    IdempotencyRecord.objects.filter(pk=c.record.pk).delete()


def fail(c: Claim) -> None:
    """The placement raised: whether a call was created or dialed is unknown, so the token is kept
    (as the API keeps an Idempotency-Key after a 500) and a resubmission is told so."""
    assert c.record is not None  # only a won claim fails, and it holds its record
    IdempotencyRecord.objects.filter(pk=c.record.pk).update(response_status=500,
                                                            response_body={"outcome": "unknown"})
