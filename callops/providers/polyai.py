"""PolyAI outbound-calling adapter: `OUT-…` call SIDs, four coarse statuses, no callbacks.

Status words arrive in several doc versions and cases (`success`, `SUCCESS`, legacy `completed`,
British `cancelled`); all are normalised here. The status read 404s about two hours after a call
ends, so PolyAI calls are polled first and often (2–5 s). A 404 means `status_expired` (the sync
job ends the call failed with that error code) only when the data could have expired: the call
was placed, or last seen live, about two hours ago or more. A 404 sooner than that (a call PolyAI
has not recorded yet, a glitch behind its load balancer) is a transient error: polling backs off
and retries, and a call that never reappears is failed `stale` by the sweep.

PolyAI issues accounts one of three API variants (providers.md 2.3), chosen per account by the
credential setting `api_variant`; the stored `api_key` is sent in the header the variant names:
- `outbound` (default): `POST /v1/outbound-calling` `{to_number, metadata}` with
  `X-PolyAi-Auth-Token`, answered `{call_sid}`; status `GET /v1/outbound-calling/{sid}/status`.
- `agents` (the Agents API, base `https://api.us.poly.ai`): `POST /v1/agents/{agentId}/telephony/
  outbound-calls` `{toNumber, environment, metadata}` with `X-API-KEY`, answered
  `{callSid, status: "QUEUED"}`; status `GET …/outbound-calls/{callSid}/status?environment=…`.
  `environment` (`sandbox`, `pre-release`, `live`) is required: the account setting
  `environment`. The agent id is the callops agent's provider agent id.
- `connector`: `POST /api/v1/{account_id}/{project_id}/outbound-call/trigger` `{phone_number}`
  with `X-CONNECTOR-ID`, answered `{conversation_id}`; settings `account_id`, `project_id`. The
  reference documents no status read for it, so the `/v1` status route is read with the same
  header (unverified; README "### PolyAI").
An account whose settings do not make a usable request fails the call `invalid_account_settings`
before anything is sent.
"""

from __future__ import annotations

import json
import re

from django.utils import timezone

from . import transport
from .base import Placement, ProviderAdapter, ProviderError, StatusReport, _sync_speed

KIND = "polyai"
VARIANTS = ("outbound", "agents", "connector")
ENVIRONMENTS = ("sandbox", "pre-release", "live")
AGENTS_BASE_URL = "https://api.us.poly.ai"
AUTH_HEADERS = {"outbound": "X-PolyAi-Auth-Token", "agents": "X-API-KEY", "connector": "X-CONNECTOR-ID"}
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


# Status data is kept "approximately 2 hours" after the call ends. A 404 counts as expiry once the
# last sign of life is this old: a little under two hours, because "approximately" may be less.
EXPIRY_PLAUSIBLE_AFTER_SECONDS = 110 * 60


def could_have_expired(call, now=None) -> bool:
    """Whether PolyAI may already have dropped this call's status data.

    The data lives until ~2 h after the call ends, and the call had not ended when we last saw
    it live (`last_synced_at`, a successful read) or when it was placed (`dial_claimed_at`), so
    the earliest expiry is ~2 h after the later of those.
    """
    seen = [t for t in (call.dial_claimed_at, call.last_synced_at) if t is not None]
    if not seen:
        return False
    now = now or timezone.now()
    return (now - max(seen)).total_seconds() >= EXPIRY_PLAUSIBLE_AFTER_SECONDS / _sync_speed()


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
    # Agreed per account with PolyAI, no published figure: a working default; set the account's
    # figure on the provider account.
    rate_limits = {"default": 600}

    @property
    def variant(self) -> str:
        return str(self.credentials.get("api_variant") or "outbound")

    def _base(self) -> str:
        # The Agents API lives on its own host; a Base URL set on the account wins (regions, emulators).
        return AGENTS_BASE_URL if self.variant == "agents" and not self.account.base_url else self.base_url

    def _headers(self) -> dict:
        return {AUTH_HEADERS.get(self.variant, "X-PolyAi-Auth-Token"): self.credentials.get("api_key", "")}

    @classmethod
    def settings_problem(cls, credentials) -> tuple[str, str]:
        variant = str(credentials.get("api_variant") or "outbound")
        if variant not in VARIANTS:
            return "api_variant", f"api_variant must be one of {', '.join(VARIANTS)}"
        if variant == "agents" and credentials.get("environment") not in ENVIRONMENTS:
            return "environment", f"the Agents API needs environment set to one of {', '.join(ENVIRONMENTS)}"
        if variant == "connector" and not (credentials.get("account_id") and credentials.get("project_id")):
            field = "project_id" if credentials.get("account_id") else "account_id"
            return field, "the connector variant needs account_id and project_id"
        return "", ""

    def _settings_problem(self, call=None) -> str:
        problem = self.settings_problem(self.credentials)[1]
        if not problem and self.variant == "agents" and call is not None and not call.agent.provider_agent_id:
            problem = "the Agents API needs the agent's provider agent id (PolyAI agentId)"
        return problem

    def _checked(self, call=None) -> None:
        problem = self._settings_problem(call)
        if problem:
            raise ProviderError(f"PolyAI account settings: {problem}", permanent=True, code="invalid_account_settings")

    def _create_request(self, call) -> tuple[str, dict]:
        """(url, body) of the create in the account's variant: only the fields that variant defines."""
        # Metadata reaches the agent as SIP headers: values must be strings.
        metadata = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in call.metadata.items()}
        metadata["callops_call_id"] = str(call.public_id)
        creds = self.credentials
        if self.variant == "agents":
            return (f"{self._base()}/v1/agents/{call.agent.provider_agent_id}/telephony/outbound-calls",
                    {"toNumber": call.to_number, "environment": creds["environment"], "metadata": metadata})
        if self.variant == "connector":
            return (f"{self._base()}/api/v1/{creds['account_id']}/{creds['project_id']}/outbound-call/trigger",
                    {"phone_number": call.to_number})
        return f"{self._base()}/v1/outbound-calling", {"to_number": call.to_number, "metadata": metadata}

    def _status_request(self, call, sid: str) -> tuple[str, dict]:
        """(url, query) of the status read in the account's variant."""
        if self.variant == "agents":
            agent_id = call.agent.provider_agent_id if call is not None else "_"
            return (f"{self._base()}/v1/agents/{agent_id}/telephony/outbound-calls/{sid}/status",
                    {"environment": self.credentials.get("environment", "")})
        return f"{self._base()}/v1/outbound-calling/{sid}/status", {}

    def place_call(self, call) -> Placement:
        self._checked(call)
        url, body = self._create_request(call)
        response = self._send("create", "POST", url, headers=self._headers(), json=body)
        data = transport.json_body(response, KIND)
        sid = str(data.get("call_sid") or data.get("callSid") or data.get("conversation_id") or "")
        if not sid:
            raise ProviderError("PolyAI answered without a call_sid", permanent=False, code="bad_response")
        raw = str(data.get("status") or "queued")
        return Placement(provider_call_id=sid, report=StatusReport(
            status=STATUS_MAP.get(raw.lower(), "queued"), raw_status=raw, provider_call_id=sid, payload=data))

    def fetch_status(self, call) -> StatusReport:
        sid = call.provider_call_id
        self._checked()
        url, params = self._status_request(call, sid)
        try:
            response = self._send("read", "GET", url, headers=self._headers(), params=params or None)
        except ProviderError as exc:
            if exc.http_status == 404 and SID_RE.match(sid or ""):
                if could_have_expired(call):
                    # A SID we were given, silent for ~2 h, now 404s: its status data has expired.
                    raise ProviderError(f"PolyAI status for {sid} has expired", permanent=True,
                                        code="status_expired", http_status=404) from None
                raise ProviderError(f"PolyAI has no status for {sid} (404), too soon after placement to have "
                                    "expired", permanent=False, code="status_unavailable", http_status=404) from None
            raise
        return report_from_status(sid, transport.json_body(response, KIND))

    def test_connection(self) -> str:
        # A well-formed SID that cannot exist: 404 proves the token works, 401 that it does not.
        self._checked()
        url, params = self._status_request(None, "OUT-00000000-0000-0000-0000-000000000000")
        try:
            self._send("test", "GET", url, headers=self._headers(), params=params or None)
        except ProviderError as exc:
            if exc.http_status == 404:
                return f"PolyAI reachable ({self.variant} API); token accepted"
            raise
        return f"PolyAI reachable ({self.variant} API); token accepted"
