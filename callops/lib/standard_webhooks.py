"""Standard Webhooks v1 signing (https://www.standardwebhooks.com), symmetric HMAC-SHA256 form.

Headers: `webhook-id` (stable across retries), `webhook-timestamp` (Unix seconds of this attempt)
and `webhook-signature` (`v1,<base64 HMAC of "id.timestamp.body">`, several entries separated by
spaces while an old and a new secret overlap). The body signed is the exact bytes sent.
"""

from __future__ import annotations

import base64
import functools
import hmac
import secrets as _secrets

PREFIX = "whsec_"
KEY_BYTES = 24  # 192 bits, the spec's minimum and what Svix generates


def generate_secret() -> str:
    return PREFIX + base64.b64encode(_secrets.token_bytes(KEY_BYTES)).decode()


# A worker signs thousands of messages with the same few secrets: decode each one once.
@functools.lru_cache(maxsize=1024)
def key_bytes(secret: str) -> bytes:
    raw = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    # The reference library pads before decoding, so unpadded secrets work too.
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` entry."""
    if "." in msg_id:
        raise ValueError("webhook-id must not contain '.'")
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(key_bytes(secret), signed, "sha256")).decode()


def signature_header(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Every valid secret's signature in one header; receivers accept any entry that matches."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }


def verify(secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """True if any `v1` entry of `header` matches (what a receiver does, minus the clock check)."""
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(entry, expected) for entry in header.split(" ") if entry.startswith("v1,"))
