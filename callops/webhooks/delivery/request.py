"""One signed POST of a delivery: the request it sends and the classified outcome of sending it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from callops.lib import http, standard_webhooks
from callops.webhooks import callingbox_signature
from callops.webhooks.delivery.schedule import parse_retry_after

BASE_HEADERS = {"content-type": "application/json", "user-agent": "callops-webhooks/1.0"}


def clean_text(text: str) -> str:
    # PostgreSQL text and JSON cannot hold U+0000; a receiver's reply may contain it.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


@dataclass
class Outcome:
    ok: bool
    status: int | None = None
    headers: dict | None = None
    body: str = ""
    error_kind: str = ""
    error: str = ""
    duration_ms: int = 0
    retry_after: float | None = None

    @property
    def overloaded(self) -> bool:
        return self.error_kind == "timeout" or self.status == 429

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def abort(self) -> bool:
        """The receiver asked us to stop retrying this message (the Svix `webhook-delivery` header)."""
        return self.error_kind == "aborted"


def internal_error(exc: Exception) -> Outcome:
    """The outcome of a bug or an unforeseen failure on our side (recorded, then retried as usual)."""
    return Outcome(False, error_kind="internal",
                   error=clean_text(f"internal error: {exc.__class__.__name__}: {exc}")[:1000])


def build_request(row, secrets: list[str]) -> tuple[dict, bytes]:
    """Headers and body of a claimed delivery's POST, signed with `secrets` (Standard Webhooks and
    CallingBox-Signature)."""
    body = row.body.encode()
    headers = dict(BASE_HEADERS)
    if row.endpoint is not None:
        headers.update(row.endpoint.headers)
    # Signature headers last, so a custom header can never replace them. Both schemes sign the same
    # bytes at the same timestamp; the event id is the envelope id in both.
    now = int(time.time())
    headers.update(standard_webhooks.headers(secrets, row.webhook_id, now, body))
    headers.update(callingbox_signature.headers(secrets, row.webhook_id, row.event_type, now, body))
    return headers, body


def _stored(text: str) -> str:
    limit = settings.WEBHOOK_STORED_BODY_BYTES
    if len(text) * 4 > limit:  # cheap test first: only long texts can be over the byte limit
        raw = text.encode("utf-8", "replace")
        if len(raw) > limit:
            text = raw[:limit].decode("utf-8", "ignore")
    return clean_text(text)


def send(url: str, headers: dict, body: bytes) -> Outcome:
    """One POST with the hard deadline; classifies the result. Never raises for network trouble."""
    started = time.monotonic()
    try:
        resp = http.customer_request("POST", url, headers=headers, content=body,
                                     timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    except http.OutboundError as exc:
        return Outcome(False, error_kind=exc.kind, error=clean_text(_error_text(exc.kind, str(exc))),
                       duration_ms=int((time.monotonic() - started) * 1000))
    elapsed = int((time.monotonic() - started) * 1000)
    text = resp.content.decode("utf-8", "replace")
    status = resp.status_code
    # Decoded once from the raw pairs (httpx's Headers re-detects the encoding on every lookup).
    reply_headers: dict[str, str] = {}
    for name, value in resp.headers.raw:
        key, val = clean_text(name.decode("latin-1").lower()), clean_text(value.decode("latin-1"))
        reply_headers[key] = f"{reply_headers[key]}, {val}" if key in reply_headers else val
    out = Outcome(200 <= status < 300, status=status, headers=reply_headers, body=_stored(text), duration_ms=elapsed)
    if out.ok:
        return out
    if 300 <= status < 400:
        location = reply_headers.get("location", "")[:500]
        out.error_kind = "redirect"
        out.error = (f"HTTP {status} redirect to {location or '(no Location)'}; redirects are not "
                     f"followed, update the webhook URL")
    else:
        out.error_kind = "http"
        out.error = f"HTTP {status}" + (f": {clean_text(text[:200])}" if text.strip() else "")
        out.retry_after = parse_retry_after(reply_headers.get("retry-after"))
    if reply_headers.get("webhook-delivery", "").strip().lower() == "abort-message":
        out.error_kind = "aborted"
        out.error += ("; the receiver answered 'webhook-delivery: abort-message', so this message is not "
                      "retried (it can still be re-sent by hand)")
    return out


def _error_text(kind: str, message: str) -> str:
    if kind == "timeout":
        return f"timeout: no complete response within {settings.WEBHOOK_TIMEOUT_SECONDS:g}s"
    if kind == "blocked":
        return message
    return f"{kind}: {message}"
