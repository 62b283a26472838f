"""Bolna emulator: `bn-…` keys, execution ids, hyphenated statuses, unsigned pushes, batches.

Strict where Bolna is, each behaviour from the page or code named:
- Auth: `Authorization: Bearer <key>` exactly, else 401 `{"error": 1401, "message": "Access
  denied"}` (Bolna's HTTP status page, seeds/001).
- Errors: `{"error": <int>, "message": …}` (seeds/001; its example is `{"error": 1001, "message":
  "agent_id is required"}`, so field errors use 1001). `POST /call` takes only the fields of the
  make-call page (`agent_id`, `recipient_phone_number`, `from_phone_number`, `scheduled_at`,
  `user_data`, `agent_data`, `bypass_call_guardrails`, `retry_config`; Bolna's CLI
  `internal/api/calls.go` sends the first four and `user_data`); a missing, mistyped or unknown
  field answers 400. Batch forms take only their documented parts.
- `scheduled_at` with a `Z` suffix answers 500, less than 2 minutes ahead or unparsable 400 with
  the page's messages (seeds/001 "Scheduling errors").
- `call-disconnected` comes before `completed`, with null duration/cost/recording (seeds/001);
  `completed` tracks telephony, not talk: outcomes `completed_zero*` end `completed` with
  `conversation_duration` 0 and only the hangup fields telling what happened.
- The transcript is the string `format_messages` writes (package `bolna`,
  `bolna/helpers/utils.py`): `"<role>: " + content + "\n"` per message, content that may span
  lines; outcome `completed_tools` adds the `system`, `assistant_tool_call` and `tool_response`
  entries that function also writes.
- Pushes: one unsigned POST per status change; the body is the execution object (`id`), or with
  `push_id="execution_id"` the call-state form keyed `execution_id` with `provider`,
  `from_number` and `to_number` (`bolna/agent_manager/task_manager.py` `_build_call_context`).
- `GET /user/me`: `wallet` in cents and `concurrency {max, current}` (Bolna's CLI,
  `internal/api/account.go`).
- The older docs' `balance_low` spelling can be played (outcome `balance_low_old`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from datetime import UTC, datetime

from .core import Emulator as Base
from .core import Outcome

_RING = [(0, "queued"), (1, "initiated"), (3, "ringing")]
TERMINAL = {"completed", "no-answer", "busy", "failed", "canceled", "stopped", "error", "balance-low", "balance_low"}
CONVERSATION = ("assistant: Hi, this is Ava from Acme Dental. Are you still interested in the cleaning offer?\n"
                "user: Yes, I am interested.\n"
                "assistant: Great. Can you come in tomorrow at 3 pm?\n"
                "user: Tomorrow at 3 works for me.\n"
                "assistant: Perfect, see you then. Goodbye!\n")
# format_messages(..., use_system_prompt=True, include_tools=True): a prompt, a tool round trip and
# a message whose content spans two lines.
WITH_TOOLS = ("system: You are Ava, the Acme Dental assistant.\n"
              "assistant: Hi, this is Ava from Acme Dental.\nWhich day suits you?\n"
              "user: Tuesday, please.\n"
              "assistant_tool_call: {'id': 'call_1', 'function': {'name': 'book', 'arguments': '{\"day\": \"Tue\"}'}}\n"
              "tool_response: (call_1): booked\n"
              "assistant: You are booked for Tuesday.\n")
VOICEMAIL = "assistant: Hi, this is Ava from Acme Dental calling about your cleaning offer. Please call us back.\n"
# POST /call fields and their JSON types (make-call page); anything else is refused.
CALL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "agent_id": str, "recipient_phone_number": str, "from_phone_number": str, "scheduled_at": str,
    "user_data": dict, "agent_data": dict, "bypass_call_guardrails": bool, "retry_config": dict}
REQUIRED_CALL_FIELDS = ("agent_id", "recipient_phone_number")
BATCH_FIELDS = {"agent_id", "file", "from_phone_numbers", "retry_config"}
SCHEDULE_FIELDS = {"scheduled_at", "bypass_call_guardrails"}
FIELD_ERROR = 1001
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class Emulator(Base):
    kind = "bolna"
    outcomes = {
        "completed": Outcome(_RING + [(6, "in-progress"), (36, "call-disconnected"), (40, "completed")], "completed",
                             {"conversation_duration": 30, "hangup_by": "Callee"}),
        "completed_tools": Outcome(_RING + [(6, "in-progress"), (36, "call-disconnected"), (40, "completed")],
                                   "completed", {"conversation_duration": 30, "hangup_by": "Callee",
                                                 "transcript": WITH_TOOLS}),
        # `completed` with nobody talking: the hangup fields tell what happened.
        "completed_zero": Outcome(_RING + [(20, "completed")], "no_answer",
                                  {"conversation_duration": 0, "hangup_by": "Callee", "hangup_reason": "rejected",
                                   "hangup_provider_code": 3020, "transcript": ""}),
        "completed_zero_busy": Outcome(_RING + [(5, "completed")], "busy",
                                       {"conversation_duration": 0, "hangup_by": "Carrier",
                                        "hangup_reason": "Busy Line", "hangup_provider_code": 3010, "transcript": ""}),
        "completed_zero_failed": Outcome(_RING + [(5, "completed")], "failed",
                                         {"conversation_duration": 0, "hangup_by": "Carrier",
                                          "hangup_reason": "Network error", "hangup_provider_code": 5000,
                                          "transcript": ""}),
        "voicemail": Outcome(_RING + [(8, "in-progress"), (15, "completed")], "completed",
                             {"conversation_duration": 7, "answered_by_voice_mail": True, "transcript": VOICEMAIL}),
        "no_answer": Outcome(_RING + [(30, "no-answer")], "no_answer", {"hangup_reason": "no answer"}),
        "busy": Outcome(_RING + [(5, "busy")], "busy"),
        "failed": Outcome([(0, "queued"), (1, "initiated"), (2, "failed")], "failed",
                          {"error_message": "telephony provider rejected the number"}),
        "error": Outcome([(0, "queued"), (1, "error")], "failed", {"error_message": "internal error"}),
        "balance_low": Outcome([(0, "queued"), (1, "balance-low")], "failed",
                               {"error_message": "wallet balance too low"}),
        "balance_low_old": Outcome([(0, "queued"), (1, "balance_low")], "failed",
                                   {"error_message": "wallet balance too low"}),
        "canceled": Outcome(_RING + [(4, "canceled")], "canceled"),
    }
    routes = [
        ("POST", r"/call", "create", "create"),
        ("POST", r"/call/(?P<id>[^/]+)/stop", "stop_call", "other"),
        ("GET", r"/executions/(?P<id>[^/]+)", "read", "read"),
        ("GET", r"/user/me", "me", "other"),
        ("POST", r"/batches", "batch_create", "other"),
        ("POST", r"/batches/(?P<id>[0-9a-f]{32})/schedule", "batch_schedule", "other"),
        ("POST", r"/batches/(?P<id>[0-9a-f]{32})/stop", "batch_stop", "other"),
        ("GET", r"/batches/(?P<id>[0-9a-f]{32})", "batch_read", "read"),
        ("GET", r"/batches/(?P<id>[0-9a-f]{32})/executions", "batch_executions", "read"),
    ]

    def __init__(self, *, push_id: str = "id", **kw):
        if push_id not in ("id", "execution_id"):
            raise ValueError("push_id must be id or execution_id")
        super().__init__(**kw)
        self.push_id = push_id
        self.batches: dict[str, dict] = {}

    def authenticate(self, req):
        if req.headers.get("authorization", "") != f"Bearer {self.api_key}":
            return 401, {"error": 1401, "message": "Access denied"}, {}
        return None

    def error(self, status, message):
        return status, {"error": 1000 + status, "message": message}, {}

    def render(self, call, step=-1) -> dict:
        raw = self.raw_at(call, step)
        extra = call.outcome.extra
        done = raw in TERMINAL and raw != "call-disconnected"
        completed = raw == "completed"
        return {
            "id": call.id, "agent_id": call.request.get("agent_id"), "batch_id": call.batch_id or None,
            "status": raw, "error_message": extra.get("error_message") if done else None,
            "conversation_duration": extra.get("conversation_duration") if completed else (0 if done else None),
            "total_cost": 12.5 if completed else (0 if done else None),
            "answered_by_voice_mail": extra.get("answered_by_voice_mail", False),
            "transcript": extra.get("transcript", CONVERSATION) if completed else None,
            "extracted_data": extra.get("extracted_data", {"interested": True}) if completed else None,
            "context_details": {"recipient_data": call.request.get("user_data") or {}},
            "created_at": datetime.fromtimestamp(call.created, UTC).isoformat(),
            "telephony_data": {
                "to_number": call.number, "recording_url": "https://recordings.bolna.test/r.mp3" if completed else None,
                "hangup_by": extra.get("hangup_by") if done else None,
                "hangup_reason": extra.get("hangup_reason") if done else None,
                "hangup_provider_code": extra.get("hangup_provider_code") if done else None,
            },
        }

    def _check_scheduled_at(self, value):
        if value is None:
            return None
        if str(value).endswith("Z"):
            return self.error(500, "Internal server error")
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError:
            return self.error(400, "Parsing error")
        if when.tzinfo is None:
            return self.error(400, "Parsing error")
        if when.timestamp() < time.time() + 120:
            return self.error(400, "Scheduled time should be atleast 2 minutes in the future")
        return None

    def field_error(self, message):
        return 400, {"error": FIELD_ERROR, "message": message}, {}

    def create(self, req):
        body = req.json()
        if not isinstance(body, dict):
            return self.field_error("request body must be a JSON object")
        problem = validate_call(body)
        if problem:
            return self.field_error(problem)
        bad = self._check_scheduled_at(body.get("scheduled_at"))
        if bad:
            return bad
        call = self.new_call(str(uuid.uuid4()), body["recipient_phone_number"], request=body)
        return 200, {"message": "done", "status": "queued", "execution_id": call.id}, {}

    def read(self, req):
        call = self.find(req.params["id"])
        if call is None:
            return self.error(404, "Execution not found")
        return 200, self.render(call), {}

    def stop_call(self, req):
        call = self.find(req.params["id"])
        if call is None:
            return self.error(404, "Execution not found")
        with self.lock:
            if self.state(call) not in ("queued", "scheduled", "rescheduled"):
                return self.error(400, "Call can only be stopped while queued or scheduled")
            call.stopped_at, call.stop_state = time.time(), "stopped"
        return 200, {"message": "done", "status": "stopped", "execution_id": call.id}, {}

    def me(self, req):
        return 200, {"id": "3c90c3cc-0d44-4b50-8888-8dd25736052a", "name": "Acme", "email": "ops@acme.test",
                     "wallet": 9930.01, "concurrency": {"max": 10, "current": 0}}, {}

    # --- batches ---------------------------------------------------------------------------------
    def batch_create(self, req):
        form = req.form()
        unknown = sorted(set(form) - BATCH_FIELDS)
        if unknown:
            return self.field_error(f"unknown field: {unknown[0]}")
        if not form.get("agent_id") or not form.get("file"):
            return self.field_error("agent_id and file are required")
        rows = list(csv.DictReader(io.StringIO(form["file"][0].decode())))
        batch_id = uuid.uuid4().hex
        self.batches[batch_id] = {"agent_id": form["agent_id"][0], "rows": rows, "status": "created",
                                  "executions": [], "scheduled_at": None}
        return 201, {"batch_id": batch_id, "state": "created"}, {}

    def batch_schedule(self, req):
        batch = self.batches.get(req.params["id"])
        if batch is None:
            return self.error(404, "Batch not found")
        form = req.form()
        unknown = sorted(set(form) - SCHEDULE_FIELDS)
        if unknown:
            return self.field_error(f"unknown field: {unknown[0]}")
        value = (form.get("scheduled_at") or [None])[0]
        if value is None:
            return self.field_error("scheduled_at is required")
        bad = self._check_scheduled_at(value)
        if bad:
            return bad
        batch["status"], batch["scheduled_at"] = "scheduled", value
        # The emulator starts the batch at once (time is what tests compress), in waves of
        # batch_concurrency calls when that is set.
        for i, row in enumerate(batch["rows"]):
            number = row.get("contact_number") or row.get("phone_number")
            call = self.new_call(str(uuid.uuid4()), number, batch_id=req.params["id"],
                                 request={"agent_id": batch["agent_id"], "user_data": row})
            self.start_in_wave(call, i)
            batch["executions"].append(call.id)
        batch["status"] = "running"
        return 200, {"message": "success", "state": "scheduled"}, {}

    def batch_stop(self, req):
        batch = self.batches.get(req.params["id"])
        if batch is None or batch["status"] not in ("scheduled", "running", "queued"):
            return self.error(404, "Batch is not queued or running")
        for cid in batch["executions"]:
            call = self.calls[cid]
            if self.state(call) in ("queued", "scheduled"):
                call.stopped_at, call.stop_state = time.time(), "stopped"
        batch["status"] = "stopped"
        return 200, {"state": "stopped"}, {}

    def _batch_calls(self, batch):
        return [self.calls[c] for c in batch["executions"]]

    def batch_read(self, req):
        batch = self.batches.get(req.params["id"])
        if batch is None:
            return self.error(404, "Batch not found")
        counts: dict[str, int] = {}
        calls = self._batch_calls(batch)
        for c in calls:
            counts[self.state(c)] = counts.get(self.state(c), 0) + 1
        if batch["status"] == "running" and calls and all(self.is_final(c) for c in calls):
            batch["status"] = "completed"
        return 200, {"batch_id": req.params["id"], "status": batch["status"], "scheduled_at": batch["scheduled_at"],
                     "valid_contacts": len(batch["rows"]), "total_contacts": len(batch["rows"]),
                     "execution_status": counts}, {}

    def batch_executions(self, req):
        batch = self.batches.get(req.params["id"])
        if batch is None:
            return self.error(404, "Batch not found")
        return 200, [self.render(c) for c in self._batch_calls(batch)], {}  # a bare array, no wrapper

    def callback_messages(self, call, step):
        # One unsigned push per status change; the body is the execution object.
        body = self.render(call, step)
        if self.push_id == "execution_id":
            # The call-state form: `execution_id` instead of `id`, with the call context fields.
            body = {"execution_id": body.pop("id"), **body, "provider": "plivo",
                    "from_number": call.request.get("from_phone_number"), "to_number": call.number}
        return [({}, json.dumps(body).encode())]


def validate_call(body: dict) -> str:
    """The first problem with a `POST /call` body, in Bolna's words; "" when it is acceptable."""
    for name in REQUIRED_CALL_FIELDS:
        if not body.get(name):
            return f"{name} is required"
    if not E164.match(str(body["recipient_phone_number"])):
        return "recipient_phone_number must be in E.164 format"
    for name, value in body.items():
        kind = CALL_FIELDS.get(name)
        if kind is None:
            return f"unknown field: {name}"
        if value is not None and (not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))):
            return f"{name} is invalid"
    return ""
