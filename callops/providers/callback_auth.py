"""Verification of signed provider callbacks (HMAC over the raw body, constant-time compare)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .base import CallbackRejected

TOLERANCE_SECONDS = 300


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_timestamped(header: str, body: bytes, secret: str, *, now: float | None = None,
                       tolerance: int = TOLERANCE_SECONDS) -> None:
    """CallingBox style `t=<unix>,v1=<hex>[,v1=<hex>...]` over "{t}.{raw body}".

    Several v1 values arrive while a secret is being rotated; any match passes.
    """
    if not secret:
        raise CallbackRejected("no callback secret configured for this account")
    parts = [p.strip().split("=", 1) for p in (header or "").split(",") if "=" in p]
    stamps = [v for k, v in parts if k == "t"]
    candidates = [v for k, v in parts if k == "v1"]
    if len(stamps) != 1 or not candidates:
        raise CallbackRejected("malformed signature header")
    try:
        t = int(stamps[0])
    except ValueError:
        raise CallbackRejected("malformed signature timestamp")
    if abs((now if now is not None else time.time()) - t) > tolerance:
        raise CallbackRejected("signature timestamp outside the tolerance")
    expected = hmac_hex(secret, f"{t}.".encode() + body)
    if not any(hmac.compare_digest(expected, c.lower()) for c in candidates):
        raise CallbackRejected("signature mismatch")


def sign_timestamped(body: bytes, secret: str, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    return f"t={t},v1={hmac_hex(secret, f'{t}.'.encode() + body)}"


def verify_body(signature: str, body: bytes, secret: str) -> None:
    """Plain hex HMAC-SHA256 of the body (Trillet's X-Trillet-Signature)."""
    if not secret:
        raise CallbackRejected("no callback secret configured for this account")
    sig = (signature or "").strip()
    if sig.startswith("sha256="):
        sig = sig[7:]
    if not sig or not hmac.compare_digest(hmac_hex(secret, body), sig.lower()):
        raise CallbackRejected("signature mismatch")


def verify_shared_secret(headers: dict[str, str], secret: str) -> None:
    """A shared secret in `Authorization: Bearer …` or `X-API-Key` (Dograh webhook-node credentials)."""
    if not secret:
        return  # the unguessable token in the URL is the only credential configured
    auth = headers.get("authorization", "")
    presented = auth[7:] if auth.lower().startswith("bearer ") else headers.get("x-api-key", "")
    if not presented or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise CallbackRejected("missing or wrong callback credential")


def _expected_header(kind: str, secret: str) -> tuple[str, str] | None:
    """The header a Dograh credential of this type sends (api/utils/credential_auth.py)."""
    name, _, rest = kind.partition(":")
    if name == "bearer_token":
        return "authorization", f"Bearer {secret}"
    if name == "basic_auth":  # the secret is "username:password"
        return "authorization", f"Basic {base64.b64encode(secret.encode()).decode()}"
    if name in ("api_key", "custom_header"):
        return (rest.strip() or ("X-API-Key" if name == "api_key" else "X-Custom")).lower(), secret
    return None


def verify_credential(headers: dict[str, str], secret: str, kind: str = "") -> None:
    """A Dograh webhook credential: `kind` is bearer_token, basic_auth, api_key[:<header>] or
    custom_header:<header>; without one, Bearer or X-API-Key as before. Constant-time compare."""
    if not kind:
        verify_shared_secret(headers, secret)
        return
    expected = _expected_header(kind, secret)
    if expected is None or not secret:
        raise CallbackRejected("callback credential setting is not usable")
    presented = headers.get(expected[0], "")
    if not hmac.compare_digest(presented.encode(), expected[1].encode()):
        raise CallbackRejected("missing or wrong callback credential")
