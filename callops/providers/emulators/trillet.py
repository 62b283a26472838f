"""Trillet emulator: `x-api-key` + `x-workspace-id`, call history (unix s) and batch jobs (ms).

Strict where Trillet's pages are (no vendor code is published):
- Auth: both `x-api-key` and `x-workspace-id` must be exact, else 401 (seeds/003 marks both
  required; the rejection shape is undocumented).
- `POST /v1/api/call` takes only the initiate-call page's fields (`to`, `call_agent_id`,
  `callback_url`, `dynamic_variables`, `metadata`); a missing, mistyped or unknown one answers
  400 `{"status": "error", "error": …}`.
- A failed job carries its `error` text, e.g. "Number busy - unable to connect after 3 attempts"
  (seeds/003, outcome `busy`) or "No answer" (outcome `no_answer`).
- Callbacks: `callback_style="event"` posts the webhook page's `{event, data}` envelope, signed
  with `X-Trillet-Signature` when a secret is set; `callback_style="job"` posts the flat job
  object of seeds/003 unsigned, per-call ones to their `callback_url` and batch jobs to the
  emulator's `callback_url`.

A batch job's `jobId` differs from its call-history id (`result.callId`). A finished job's
`result` is `{callId, transcript, outcome, metadata}` as the docs show it: `transcript` is one
string ("Agent: …" / "Customer: …" lines; outcome `completed_plain` sends unlabelled text),
`metadata` echoes the contact's CSV columns plus what the agent gathered. Jobs wait (`waiting`)
until their wave starts when `batch_concurrency` is set. 429 bodies carry
`{"error": {"code": "rate_limit_exceeded", "reset_at": …}}` without a Retry-After header.
Callbacks (`call.started`, `call.completed`, `call.failed`) go to the per-call `callback_url`,
signed with `X-Trillet-Signature` when a secret is set.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid

from callops.providers.callback_auth import hmac_hex

from .core import Emulator as Base
from .core import Outcome

BUSY_TEXT = "Number busy - unable to connect after 3 attempts"
NO_ANSWER_TEXT = "No answer"
# POST /v1/api/call fields and their JSON types (initiate-call page); anything else is refused.
CALL_FIELDS: dict[str, type] = {"to": str, "call_agent_id": str, "callback_url": str, "dynamic_variables": dict,
                                "metadata": dict}
STYLES = ("event", "job")
CONVERSATION = ("Agent: Hello {first_name}, this is an automated call from Acme Clinic about your appointment.\n"
                "Customer: Hi, yes.\n"
                "Agent: Can you confirm you will attend tomorrow at 3 pm?\n"
                "Customer: Yes, I'll be there.\n"
                "Agent: Thank you, goodbye.")
PLAIN = "Hello {first_name}, this is an automated call from Acme Clinic about your appointment..."
GATHERED = {"appointment_confirmed": True}


class Emulator(Base):
    kind = "trillet"
    outcomes = {
        "completed": Outcome([(0, "queued"), (2, "active"), (40, "completed")], "completed"),
        "completed_plain": Outcome([(0, "queued"), (2, "active"), (40, "completed")], "completed",
                                   {"transcript": PLAIN}),
        "voicemail": Outcome([(0, "queued"), (2, "active"), (12, "completed")], "completed",
                             {"answered_by_voicemail": True}),
        "failed": Outcome([(0, "queued"), (2, "active"), (10, "failed")], "failed",
                          {"error": "Invalid phone number"}),
        "busy": Outcome([(0, "queued"), (10, "failed")], "busy", {"error": BUSY_TEXT}),
        "no_answer": Outcome([(0, "queued"), (30, "failed")], "no_answer", {"error": NO_ANSWER_TEXT}),
        "ongoing": Outcome([(0, "queued"), (2, "ongoing"), (30, "completed")], "completed"),
    }
    JOB_WORDS = {"queued": "waiting", "ongoing": "active", "in-progress": "active"}
    routes = [
        ("POST", r"/v1/api/call", "create", "create"),
        ("GET", r"/v2/api/call-history/(?P<id>[^/]+)", "read", "read"),
        ("GET", r"/v2/api/call-history", "history_list", "other"),
        ("POST", r"/v1/api/batch-calls", "batch_create", "other"),
        ("GET", r"/v1/api/batch-calls/(?P<id>[^/]+)", "batch_read", "read"),
        ("GET", r"/v1/api/batch-calls/(?P<id>[^/]+)/calls", "batch_calls", "read"),
        ("GET", r"/v1/api/batch-calls/(?P<id>[^/]+)/calls/(?P<job>[^/]+)", "job_read", "read"),
        ("DELETE", r"/v1/api/batch-calls/(?P<id>[^/]+)", "batch_cancel", "other"),
    ]

    def __init__(self, *, workspace_id: str = "ws_test", callback_style: str = "event", **kw):
        if callback_style not in STYLES:
            raise ValueError(f"callback_style must be one of {', '.join(STYLES)}")
        super().__init__(**kw)
        self.workspace_id = workspace_id
        self.callback_style = callback_style
        self.batches: dict[str, dict] = {}

    def authenticate(self, req):
        if req.headers.get("x-api-key") != self.api_key or req.headers.get("x-workspace-id") != self.workspace_id:
            return 401, {"status": "error", "error": "Unauthorized: x-api-key and x-workspace-id are required"}, {}
        return None

    def error(self, status, message):
        return status, {"status": "not_found" if status == 404 else "error", "error": message}, {}

    def rate_limited(self):
        return 429, {"error": {"code": "rate_limit_exceeded", "message": "Too many requests",
                               "reset_at": int((time.time() + self.faults.retry_after) * 1000)}}, {}

    def _times(self, call, step=-1):
        idx = self.step_index(call) if step < 0 else step
        times = {s: call.created + at / self.speed for at, s in call.outcome.steps[: idx + 1]}
        start = times.get("active") or times.get("ongoing")
        end = self.ended_at(call) if step < 0 else (call.created + call.outcome.steps[idx][0] / self.speed)
        return start, end

    def history(self, call, step=-1) -> dict:
        raw = self.raw_at(call, step)
        start, end = self._times(call)
        done = raw in ("completed", "failed", "cancelled")
        obj = {"_id": call.id, "workspaceId": self.workspace_id, "agentId": call.request.get("call_agent_id"),
               "direction": "outbound", "toPhoneNumber": call.number, "status": raw,
               "startTime": int(start) if start else None, "endTime": int(end) if end and done else None,
               "metadata": call.request.get("metadata") or {},
               "answered_by_voicemail": bool(call.outcome.extra.get("answered_by_voicemail")),
               "error": call.outcome.extra.get("error") if raw == "failed" else None}
        if raw == "completed":
            obj["analyzedData"] = {"outcome": "successful"}
            obj["recordingUrl"] = "https://recordings.trillet.test/r.mp3"
        return obj

    def job(self, call, step=-1) -> dict:
        raw = self.raw_at(call, step)
        start, end = self._times(call, step)
        obj = {"jobId": call.job_id, "status": self.JOB_WORDS.get(raw, raw), "phone_number": call.number,
               "startTime": int(start * 1000) if start else None}
        if raw in ("completed", "failed", "cancelled") and end:
            obj["endTime"] = int(end * 1000)
            if start:
                obj["duration"] = int((end - start) * self.speed)
        if raw == "failed":
            obj["error"] = call.outcome.extra.get("error")
        if raw == "completed":
            row = call.request.get("row") or {}
            words = call.outcome.extra.get("transcript", CONVERSATION)
            metadata = {k: v for k, v in row.items() if k != "phone_number"}
            metadata.update(call.outcome.extra.get("gathered", GATHERED))
            obj["result"] = {"callId": call.id, "transcript": words.format(first_name=row.get("first_name") or "there"),
                             "outcome": "successful", "metadata": metadata}
        return obj

    def create(self, req):
        body = req.json()
        problem = validate_call(body)
        if problem:
            return self.error(400, problem)
        call = self.new_call(f"ch_{uuid.uuid4().hex[:24]}", body["to"], callback_url=body.get("callback_url") or "",
                             request=body)
        return 200, {"status": "success", "call_id": call.id, "message": "Call initiated successfully"}, {}

    def read(self, req):
        call = self.find(req.params["id"])
        if call is None:
            return self.error(404, "Call not found")
        return 200, self.history(call), {}

    def history_list(self, req):
        return 200, {"data": [], "page": 1, "total": 0}, {}

    def batch_create(self, req):
        form = req.form()
        if not form.get("agentId") or not form.get("file"):
            return self.error(400, "file and agentId are required")
        rows = list(csv.DictReader(io.StringIO(form["file"][0].decode())))
        batch_id = f"batch_{uuid.uuid4().hex[:16]}"
        jobs = []
        for i, row in enumerate(rows):
            call = self.new_call(f"ch_{uuid.uuid4().hex[:24]}", row["phone_number"], job_id=f"job_{i}_{batch_id[-6:]}",
                                 batch_id=batch_id, request={"call_agent_id": form["agentId"][0], "row": row})
            self.start_in_wave(call, i)
            jobs.append(call.id)
        self.batches[batch_id] = {"jobs": jobs, "status": "processing", "scheduledAt": (form.get("scheduledAt")
                                                                                        or [None])[0]}
        return 200, {"batchId": batch_id, "totalCalls": len(rows), "status": "queued",
                     "message": "Batch call created successfully"}, {}

    def _batch(self, batch_id):
        return self.batches.get(batch_id)

    def batch_read(self, req):
        batch = self._batch(req.params["id"])
        if batch is None:
            return self.error(404, "Batch not found")
        jobs = [self.job(self.calls[c]) for c in batch["jobs"]]
        progress = {s: sum(1 for j in jobs if j["status"] == s) for s in ("waiting", "active", "completed", "failed")}
        complete = all(j["status"] in ("completed", "failed", "cancelled") for j in jobs)
        if complete and batch["status"] == "processing":
            batch["status"] = "completed"
        return 200, {"id": req.params["id"], "status": batch["status"], "isComplete": complete,
                     "totalCalls": len(jobs), "progress": {**progress, "total": len(jobs)},
                     "timestamp": int(time.time() * 1000)}, {}

    def batch_calls(self, req):
        batch = self._batch(req.params["id"])
        if batch is None:
            return self.error(404, "Batch not found")
        jobs = [self.job(self.calls[c]) for c in batch["jobs"]]
        want = req.query.get("status", "all")
        if want != "all":
            jobs = [j for j in jobs if j["status"] == want]
        page, limit = int(req.query.get("page", 1)), min(int(req.query.get("limit", 20)), 100)
        chunk = jobs[(page - 1) * limit: page * limit]
        total_pages = max(1, -(-len(jobs) // limit))
        return 200, {"calls": chunk, "pagination": {"page": page, "limit": limit, "total": len(jobs),
                                                    "totalPages": total_pages, "hasNext": page < total_pages,
                                                    "hasPrev": page > 1}, "summary": {}}, {}

    def job_read(self, req):
        batch = self._batch(req.params["id"])
        for cid in (batch or {}).get("jobs", []):
            if self.calls[cid].job_id == req.params["job"]:
                return 200, self.job(self.calls[cid]), {}
        return self.error(404, f"Job {req.params['job']} not found")

    def batch_cancel(self, req):
        batch = self._batch(req.params["id"])
        if batch is None:
            return self.error(404, "Batch not found")
        details = {"completedCalls": 0, "failedCalls": 0, "cancelledCalls": 0, "totalCalls": len(batch["jobs"])}
        for cid in batch["jobs"]:
            call = self.calls[cid]
            raw = self.state(call)
            if raw == "queued":  # waiting jobs are dropped; live calls finish
                call.stopped_at, call.stop_state = time.time(), "cancelled"
                details["cancelledCalls"] += 1
            elif raw == "completed":
                details["completedCalls"] += 1
            elif raw == "failed":
                details["failedCalls"] += 1
        batch["status"] = "cancelled"
        return 200, {"status": "cancelled", "message": "Batch cancelled", "details": details}, {}

    EVENTS = {"active": "call.started", "ongoing": "call.started", "completed": "call.completed",
              "failed": "call.failed"}

    def callback_messages(self, call, step):
        raw = self.raw_at(call, step)
        if self.callback_style == "job":
            if not (call.callback_url or (call.batch_id and self.callback_url)):
                return []
            job = self.job(call, step)
            if not call.batch_id:
                job["jobId"] = call.id  # a call placed alone: its job is the call_id the create answered
            return [({}, json.dumps(job).encode())]
        event = self.EVENTS.get(raw)
        if event is None or not call.callback_url:
            return []
        h = self.history(call, step)
        data = {"callId": call.id, "agentId": h["agentId"], "status": raw, "error": h["error"],
                "answered_by_voicemail": h["answered_by_voicemail"]}
        if h["startTime"] and h["endTime"]:
            data["duration"] = h["endTime"] - h["startTime"]
        body = json.dumps({"event": event, "data": data}).encode()
        headers = {"X-Trillet-Signature": hmac_hex(self.secret, body)} if self.secret else {}
        return [(headers, body)]


def validate_call(body) -> str:
    """The first problem with a `POST /v1/api/call` body; "" when it is acceptable."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    for name in ("to", "call_agent_id"):
        if not body.get(name):
            return f"{name} is required"
    for name, value in body.items():
        kind = CALL_FIELDS.get(name)
        if kind is None:
            return f"unknown field: {name}"
        if value is not None and not isinstance(value, kind):
            return f"{name} must be {'an object' if kind is dict else 'a string'}"
    return ""
