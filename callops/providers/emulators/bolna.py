"""Bolna emulator: `bn-…` keys, execution ids, hyphenated statuses, unsigned pushes, batches.

Quirks played: `call-disconnected` before `completed` (with null duration/cost/recording),
`scheduled_at` with a `Z` suffix answers 500, less than 2 minutes ahead answers 400, stop works
only while queued/scheduled, errors are `{"error": <int>, "message": …}`, the transcript is one
string of "assistant: …" / "user: …" lines, and the older docs' `balance_low` spelling can be
played (outcome `balance_low_old`).
"""

from __future__ import annotations

import csv
import io
import json
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
                "assistant: Perfect, see you then. Goodbye!")
VOICEMAIL = "assistant: Hi, this is Ava from Acme Dental calling about your cleaning offer. Please call us back."


class Emulator(Base):
    kind = "bolna"
    outcomes = {
        "completed": Outcome(_RING + [(6, "in-progress"), (36, "call-disconnected"), (40, "completed")], "completed",
                             {"conversation_duration": 30, "hangup_by": "Callee"}),
        "completed_zero": Outcome(_RING + [(20, "completed")], "completed",
                                  {"conversation_duration": 0, "hangup_by": "Callee", "hangup_reason": "rejected",
                                   "hangup_provider_code": 3020, "transcript": ""}),
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

    def __init__(self, **kw):
        super().__init__(**kw)
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

    def create(self, req):
        body = req.json()
        if not isinstance(body, dict) or not body.get("agent_id"):
            return self.error(400, "agent_id is required")
        if not body.get("recipient_phone_number"):
            return self.error(400, "recipient_phone_number is required")
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
        return 200, {"wallet": 100.0, "concurrency": {"max": 10, "current": 0}}, {}

    # --- batches ---------------------------------------------------------------------------------
    def batch_create(self, req):
        form = req.form()
        if not form.get("agent_id") or not form.get("file"):
            return self.error(400, "agent_id and file are required")
        rows = list(csv.DictReader(io.StringIO(form["file"][0].decode())))
        batch_id = uuid.uuid4().hex
        self.batches[batch_id] = {"agent_id": form["agent_id"][0], "rows": rows, "status": "created",
                                  "executions": [], "scheduled_at": None}
        return 201, {"batch_id": batch_id, "state": "created"}, {}

    def batch_schedule(self, req):
        batch = self.batches.get(req.params["id"])
        if batch is None:
            return self.error(404, "Batch not found")
        value = (req.form().get("scheduled_at") or [None])[0]
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
        return [({}, json.dumps(self.render(call, step)).encode())]
