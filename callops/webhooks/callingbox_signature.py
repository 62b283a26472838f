"""The CallingBox webhook signature, sent beside the Standard Webhooks one on every delivery.

`CallingBox-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`, each `v1` the hex HMAC-SHA256 of
`"<t>." + body` keyed with a signing secret's UTF-8 bytes (the whole `whsec_...` string, not its
base64-decoded key, which is what the CallingBox SDK's `Webhooks.construct_event` does). One `v1`
per secret still in force, so a receiver holding any of them verifies during a rotation.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{int(timestamp)}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={int(timestamp)}"] + [f"v1={sign(s, timestamp, body)}" for s in secrets])


def headers(secrets: list[str], event_id: str, event_type: str, timestamp: int, body: bytes) -> dict[str, str]:
    # Lower-case like the Standard Webhooks names, so a dict holds each header once.
    return {
        "callingbox-signature": signature_header(secrets, timestamp, body),
        "callingbox-event-id": event_id,
        "callingbox-event-type": event_type,
    }
