"""PolyAI outbound-calling adapter: `OUT-…` call SIDs, four coarse statuses, no callbacks.

Status words arrive in several doc versions and cases (`success`, `SUCCESS`, legacy `completed`,
British `cancelled`); all are normalised here. The status read 404s about two hours after a call
ends, so PolyAI calls are polled first and often (2–5 s), and a 404 on a call we never saw finish
is reported as `status_expired` (the sync job ends the call failed with that error code).
"""

from __future__ import annotations

import json
import re

from . import http_client
from .base import Placement, ProviderAdapter, ProviderError, StatusReport

KIND = "polyai"
SID_RE = re.compile(r"^OUT-[0-9A-Za-z-]{8,}$")
STATUS_MAP = {
    "queued": "queued", "created": "queued",
    # `calling` spans dialing, ringing and talking; PolyAI gives no answered signal.
    "calling": "initiated",
    "success": "completed", "failure": "failed",
    # legacy doc version
    "ringing": "ringing", "in-progress": "in_progress", "in_progress": "in_progress", "completed": "completed",
    "no-answer": "no_answer", "busy": "busy", "failed": "failed", "cancelled": "canceled", "canceled": "canceled",
}


def report_from_status(sid: str, body: dict) -> StatusReport:
    raw = str(body.get("status") or "")
    status = STATUS_MAP.get(raw.strip().lower())
    if status is None:
        raise ValueError(f"unknown PolyAI status {raw!r}")
    reason = str(body.get("reason") or "")
    fields = {}
    if status == "failed":
        fields = {"error_code": "call_failed", "error_message": reason or raw}
    return StatusReport(status=status, raw_status=raw, reason=reason, provider_call_id=sid, fields=fields,
                        payload=body)


class Adapter(ProviderAdapter):
    kind = KIND
    default_base_url = "https://api.us-1.platform.polyai.app"
    poll_interval = 3.0  # the docs ask for every 2-5 s while queued/calling
    max_call_seconds = 3600

    def _headers(self) -> dict:
        return {"X-PolyAi-Auth-Token": self.credentials.get("api_key", "")}

    def place_call(self, call) -> Placement:
        # Metadata reaches the agent as SIP headers: values must be strings.
        metadata = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in call.metadata.items()}
        metadata["callops_call_id"] = str(call.public_id)
        response = http_client.send(KIND, "POST", f"{self.base_url}/v1/outbound-calling", headers=self._headers(),
                                    json={"to_number": call.to_number, "metadata": metadata})
        data = http_client.json_body(response, KIND)
        sid = str(data.get("call_sid") or data.get("callSid") or data.get("conversation_id") or "")
        if not sid:
            raise ProviderError("PolyAI answered without a call_sid", permanent=False, code="bad_response")
        raw = str(data.get("status") or "queued")
        return Placement(provider_call_id=sid, report=StatusReport(
            status=STATUS_MAP.get(raw.lower(), "queued"), raw_status=raw, provider_call_id=sid, payload=data))

    def fetch_status(self, call) -> StatusReport:
        sid = call.provider_call_id
        try:
            response = http_client.send(KIND, "GET", f"{self.base_url}/v1/outbound-calling/{sid}/status",
                                        headers=self._headers())
        except ProviderError as exc:
            if exc.http_status == 404 and SID_RE.match(sid or ""):
                # A SID we were given that now 404s: its status data has expired.
                raise ProviderError(f"PolyAI status for {sid} has expired", permanent=True, code="status_expired",
                                    http_status=404)
            raise
        return report_from_status(sid, http_client.json_body(response, KIND))

    def test_connection(self) -> str:
        # A well-formed SID that cannot exist: 404 proves the token works, 401 that it does not.
        try:
            http_client.send(KIND, "GET", f"{self.base_url}/v1/outbound-calling/OUT-00000000-0000-0000-0000-000000000000"
                             "/status", headers=self._headers())
        except ProviderError as exc:
            if exc.http_status == 404:
                return "PolyAI reachable; token accepted"
            raise
        return "PolyAI reachable; token accepted"
