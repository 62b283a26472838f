"""Dograh emulator, strict where the Dograh server is (github dograh-hq/dograh).

- Auth: `X-API-Key` must equal the key exactly, else 401 `{"detail"}` (api/routes/public_agent.py).
- Trigger body: TriggerCallRequest (api/routes/public_agent.py): `phone_number` (str, required),
  `initial_context` (object), `telephony_configuration_id`, `from_phone_number_id` (int). Missing
  or mistyped fields get FastAPI's 422 `{"detail": [{"loc", "msg", "type"}]}`; unknown fields are
  rejected the same way (the server ignores them, so an adapter sending one is sending nothing).
- Run read (api/routes/workflow.py `get_workflow_run`): no `state` and no `status`; `recording_url`
  and `transcript_url` are storage keys, `recording_public_url` / `transcript_public_url` are the
  fetchable links (api/utils/artifacts.py `/api/v1/public/download/workflow/<token>/<artifact>`,
  served here without the API key); the transcript is "[ts] user|assistant: text" lines
  (api/utils/transcript.py).
- Webhook (api/tasks/webhook_delivery.py `_build_headers`): the credential header
  (`webhook_auth`, built as api/utils/credential_auth.py does), `X-Dograh-Delivery-Id` (stable per
  delivery), `X-Dograh-Workflow-Run-Id`, `X-Dograh-Delivery-Attempt`; body from the node's payload
  template, by default the spec default of api/services/workflow/dto.py (`call_id`), plus the
  `call_disposition` api/tasks/run_integrations.py always adds; `payload="docs"` sends the docs' `run_id` form, `payload="disposition"` the older
  body with `workflow_run_id` and `call_disposition`. Retries: only 408/425/429/500/502/503/504 and
  network errors (`_RETRYABLE_STATUS_CODES`), up to `max_attempts`, same delivery id each time.

Script steps: `init`, `cb:<telephony status>` (a logged callback), `done:<disposition>`. Run ids
count from `first_run_id`; set it to a workflow id to make the two kinds of id collide.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid

import httpx

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
        ("GET", r"/api/v1/public/download/workflow/(?P<token>[0-9a-f]{32})/(?P<artifact>transcript|recording)",
         "download", "other"),
        ("POST", r"/api/v1/public/agent/workflow/(?P<uuid>[0-9a-f-]{36})", "trigger_workflow", "create"),
        ("POST", r"/api/v1/public/agent/(?P<uuid>[0-9a-f-]{36})", "trigger", "create"),
        ("GET", r"/api/v1/workflow/(?P<wf>\d+)/runs/(?P<run>\d+)", "read", "read"),
        ("GET", r"/api/v1/organizations/usage/runs", "usage", "other"),
    ]

    def __init__(self, *, triggers: dict | None = None, workflows: dict | None = None, webhook_auth: dict | None = None,
                 quota_exceeded: bool = False, first_run_id: int = 1001, payload: str = "default",
                 max_attempts: int = 5, retry_delay: float = 0.05, cost_per_second_usd: float | None = None, **kw):
        super().__init__(**kw)
        # Set: a finished run has a stored total_cost_usd (hosted Dograh prices its runs), which the run
        # read answers as `dograh_token_usage` (cents); unset, the open-source server: no cost, 0 tokens.
        self.cost_per_second_usd = cost_per_second_usd
        # trigger uuid -> workflow id, workflow uuid -> workflow id
        self.triggers = triggers or {}
        self.workflows = workflows or {}
        self.webhook_auth = webhook_auth or {}
        self.quota_exceeded = quota_exceeded
        self._ids = itertools.count(first_run_id)
        self.payload_style = payload
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.deliveries: list[tuple[str, int, int]] = []   # (delivery id, attempt, answer status)

    def authenticate(self, req):
        if req.path.startswith("/api/v1/public/download/"):
            return None  # the token in the path is the credential
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
        problems = validate_trigger(body)
        if problems:
            return 422, {"detail": problems}, {}
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
        done = last.startswith("done:")
        talked = done and not extra.get("not_connected")
        token = self.token(call) if talked else None
        if done:
            disposition = last[5:]
            ctx = {"call_disposition": disposition, "mapped_call_disposition": disposition}
            if extra.get("error"):
                ctx["error"] = extra["error"]
            if extra.get("not_connected"):
                ctx["tags"] = ["not_connected", f"telephony_{disposition}"]
                callbacks.append({"status": disposition, "timestamp": time.time()})
        base = f"{self.url}/api/v1/public/download/workflow/{token}"
        # The run's usage_info as the pipeline stores it (per-service usage and the duration).
        usage = {"llm": {}, "tts": {}, "stt": {}, "call_duration_seconds": extra.get("duration", 0)} if done else {}
        return {"id": int(call.id), "workflow_id": int(call.job_id), "name": f"WR-TEL-{call.id}",
                "mode": "twilio", "is_completed": done,
                "transcript_url": f"transcripts/{call.id}.txt" if talked else None,
                "recording_url": f"recordings/{call.id}.wav" if talked else None,
                "user_recording_url": None, "bot_recording_url": None,
                "transcript_public_url": f"{base}/transcript" if talked else None,
                "recording_public_url": f"{base}/recording" if talked else None,
                "user_recording_public_url": None, "bot_recording_public_url": None,
                "public_access_token": token,
                "cost_info": public_cost_info(self._stored_cost_info(extra.get("duration", 0)) if done else {},
                                              usage),
                "usage_info": public_usage_info(usage),
                "created_at": call.created, "definition_id": 1,
                "initial_context": call.request.get("initial_context") or {}, "gathered_context": ctx,
                "call_type": "outbound", "logs": {"telephony_status_callbacks": callbacks}, "annotations": {}}

    def _stored_cost_info(self, duration) -> dict:
        """The run's stored cost_info: empty on the open-source server (nothing writes it), a
        `total_cost_usd` where the operator prices runs (hosted Dograh)."""
        if self.cost_per_second_usd is None:
            return {}
        return {"total_cost_usd": round(float(duration) * self.cost_per_second_usd, 6)}

    @staticmethod
    def token(call) -> str:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"dograh-run-{call.id}").hex

    def download(self, req):
        call = next((c for c in list(self.calls.values()) if self.token(c) == req.params["token"]), None)
        if call is None or not self.run(call)["transcript_public_url"]:
            return self.error(404, "Artifact not found")
        if req.params["artifact"] == "recording":
            return 200, b"RIFF", {}
        return 200, TRANSCRIPT.encode(), {}

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
        headers = {**self.webhook_auth, "X-Dograh-Delivery-Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"dlv-{call.id}")),
                   "X-Dograh-Workflow-Run-Id": str(run["id"]), "X-Dograh-Delivery-Attempt": "1"}
        payload = self.render(run)
        # api/tasks/run_integrations.py `_build_webhook_payload` always adds the disposition.
        payload.setdefault("call_disposition", run["gathered_context"].get("call_disposition", ""))
        return [(headers, json.dumps(payload).encode())]

    def render(self, run: dict) -> dict:
        ctx = run["gathered_context"]
        if self.payload_style == "disposition":
            return {"workflow_run_id": run["id"], "workflow_run_name": run["name"], "workflow_id": run["workflow_id"],
                    "initial_context": run["initial_context"], "gathered_context": ctx,
                    "cost_info": run["usage_info"] or {}, "recording_url": run["recording_url"],
                    "call_disposition": ctx.get("call_disposition")}
        if self.payload_style == "docs":
            return {"run_id": str(run["id"])}
        # Jinja renders each `{{...}}` of the spec default to a string; a missing value renders empty.
        return {"call_id": str(run["id"]), "first_name": str(run["initial_context"].get("first_name") or ""),
                "rsvp": str(ctx.get("rsvp") or ""), "duration": str((run["usage_info"] or {}).get("call_duration_seconds", "")),
                "recording_url": run["recording_url"] or "", "user_recording_url": "", "bot_recording_url": "",
                "transcript_url": run["transcript_url"] or ""}

    def _post(self, call_id: str, url: str, headers: dict, body: bytes):
        """One delivery: attempts until an answer outside the retryable set, or `max_attempts`."""
        try:
            for attempt in range(1, self.max_attempts + 1):
                sent = {**headers, "X-Dograh-Delivery-Attempt": str(attempt)}
                status, answer = 0, b""
                try:
                    r = self._http.post(url, content=body, headers={"Content-Type": "application/json", **sent})
                    status, answer = r.status_code, r.content[:2000]
                except httpx.HTTPError:
                    pass
                with self.lock:
                    self.callbacks_sent.append((url, status))
                    self.callback_log.append((call_id, status))
                    self.callback_answers.append(answer)
                    self.deliveries.append((sent["X-Dograh-Delivery-Id"], attempt, status))
                if status and status not in RETRYABLE:
                    break
                self._stop.wait(self.retry_delay)
        finally:
            # As in core's _post: whatever ends the delivery, it no longer counts as pending, so
            # a test waiting for callbacks to drain cannot hang on it.
            with self.lock:
                self._posts_unfinished -= 1


RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
TRANSCRIPT = ("[00:00:01] assistant: Hi, this is Acme calling about your appointment.\n"
              "[00:00:04] user: Yes, I can come on Tuesday.\n")
TRIGGER_FIELDS = {"phone_number": str, "initial_context": dict, "telephony_configuration_id": int,
                  "from_phone_number_id": int}


def validate_trigger(body) -> list[dict]:
    """FastAPI/pydantic v2 error items for a TriggerCallRequest body."""
    if not isinstance(body, dict):
        return [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary",
                 "input": body}]
    out = [{"type": "extra_forbidden", "loc": ["body", k], "msg": "Extra inputs are not permitted", "input": v}
           for k, v in body.items() if k not in TRIGGER_FIELDS]
    if "phone_number" not in body:
        out.append({"type": "missing", "loc": ["body", "phone_number"], "msg": "Field required", "input": body})
    for k, kind in TRIGGER_FIELDS.items():
        v = body.get(k)
        if v is not None and (not isinstance(v, kind) or isinstance(v, bool)):
            out.append({"type": f"{kind.__name__}_type", "loc": ["body", k],
                        "msg": f"Input should be a valid {kind.__name__}", "input": v})
    return out


def public_usage_info(usage_info: dict | None) -> dict | None:
    """api/services/workflow/run_usage_response.py `format_public_usage_info`, as the run read answers."""
    if not usage_info:
        return None
    return {"llm": usage_info.get("llm") or {}, "tts": usage_info.get("tts") or {},
            "stt": usage_info.get("stt") or {}, "call_duration_seconds": usage_info.get("call_duration_seconds")}


def public_cost_info(cost_info: dict | None, usage_info: dict | None) -> dict | None:
    """api/services/workflow/run_usage_response.py `format_public_cost_info`: the run read's
    `cost_info` is `{"dograh_token_usage", "call_duration_seconds"}` (tokens are US cents) or null."""
    duration = None
    if usage_info and usage_info.get("call_duration_seconds") is not None:
        duration = int(round(usage_info.get("call_duration_seconds") or 0))
    elif cost_info and cost_info.get("call_duration_seconds") is not None:
        duration = int(round(cost_info.get("call_duration_seconds") or 0))
    tokens: float = 0
    if cost_info:
        if "dograh_token_usage" in cost_info:
            tokens = cost_info.get("dograh_token_usage") or 0
        elif "total_cost_usd" in cost_info:
            tokens = round(float(cost_info.get("total_cost_usd", 0)) * 100, 2)
    if duration is None and tokens == 0:
        return None
    return {"dograh_token_usage": tokens, "call_duration_seconds": duration}
