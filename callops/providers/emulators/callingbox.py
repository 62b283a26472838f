"""CallingBox emulator, strict where the official SDK (`callingbox` 0.1.0) defines the protocol.

- Auth: `Authorization: Bearer <key>` exactly (`_client.py`), else 401 `{"error"}`; every error is
  `{"error": "<message>"}`, the shape `_client.py` `_raise_for_status` parses (400, 401, 404, 5xx).
- Create, `POST /v1/calls`, one of two shapes per account (`api`):
  - `prompt`: the SDK's `resources/calls.py` `Calls.create` fields only: `to`, `prompt`, `context`,
    `returns`, `language`, `from_number`, `webhook_url`, `voicemail_action`, `tools`. Any other
    field (`agent_id`, `metadata`, `instructions`) is a 400 naming it.
  - `agent`: the documented agent-based create (providers.md 2.1; not in the SDK): `agent_id`
    (required) and `to`, `from_number`, `instructions`, `context`, `webhook_url`, `metadata`;
    persona, language, returns, tools and voicemail_action are agent settings, refused per call.
  - `both` (the default): a body with `agent_id` is checked as agent-based, else as prompt-based.
  Field types are checked (strings, objects, a list of tool objects), `language` is `en` or `es`
  and `voicemail_action` `hangup` or `leave_message` (providers.md 2.1); 201 with the call object.
- Call object: the SDK's `types/call.py` `Call` fields (`webhook_status`, `updated_at`, ...). On a
  prompt-based call `metadata` is CallingBox's own (`Call.from_dict` reads `language` from it), so
  it never carries the caller's keys; `webhook_url` is echoed as given (`echo_webhook_url="path"`
  drops its query, `"none"` the key, for accounts that echo less).
- List, `GET /v1/calls` (`Calls.list`, `types/pagination.py`): newest first, `limit` (1-100,
  default 20), `starting_after` / `ending_before` (call ids; an unknown id is a 400), answer
  `{"data": [...], "has_more": bool}`. There is no `to` filter and no `next_cursor`: other query
  parameters are ignored, as the API ignores what it does not define.
- `GET /v1/calls/{id}/transcript` answers `{"segments": [...]}` (`Calls.retrieve_transcript`).
- Numbers: the SDK's `resources/numbers.py` list / search_available / purchase shapes.
- Events: the envelope `Webhooks.construct_event` parses (`id`, `type`, integer `created`,
  `api_version`, `data.call`), signed `CallingBox-Signature: t=..,v1=..` as `_verify_signature`
  checks; headers `CallingBox-Event-Id`, `CallingBox-Event-Type`, legacy `X-CallingBox-Event`,
  `X-CallingBox-Call-Id`. A delivery is retried on any non-2xx answer or network error, on the
  documented schedule (providers.md 2.1: immediately, +1 min, +5 min, +30 min, +2 h, +5 h, +10 h,
  +24 h; divided by `speed`), with the same event id, then left `exhausted`.

Extraction runs after the hangup: a `completed` call reads `result_status: pending` until its
`completed:final` step, then `completed` with the outcome's `result` (or `failed` with null
fields for the `silent` outcome, whose transcript is empty). `call.completed` goes out only then,
carrying the final result. A scripted outcome without a `completed:final` step has its result at
once.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime

import httpx

from callops.providers.callback_auth import sign_timestamped

from .core import Emulator as Base
from .core import Outcome

E164_US = re.compile(r"^\+1\d{10}$")
_RING = [(0, "queued"), (1, "initiated"), (3, "ringing")]
FINAL = "completed:final"  # extraction finished; the call's status still reads `completed`
RESULT = {"appointment_confirmed": True, "party_size": 2}
# Settings the agent-based create refuses per call.
AGENT_SETTINGS = ("prompt", "language", "returns", "tools", "voicemail_action", "persona")
# Each create shape's fields and their JSON types (see the module docstring for the sources).
PROMPT_FIELDS = {"to": str, "prompt": str, "context": dict, "returns": dict, "language": str, "from_number": str,
                 "webhook_url": str, "voicemail_action": str, "tools": list}
AGENT_FIELDS = {"agent_id": str, "to": str, "from_number": str, "instructions": str, "context": dict,
                "webhook_url": str, "metadata": dict}
APIS = ("both", "prompt", "agent")
TYPE_WORDS = {str: "a string", dict: "an object", list: "a list"}


def _iso(ts: float | None):
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z") if ts else None


class Emulator(Base):
    kind = "callingbox"
    outcomes = {
        "completed": Outcome(_RING + [(6, "in_progress"), (40, "completed"), (45, FINAL)], "completed",
                             {"answered_by": "human", "result": RESULT}),
        "silent": Outcome(_RING + [(6, "in_progress"), (20, "completed"), (22, FINAL)], "completed",
                          {"answered_by": "human", "result_failed": "empty transcript"}),
        "no_answer": Outcome(_RING + [(30, "no_answer")], "no_answer"),
        "voicemail": Outcome(_RING + [(10, "no_answer")], "no_answer", {"answered_by": "machine"}),
        "busy": Outcome(_RING + [(5, "busy")], "busy", {"hangup_cause": "user_busy"}),
        "failed": Outcome([(0, "queued"), (1, "initiated"), (2, "failed")], "failed",
                          {"error_code": "invalid_number", "error_message": "number not in service",
                           "hangup_cause": "unallocated_number"}),
        "canceled": Outcome([(0, "queued"), (2, "canceled")], "canceled"),
    }
    routes = [
        ("POST", r"/v1/calls", "create", "create"),
        ("GET", r"/v1/calls", "list_calls", "read"),
        ("GET", r"/v1/calls/(?P<id>[^/]+)", "read", "read"),
        ("GET", r"/v1/calls/(?P<id>[^/]+)/transcript", "transcript", "read"),
        ("GET", r"/v1/numbers", "numbers", "other"),
        ("GET", r"/v1/numbers/available", "available_numbers", "other"),
        ("POST", r"/v1/numbers/purchase", "purchase_number", "other"),
    ]
    # The number every emulated account starts with (calls without a from_number show it).
    DEFAULT_NUMBER = "+15550000000"
    NUMBER_TYPES = ("local", "toll_free")
    MONTHLY_CENTS = {"local": 150, "toll_free": 200}
    # Numbers whose placement fails on the telephony side (502).
    unplaceable = {"+15005550001"}

    def authenticate(self, req):
        auth = req.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return self.error(401, "invalid API key")
        return None

    def _result(self, call, raw: str) -> tuple[str | None, dict | None, str | None]:
        """(result_status, result, result_error) at raw state `raw`."""
        if raw not in ("completed", FINAL):
            return None, None, None  # unanswered calls get no extraction
        extracting = raw == "completed" and any(s == FINAL for _, s in call.outcome.steps)
        if extracting:
            return "pending", None, None
        extra = call.outcome.extra
        if extra.get("result_failed"):
            return "failed", {k: None for k in RESULT}, extra["result_failed"]
        return "completed", dict(extra.get("result", RESULT)), None

    def render(self, call, step: int = -1) -> dict:
        raw = self.raw_at(call, step)
        result_status, result, result_error = self._result(call, raw)
        raw = "completed" if raw == FINAL else raw
        extra = call.outcome.extra
        idx = self.step_index(call) if step < 0 else step
        times = {s: call.created + at / self.speed for at, s in call.outcome.steps[: idx + 1]}
        terminal = raw in ("completed", "no_answer", "busy", "canceled", "failed")
        answered = times.get("in_progress")
        ended = times.get(raw) if terminal else None
        prompt_based = "agent_id" not in call.request
        obj = {
            "id": call.id, "direction": "outbound",
            "to_number": call.number, "from_number": call.request.get("from_number") or "+15550000000",
            "prompt": call.request.get("prompt") or "", "language": call.request.get("language"),
            "tools": call.request.get("tools"),
            # Echoed as given, as the SDK's Call reads them (webhook_url, context, returns).
            "webhook_url": call.request.get("webhook_url"), "context": call.request.get("context"),
            "returns": call.request.get("returns"),
            # A prompt-based call's metadata is CallingBox's own (the SDK reads `language` there).
            "metadata": ({"language": call.request["language"]} if call.request.get("language") else {})
            if prompt_based else (call.request.get("metadata") or {}),
            "status": raw,
            "answered_by": extra.get("answered_by") if terminal or raw == "in_progress" else None,
            "error_code": extra.get("error_code") if terminal else None,
            "error_message": extra.get("error_message") if terminal else None,
            "hangup_cause": extra.get("hangup_cause") if terminal else None,
            "result": result, "result_status": result_status, "result_error": result_error,
            "created_at": _iso(call.created),
            # Credits are reserved when the call is queued, settled when a call is charged, released otherwise.
            "reservation_status": "reserved",
            "started_at": _iso(times.get("ringing")), "answered_at": _iso(answered), "ended_at": _iso(ended),
        }
        if not prompt_based:
            obj["agent_id"] = call.request["agent_id"]
        if self.echo_webhook_url == "path" and obj["webhook_url"]:
            obj["webhook_url"] = obj["webhook_url"].split("?", 1)[0]
        elif self.echo_webhook_url == "none":
            del obj["webhook_url"]
        obj["webhook_status"] = "pending" if call.callback_url else ""
        obj["webhook_error"] = None
        obj["updated_at"] = _iso(ended or answered or times.get("ringing") or call.created)
        if terminal:
            obj["duration_seconds"] = int((ended - answered) * self.speed) if answered and ended else 0
            obj["billed_duration_seconds"] = obj["duration_seconds"]
            obj["billing_amount_milli_cents"] = obj["duration_seconds"] * 150
            obj["reservation_status"] = "settled" if obj["duration_seconds"] else "released"
        return obj

    def _check_fields(self, body: dict, fields: dict) -> tuple | None:
        for key, value in body.items():
            if key not in fields:
                return self.error(400, f"unknown field {key!r}; this account's create takes "
                                       f"{', '.join(sorted(fields))}")
            if value is not None and not isinstance(value, fields[key]):
                return self.error(400, f"{key} must be {TYPE_WORDS[fields[key]]}")
        return None

    def create(self, req):
        """The account's create shape (`api`, see the module docstring): unknown fields, wrong
        types and agent settings sent per call are 400s, before anything is dialed."""
        try:
            body = req.json()
        except ValueError:
            return self.error(400, "body must be JSON")
        if not isinstance(body, dict):
            return self.error(400, "body must be a JSON object")
        agent_based = self.api == "agent" or (self.api == "both" and "agent_id" in body)
        if agent_based:
            per_call = [k for k in AGENT_SETTINGS if k in body]
            if per_call:
                return self.error(400, f"{per_call[0]} is an agent setting; it cannot be set per call")
            refused = self._check_fields(body, AGENT_FIELDS)
            if refused:
                return refused
            if not body.get("agent_id"):
                return self.error(400, "agent_id is required")
        else:
            refused = self._check_fields(body, PROMPT_FIELDS)
            if refused:
                return refused
            if body.get("voicemail_action") not in (None, "hangup", "leave_message"):
                return self.error(400, "voicemail_action must be hangup or leave_message")
            if body.get("language") not in (None, "en", "es"):
                return self.error(400, "language must be en or es")
            if any(not isinstance(t, dict) for t in body.get("tools") or []):
                return self.error(400, "tools must be a list of tool objects")
        if not body.get("to"):
            return self.error(400, "to is required")
        if not E164_US.match(str(body["to"])):
            return self.error(400, f"to must be a US number in E.164 format, got {body['to']!r}")
        if body["to"] in self.unplaceable:
            return self.error(502, "telephony provider could not place the call")
        call = self.new_call(str(uuid.uuid4()), body["to"], callback_url=body.get("webhook_url") or "", request=body)
        with self.lock:
            self.order.append(call.id)
        if self.on_create is not None:
            self.on_create(call)
        return 201, self.render(call, 0), {}

    def read(self, req):
        call = self.find(req.params["id"])
        if call is None:
            return self.error(404, f"call {req.params['id']} not found")
        return 200, self.render(call), {}

    def list_calls(self, req):
        """The SDK's `Calls.list`: newest first, `limit`, `starting_after` / `ending_before`, `{data, has_more}`."""
        try:
            limit = int(req.query.get("limit", 20))
        except ValueError:
            return self.error(400, "limit must be an integer")
        if not 1 <= limit <= 100:
            return self.error(400, "limit must be between 1 and 100")
        with self.lock:
            ids = list(reversed(self.order))  # newest first, in creation order
            calls = [self.calls[i] for i in ids]
        after, before = req.query.get("starting_after"), req.query.get("ending_before")
        if after and before:
            return self.error(400, "pass starting_after or ending_before, not both")
        for cursor in (after, before):
            if cursor and cursor not in ids:
                return self.error(400, f"no such call {cursor}")
        if after:
            rest = calls[ids.index(after) + 1:]
            page, more = rest[:limit], len(rest) > limit
        elif before:
            rest = calls[:ids.index(before)]
            page, more = rest[-limit:], len(rest) > limit
        else:
            page, more = calls[:limit], len(calls) > limit
        return 200, {"data": [self.render(c) for c in page], "has_more": more}, {}

    def transcript(self, req):
        call = self.find(req.params["id"])
        if call is None:
            return self.error(404, f"call {req.params['id']} not found")
        obj = self.render(call)
        if obj["status"] != "completed" or call.outcome.extra.get("result_failed"):
            return 200, {"segments": []}, {}
        said = [("agent", "Hi, this is Acme calling to confirm your appointment."), ("user", "Yes, for two.")]
        start = obj["answered_at"]
        return 200, {"segments": [{"sequence_no": n, "role": role, "text": text, "started_at": start,
                                   "ended_at": start, "duration_ms": 1500, "source": "stt" if role == "user" else "llm"}
                                  for n, (role, text) in enumerate(said, 1)]}, {}

    # --- numbers: the SDK's PhoneNumber / AvailableNumber shapes --------------------------------
    def _number(self, e164: str, number_type: str = "local") -> dict:
        return {"id": str(uuid.uuid4()), "e164": e164, "friendly_name": None, "country_code": "US",
                "number_type": number_type, "status": "active", "monthly_cost_cents": self.MONTHLY_CENTS[number_type],
                "purchased_at": _iso(time.time()), "inbound_enabled": False, "inbound_prompt": None,
                "inbound_returns": None, "inbound_webhook_url": None, "inbound_language": None,
                "inbound_tools": None, "inbound_voicemail_action": "hangup"}

    def __init__(self, *, api: str = "both", echo_webhook_url: str = "full", max_attempts: int = 8, **kw):
        if api not in APIS:
            raise ValueError(f"api must be one of {APIS}")
        if echo_webhook_url not in ("full", "path", "none"):
            raise ValueError("echo_webhook_url must be full, path or none")
        super().__init__(**kw)
        self.api, self.echo_webhook_url = api, echo_webhook_url
        self.max_attempts = max_attempts
        self.deliveries: list[tuple[str, int, int]] = []  # (event id, attempt, HTTP status)
        self._attempts: dict[str, int] = {}  # event id -> attempts so far
        self.order: list[str] = []  # call ids in creation order (the list's order, newest last)
        # Called with each accepted call before the create answers (tests: a worker dying then).
        self.on_create = None
        self.owned_numbers: list[dict] = [self._number(self.DEFAULT_NUMBER)]

    def _owned(self) -> list[dict]:
        with self.lock:
            return list(self.owned_numbers)

    def numbers(self, req):
        """The account's numbers, newest first; `limit` (≤ 100) and `starting_after` (a number id)."""
        try:
            limit = max(1, min(int(req.query.get("limit", 20)), 100))
        except ValueError:
            return self.error(400, "limit must be an integer")
        owned = list(reversed(self._owned()))
        after = req.query.get("starting_after")
        if after:
            ids = [n["id"] for n in owned]
            if after not in ids:
                return self.error(400, f"starting_after {after} is not one of your numbers")
            owned = owned[ids.index(after) + 1:]
        return 200, {"object": "list", "data": owned[:limit], "has_more": len(owned) > limit}, {}

    def available_numbers(self, req):
        """Fictional 555-01xx numbers in the asked area code (415 by default); US only, as CallingBox."""
        country = req.query.get("country_code", "US").upper()
        if country != "US":
            return self.error(400, f"numbers are available in the US only, not {country}")
        number_type = req.query.get("number_type") or "local"
        if number_type not in self.NUMBER_TYPES:
            return self.error(400, f"number_type must be local or toll_free, got {number_type!r}")
        area = req.query.get("area_code") or ("833" if number_type == "toll_free" else "415")
        if not re.fullmatch(r"\d{3}", area):
            return self.error(400, f"area_code must be three digits, got {area!r}")
        try:
            limit = max(1, min(int(req.query.get("limit", 10)), 50))
        except ValueError:
            return self.error(400, "limit must be an integer")
        taken = {n["e164"] for n in self._owned()}
        free = [f"+1{area}555{n:04d}" for n in range(100, 200) if f"+1{area}555{n:04d}" not in taken]
        return 200, {"data": [{"phone_number": e164, "country_code": "US", "number_type": number_type,
                               "state": "CA" if area == "415" else None,
                               "locality": "San Francisco" if area == "415" else None,
                               "monthly_cost_cents": self.MONTHLY_CENTS[number_type], "upfront_cost_cents": 100,
                               "currency": "USD"} for e164 in free[:limit]]}, {}

    def purchase_number(self, req):
        body = req.json()
        e164 = body.get("phone_number") if isinstance(body, dict) else None
        if not isinstance(e164, str) or not E164_US.match(e164):
            return self.error(400, f"phone_number must be a US number in E.164 format, got {e164!r}")
        with self.lock:
            if any(n["e164"] == e164 for n in self.owned_numbers):
                return self.error(409, f"{e164} is already one of your numbers")
            number = self._number(e164, "toll_free" if e164[2:5] in ("800", "833", "844", "855", "866", "877", "888")
                                  else "local")
            self.owned_numbers.append(number)
        return 201, number, {}

    EVENTS = {"queued": "call.queued", "ringing": "call.ringing", "in_progress": "call.answered",
              "completed": "call.completed", "no_answer": "call.no_answer", "busy": "call.busy",
              "canceled": "call.canceled", "failed": "call.failed"}

    def callback_messages(self, call, step):
        raw = self.raw_at(call, step)
        if raw == "completed" and self._result(call, raw)[0] == "pending":
            return []  # call.completed waits for extraction
        event_type = self.EVENTS.get("completed" if raw == FINAL else raw)
        if event_type is None:
            return []  # no call.initiated event
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{call.id}/{event_type}"))
        envelope = {"id": event_id, "type": event_type, "created": int(call.created), "api_version": "2026-04",
                    "data": {"call": self.render(call, step)}}
        body = json.dumps(envelope).encode()
        headers = {"CallingBox-Signature": sign_timestamped(body, self.secret), "CallingBox-Event-Id": event_id,
                   "CallingBox-Event-Type": event_type, "X-CallingBox-Event": event_type,
                   "X-CallingBox-Call-Id": call.id}
        return [(headers, body)]

    def _post(self, call_id: str, url: str, headers: dict, body: bytes):
        """One delivery attempt. A non-2xx answer or a network error schedules the next attempt
        on RETRY_SCHEDULE (held in `_delayed`, so no pool thread sleeps and the delivery still
        counts as pending), with the same headers and event id, until `max_attempts`."""
        status, answer = 0, b""
        try:
            r = self._http.post(url, content=body, headers={"Content-Type": "application/json", **headers})
            status, answer = r.status_code, r.content[:2000]
        except httpx.HTTPError:
            pass
        finally:
            event_id = headers.get("CallingBox-Event-Id", "")
            with self.lock:
                self.callbacks_sent.append((url, status))
                self.callback_log.append((call_id, status))
                self.callback_answers.append(answer)
                attempt = self._attempts[event_id] = self._attempts.get(event_id, 0) + 1
                self.deliveries.append((event_id, attempt, status))
                if not 200 <= status < 300 and attempt < min(self.max_attempts, len(RETRY_SCHEDULE)):
                    wait = (RETRY_SCHEDULE[attempt] - RETRY_SCHEDULE[attempt - 1]) / self.speed
                    self._delayed.append((time.time() + wait, call_id, url, headers, body))
                # Scheduled before this attempt stops counting, so the delivery is never seen as done.
                self._posts_unfinished -= 1


# Delivery attempts, provider seconds after the event (providers.md 2.1 "Retries").
RETRY_SCHEDULE = (0, 60, 300, 1800, 7200, 18000, 36000, 86400)
