"""PolyAI outbound emulator: `X-PolyAi-Auth-Token`, `OUT-<uuid>` SIDs, status data that expires.

`status_style` picks the doc version's spelling: `v1` (`queued`/`calling`/`success`/`failure`),
`upper` (Agents API `QUEUED`/`CALLING`/…) or `legacy` (`queued`/`in-progress`/`completed`/
`failed`); any word (`no-answer`, `cancelled`, `CREATED`, …) can also be scripted directly.
After `expiry_seconds` (provider time) past the end a status read answers 404, as it does ~2 h in.
"""

from __future__ import annotations

import re
import uuid

from .core import Emulator as Base
from .core import Outcome

SID_RE = re.compile(r"^OUT-[0-9a-f-]{36}$")
REASON_TIMEOUT = "call queueing: max timeout limit exceeded"
STYLES = ("v1", "upper", "legacy")
LEGACY = {"queued": "queued", "calling": "in-progress", "success": "completed", "failure": "failed"}


class Emulator(Base):
    kind = "polyai"
    outcomes = {
        "completed": Outcome([(0, "queued"), (2, "calling"), (40, "success")], "completed"),
        "failed": Outcome([(0, "queued"), (2, "calling"), (30, "failure")], "failed", {"reason": "no answer"}),
        "queue_timeout": Outcome([(0, "queued"), (20, "failure")], "failed", {"reason": REASON_TIMEOUT}),
    }
    routes = [
        ("POST", r"/v1/outbound-calling(?:/trigger)?", "create", "create"),
        ("GET", r"/v1/outbound-calling/(?P<sid>[^/]+)/status", "read", "read"),
    ]

    def __init__(self, *, status_style: str = "v1", expiry_seconds: float = 7200, **kw):
        if status_style not in STYLES:
            raise ValueError(f"status_style must be one of {', '.join(STYLES)}")
        super().__init__(**kw)
        self.status_style = status_style
        self.expiry_seconds = expiry_seconds

    def authenticate(self, req):
        if req.headers.get("x-polyai-auth-token", "") != self.api_key:
            return self.error(401, "Invalid or missing authentication token")
        return None

    def error(self, status, message):
        return status, {"message": message}, {}

    def create(self, req):
        body = req.json()
        if not isinstance(body, dict) or not body.get("to_number"):
            return self.error(400, "to_number is required")
        meta = body.get("metadata") or {}
        if not isinstance(meta, dict) or any(not isinstance(v, str) for v in meta.values()):
            return self.error(400, "metadata values must be strings")
        call = self.new_call(f"OUT-{uuid.uuid4()}", body["to_number"], request=body)
        return 200, {"call_sid": call.id}, {}

    def read(self, req):
        sid = req.params["sid"]
        if not SID_RE.match(sid):
            return self.error(400, "Invalid call SID format")
        call = self.find(sid)
        if call is None:
            return self.error(404, "Call SID not found")
        ended = self.ended_at(call)
        if ended is not None and (self.elapsed(call) - (ended - call.created) * self.speed) > self.expiry_seconds:
            return self.error(404, "Call SID not found")
        raw = self.state(call)
        final = self.is_final(call)
        reason = call.outcome.extra.get("reason", "") if final else ""
        if self.status_style == "upper":
            raw = raw.upper()
        elif self.status_style == "legacy":
            raw = LEGACY.get(raw, raw)
        return 200, {"status": raw, "reason": reason}, {}
