"""Outbound HTTP for provider adapters, and the one place provider errors are classified.

Every adapter sends through `send()`: one shared client (building an httpx.Client costs ~30 ms,
so it is reused), explicit timeouts, no redirects, no proxy from the environment. Errors come
back as ProviderError with `permanent` decided here, so adapters never re-implement it:

- transient (retry, honouring Retry-After): connect failures, timeouts, 5xx, 429
- permanent (fail now): 400/422 bad request or number, 401/403 credentials, 402 quota, 404
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC, datetime

import httpx
from django.conf import settings

from callops.lib import http

from .base import ProviderError

MAX_RESPONSE_BYTES = 2 * 1024 * 1024


def error_text(response: httpx.Response) -> str:
    """The provider's own words for an error, whatever shape its body has.

    CallingBox/Trillet `{"error": "..."}`, Bolna `{"error": <int>, "message": "..."}`, Trillet
    429 `{"error": {"code", "message"}}`, Dograh `{"detail": "..."}` or a 422 `detail` list.
    """
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason_phrase or "")[:300]
    if isinstance(body, dict):
        if isinstance(body.get("message"), str) and body["message"]:
            return body["message"][:300]
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("code") or err)[:300]
        if isinstance(err, str) and err:
            return err[:300]
        detail = body.get("detail")
        if isinstance(detail, list):
            return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}"
                             for d in detail if isinstance(d, dict))[:300]
        if detail:
            return str(detail)[:300]
    return str(body)[:300]


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After (seconds or HTTP date), else a `reset_at` hint in the body (Trillet)."""
    value = response.headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            if parsed is not None:
                return max(0.0, (parsed - datetime.now(UTC)).total_seconds())
    try:
        body = response.json()
    except ValueError:
        return None
    reset = body.get("error", {}).get("reset_at") if isinstance(body, dict) and isinstance(body.get("error"), dict) \
        else None
    if reset is None:
        return None
    try:
        reset = float(reset)
        if reset > 1e11:  # milliseconds
            reset /= 1000
        return max(0.0, reset - time.time())
    except (TypeError, ValueError):
        try:
            return max(0.0, (datetime.fromisoformat(str(reset).replace("Z", "+00:00")) - datetime.now(UTC))
                       .total_seconds())
        except ValueError:
            return None


_PERMANENT_CODES = {400: "invalid_request", 401: "auth_failed", 402: "insufficient_funds", 403: "forbidden",
                    404: "not_found", 409: "conflict", 422: "invalid_request"}


def classify(response: httpx.Response, kind: str) -> ProviderError:
    status = response.status_code
    message = f"{kind} answered {status}: {error_text(response)}"
    if status == 429:
        return ProviderError(message, permanent=False, code="rate_limited", http_status=status,
                             retry_after=retry_after_seconds(response))
    if status >= 500:
        return ProviderError(message, permanent=False, code="provider_unavailable", http_status=status,
                             retry_after=retry_after_seconds(response))
    return ProviderError(message, permanent=True, code=_PERMANENT_CODES.get(status, "provider_rejected"),
                         http_status=status)


def send(kind: str, method: str, url: str, *, headers: dict | None = None, json=None, data=None, files=None,
         params=None, ok=(200, 201, 202, 204)) -> httpx.Response:
    """Send one request through callops.lib.http (shared client, hard total deadline, no redirects,
    no proxy from the environment); return the response if its status is in `ok`, else raise
    ProviderError."""
    try:
        response = http.provider_request(method, url, headers=headers, json=json, data=data, files=files,
                                         params=params, timeout=getattr(settings, "PROVIDER_HTTP_TIMEOUT_SECONDS", 10.0),
                                         max_bytes=MAX_RESPONSE_BYTES)
    except http.ResponseTooLarge:
        raise ProviderError(f"{kind} response too large", permanent=False, code="response_too_large")
    except http.OutboundError as exc:
        if not exc.request_sent:
            # Nothing reached the provider (DNS, refused, TLS, blocked): safe to retry even a create.
            raise ProviderError(f"{kind} unreachable: {exc}", permanent=False, code="connect_error")
        if isinstance(exc, http.OutboundTimeout):
            # The request may have been processed; a create is not safe to repeat blindly.
            raise ProviderError(f"{kind} timed out: {exc}", permanent=False, code="timeout")
        raise ProviderError(f"{kind} request failed: {exc}", permanent=False, code="network_error")
    if response.status_code not in ok:
        raise classify(response, kind)
    return response


def json_body(response: httpx.Response, kind: str):
    try:
        return response.json()
    except ValueError:
        raise ProviderError(f"{kind} answered non-JSON", permanent=False, code="bad_response",
                            http_status=response.status_code)
