"""Dograh emulator: `X-API-Key: dg_…`, two trigger routes, integer run ids, runs without `status`.

A run's outcome is `is_completed` plus `gathered_context.call_disposition`; progress shows in
`state` and `logs.telephony_status_callbacks`. Script steps: `init`, `cb:<telephony status>` (a
logged callback; `cb:in-progress` also sets state `running`), `state:<word>` (a state with no
callback logged, e.g. `state:running`, or the docs' `state:pending`), `done:<disposition>`.
Run ids count from `first_run_id`; set it to a workflow id to make the two kinds of id collide. After the run ends, a workflow webhook node posts
the templated payload plus `call_disposition` to `callback_url`, with the configured auth
header (`webhook_auth`), unsigned and never retried.
"""

from __future__ import annotations

import itertools
import json
import time

from .core import Emulator as Base
from .core import Outcome

_CONNECT = [(0, "init"), (1, "cb:initiated"), (3, "cb:ringing"), (6, "cb:in-progress")]


class Emulator(Base):
    kind = "dograh"
    outcomes = {
        "completed": Outcome(_CONNECT + [(36, "done:user_hangup")], "completed", {"duration": 30}),
        "transferred": Outcome(_CONNECT + [(30, "done:call_transferred")], "completed", {"duration": 24}),
        "agent_set": Outcome(_CONNECT + [(30, "done:interested")], "completed", {"duration": 24}),
        "voicemail": Outcome(_CONNECT + [(12, "done:voicemail_detected")], "no_answer", {"duration": 6}),
        "no_answer": Outcome([(0, "init"), (1, "cb:initiated"), (3, "cb:ringing"), (30, "done:no-answer")],
                             "no_answer", {"not_connected": True}),
        "busy": Outcome([(0, "init"), (1, "cb:initiated"), (4, "done:busy")], "busy", {"not_connected": True}),
        "canceled": Outcome([(0, "init"), (1, "cb:initiated"), (2, "done:canceled")], "canceled",
                            {"not_connected": True}),
        "failed": Outcome([(0, "init"), (1, "cb:initiated"), (2, "done:failed")], "failed", {"not_connected": True}),
        "error": Outcome([(0, "init"), (1, "done:error")], "failed", {"error": "PHONE_NUMBER_NOT_CONFIGURED"}),
    }
    routes = [
        ("POST", r"/api/v1/public/agent/workflow/(?P<uuid>[0-9a-f-]{36})", "trigger_workflow", "create"),
        ("POST", r"/api/v1/public/agent/(?P<uuid>[0-9a-f-]{36})", "trigger", "create"),
        ("GET", r"/api/v1/workflow/(?P<wf>\d+)/runs/(?P<run>\d+)", "read", "read"),
        ("GET", r"/api/v1/organizations/usage/runs", "usage", "other"),
    ]

    def __init__(self, *, triggers: dict | None = None, workflows: dict | None = None, webhook_auth: dict | None = None,
                 quota_exceeded: bool = False, first_run_id: int = 1001, **kw):
        super().__init__(**kw)
        # trigger uuid -> workflow id, workflow uuid -> workflow id
        self.triggers = triggers or {}
        self.workflows = workflows or {}
        self.webhook_auth = webhook_auth or {}
        self.quota_exceeded = quota_exceeded
        self._ids = itertools.count(first_run_id)

    def authenticate(self, req):
        if req.headers.get("x-api-key") != self.api_key:
            return self.error(401, "Invalid or missing API key")
        return None

    def error(self, status, message):
        return status, {"detail": message}, {}

    def _trigger(self, req, workflow_id):
        if workflow_id is None:
            return self.error(404, "WORKFLOW_NOT_FOUND")
        if self.quota_exceeded:
            return self.error(402, "QUOTA_EXCEEDED")
        body = req.json()
        if not isinstance(body, dict) or not body.get("phone_number"):
            return 422, {"detail": [{"loc": ["body", "phone_number"], "msg": "field required",
                                     "type": "value_error.missing"}]}, {}
        run_id = next(self._ids)
        self.new_call(str(run_id), body["phone_number"], job_id=str(workflow_id), request=body)
        return 200, {"status": "initiated", "workflow_run_id": run_id, "workflow_run_name": f"WR-TEL-{run_id}"}, {}

    def trigger(self, req):
        return self._trigger(req, self.triggers.get(req.params["uuid"]))

    def trigger_workflow(self, req):
        return self._trigger(req, self.workflows.get(req.params["uuid"]))

    def run(self, call, step=-1) -> dict:
        idx = self.step_index(call) if step < 0 else step
        steps = call.outcome.steps[: idx + 1]
        callbacks = [{"status": s[3:], "timestamp": call.created + at / self.speed} for at, s in steps
                     if s.startswith("cb:")]
        last = steps[-1][1]
        extra = call.outcome.extra
        ctx: dict = {}
        state = "initialized"
        for _, s in steps:
            if s == "cb:in-progress":
                state = "running"
            elif s.startswith("state:"):
                state = s[6:]
        done = last.startswith("done:")
        if done:
            disposition = last[5:]
            state = "completed"
            ctx = {"call_disposition": disposition, "mapped_call_disposition": disposition}
            if extra.get("error"):
                ctx["error"] = extra["error"]
            if extra.get("not_connected"):
                ctx["tags"] = ["not_connected", f"telephony_{disposition}"]
                callbacks.append({"status": disposition, "timestamp": time.time()})
        return {"id": int(call.id), "workflow_id": int(call.job_id), "name": f"WR-TEL-{call.id}",
                "mode": "twilio", "state": state, "is_completed": done,
                "initial_context": call.request.get("initial_context") or {}, "gathered_context": ctx,
                "usage_info": {"call_duration_seconds": extra.get("duration", 0)} if done else {},
                "recording_url": "https://recordings.dograh.test/r.wav" if done and not extra.get("not_connected")
                else None, "logs": {"telephony_status_callbacks": callbacks}}

    def read(self, req):
        call = self.find(req.params["run"])
        if call is None or call.job_id != req.params["wf"]:
            return self.error(404, "Workflow run not found")
        return 200, self.run(call), {}

    def usage(self, req):
        return 200, {"runs": [], "total": 0}, {}

    def callback_messages(self, call, step):
        if not self.raw_at(call, step).startswith("done:"):
            return []  # the webhook node runs once, after the run ends
        run = self.run(call, step)
        payload = {"workflow_run_id": run["id"], "workflow_run_name": run["name"], "workflow_id": run["workflow_id"],
                   "initial_context": run["initial_context"], "gathered_context": run["gathered_context"],
                   "cost_info": run["usage_info"], "recording_url": run["recording_url"],
                   "call_disposition": run["gathered_context"].get("call_disposition")}
        return [(dict(self.webhook_auth), json.dumps(payload).encode())]
