"""PolyAI outbound emulator: `X-PolyAi-Auth-Token`, `OUT-<uuid>` SIDs, status data that expires.

`status_style` picks the doc version's spelling: `v1` (`queued`/`calling`/`success`/`failure`),
`upper` (Agents API `QUEUED`/`CALLING`/…) or `legacy` (`queued`/`in-progress`/`completed`/
`failed`); any word (`no-answer`, `cancelled`, `CREATED`, …) can also be scripted directly.
After `expiry_seconds` (provider time) past the end a status read answers 404, as it does ~2 h in.

`variant` is the API the emulated account was issued (providers.md 2.3; PolyAI publishes no
code), and the other variants' routes refuse it with 401, as a real account refuses them:
- `outbound`: `POST /v1/outbound-calling` (or `/trigger`) with `X-PolyAi-Auth-Token`; body
  `to_number` (required), `country_code`, `metadata` (string values), `encryption` (the trigger
  page's fields); answers `{call_sid}` (seeds/002 for the status read).
- `agents`: `POST /v1/agents/{agentId}/telephony/outbound-calls` with `X-API-KEY`; body `toNumber`
  and `environment` (required; `sandbox`, `pre-release`, `live`, and it must be the account's),
  `countryCode`, `variantId`, `encryption`, `metadata`; answers `{callSid, status: "QUEUED"}`;
  status `GET …/outbound-calls/{callSid}/status?environment=…` in upper case. `agent_ids` lists
  the agents that exist (404 otherwise).
- `connector`: `POST /api/v1/{account_id}/{project_id}/outbound-call/trigger` with
  `X-CONNECTOR-ID`; body `phone_number` only; answers `{conversation_id, status: "CREATED"}`;
  its status is read on the `/v1` route with the same header (unverified: the reference gives
  none), adding `connector_id`.
Every create refuses missing, mistyped and unknown fields with 400 `{"message"}`.
"""

from __future__ import annotations

import re
import uuid

from .core import Emulator as Base
from .core import Outcome

SID_RE = re.compile(r"^OUT-[0-9a-f-]{36}$")
REASON_TIMEOUT = "call queueing: max timeout limit exceeded"
STYLES = ("v1", "upper", "legacy")
VARIANTS = ("outbound", "agents", "connector")
ENVIRONMENTS = ("sandbox", "pre-release", "live")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Create body fields per variant: (JSON type, required).
FIELDS: dict[str, dict[str, tuple[type, bool]]] = {
    "outbound": {"to_number": (str, True), "country_code": (str, False), "metadata": (dict, False),
                 "encryption": (str, False)},
    "agents": {"toNumber": (str, True), "environment": (str, True), "countryCode": (str, False),
               "variantId": (str, False), "encryption": (str, False), "metadata": (dict, False)},
    "connector": {"phone_number": (str, True)},
}
NUMBER_FIELD = {"outbound": "to_number", "agents": "toNumber", "connector": "phone_number"}
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
        ("POST", r"/v1/agents/(?P<agent>[^/]+)/telephony/outbound-calls", "create", "create"),
        ("GET", r"/v1/agents/(?P<agent>[^/]+)/telephony/outbound-calls/(?P<sid>[^/]+)/status", "read", "read"),
        ("POST", r"/api/v1/(?P<account>[^/]+)/(?P<project>[^/]+)/outbound-call/trigger", "create", "create"),
    ]

    def __init__(self, *, status_style: str = "v1", expiry_seconds: float = 7200, variant: str = "outbound",
                 environment: str = "live", agent_ids: tuple[str, ...] = ("agent-1",), account_id: str = "acc-1",
                 project_id: str = "proj-1", **kw):
        if status_style not in STYLES:
            raise ValueError(f"status_style must be one of {', '.join(STYLES)}")
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}")
        super().__init__(**kw)
        self.status_style = status_style
        self.expiry_seconds = expiry_seconds
        self.variant = variant
        self.environment = environment
        self.agent_ids = tuple(agent_ids)
        self.account_id, self.project_id = account_id, project_id

    @staticmethod
    def route_variant(req) -> str:
        if req.path.startswith("/v1/agents/"):
            return "agents"
        if req.path.startswith("/api/v1/"):
            return "connector"
        return "outbound"

    def authenticate(self, req):
        route = self.route_variant(req)
        # The connector variant reads status on the /v1 route with its own header.
        allowed = route == self.variant or (self.variant == "connector" and req.method == "GET" and route == "outbound")
        header = {"outbound": "x-polyai-auth-token", "agents": "x-api-key", "connector": "x-connector-id"}[self.variant]
        if not allowed or req.headers.get(header, "") != self.api_key:
            return self.error(401, "Invalid or missing authentication token")
        return None

    def error(self, status, message):
        return status, {"message": message}, {}

    def create(self, req):
        body = req.json()
        problem = validate_create(self.variant, body)
        if problem:
            return self.error(400, problem)
        if self.variant == "agents":
            if req.params["agent"] not in self.agent_ids:
                return self.error(404, "Agent not found")
            if body["environment"] != self.environment:
                return self.error(404, f"Agent is not deployed to {body['environment']}")
        if self.variant == "connector" and (req.params["account"], req.params["project"]) != (
                self.account_id, self.project_id):
            return self.error(404, "Project not found")
        call = self.new_call(f"OUT-{uuid.uuid4()}", body[NUMBER_FIELD[self.variant]], request=body)
        if self.variant == "agents":
            return 200, {"callSid": call.id, "status": "QUEUED"}, {}
        if self.variant == "connector":
            return 200, {"conversation_id": call.id, "status": "CREATED"}, {}
        return 200, {"call_sid": call.id}, {}

    def read(self, req):
        if self.variant == "agents" and req.query.get("environment") != self.environment:
            return self.error(400, "environment query parameter must name the agent's environment")
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
        if self.status_style == "upper" or self.variant == "agents":
            raw = raw.upper()
        elif self.status_style == "legacy":
            raw = LEGACY.get(raw, raw)
        if self.variant == "connector":
            return 200, {"status": raw, "reason": reason, "connector_id": self.api_key}, {}
        return 200, {"status": raw, "reason": reason}, {}


def validate_create(variant: str, body) -> str:
    """The first problem with a create body for `variant`; "" when it is acceptable."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    fields = FIELDS[variant]
    for name, (_, required) in fields.items():
        if required and not body.get(name):
            return f"{name} is required"
    for name, value in body.items():
        if name not in fields:
            return f"unknown field: {name}"
        if value is not None and not isinstance(value, fields[name][0]):
            return f"{name} has the wrong type"
    if not E164.match(body[NUMBER_FIELD[variant]]):
        return f"{NUMBER_FIELD[variant]} must be in E.164 format"
    meta = body.get("metadata") or {}
    if any(not isinstance(v, str) for v in meta.values()):
        return "metadata values must be strings"
    if variant == "agents" and body["environment"] not in ENVIRONMENTS:
        return f"environment must be one of {', '.join(ENVIRONMENTS)}"
    return ""
