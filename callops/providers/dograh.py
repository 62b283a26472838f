"""Dograh adapter: workflow runs triggered by one of two non-interchangeable ids.

An agent's `provider_agent_id` names the trigger and the workflow whose runs we read:
`trigger:<trigger_uuid>:<workflow_id>` (the API Trigger node's path) or
`workflow:<workflow_uuid>:<workflow_id>` (the stable agent UUID). Run reads carry no `status`:
the outcome is `is_completed` plus `gathered_context.call_disposition`, and progress before that
comes from the run `state` and the telephony callbacks logged on the run. The only push is a
workflow webhook node posting after the run ends; it is unsigned, so the URL token (and, when
configured, a shared secret in `Authorization: Bearer` or `X-API-Key`) authenticates it.
"""

from __future__ import annotations

import json

from . import callback_auth, transport
from .base import Placement, ProviderAdapter, ProviderError, StatusReport

KIND = "dograh"
DISPOSITION_MAP = {
    "no-answer": "no_answer", "no_answer": "no_answer", "busy": "busy", "canceled": "canceled",
    "cancelled": "canceled", "failed": "failed", "error": "failed",
    # callops files voicemail the CallingBox way
    "voicemail_detected": "no_answer",
}
CALLBACK_MAP = {"initiated": "initiated", "ringing": "ringing", "in-progress": "in_progress",
                "answered": "in_progress"}
STATE_MAP = {"initialized": "queued", "pending": "queued", "running": "in_progress", "in_progress": "in_progress"}


def parse_agent_id(value: str) -> tuple[str, str, str]:
    """(`trigger`|`workflow`, uuid, workflow_id) from an agent's provider_agent_id."""
    parts = (value or "").split(":")
    if len(parts) != 3 or parts[0] not in ("trigger", "workflow") or not parts[1] or not parts[2]:
        raise ProviderError("Dograh agent id must be trigger:<uuid>:<workflow_id> or workflow:<uuid>:<workflow_id>",
                            permanent=True, code="invalid_agent")
    return parts[0], parts[1], parts[2]


def report_from_run(run: dict) -> StatusReport:
    ctx = run.get("gathered_context") or {}
    disposition = str(ctx.get("call_disposition") or ctx.get("mapped_call_disposition") or "")
    callbacks = ((run.get("logs") or {}).get("telephony_status_callbacks") or [])
    last_cb = str((callbacks[-1] or {}).get("status", "")) if callbacks else ""
    fields: dict = {}
    answered_by = ""
    run_id = str(run.get("id") or run.get("workflow_run_id") or "")
    if run.get("is_completed"):
        error = ctx.get("error")
        raw = f"completed:{disposition or 'unknown'}"
        if error or disposition in ("failed", "error"):
            status = "failed"
            fields = {"error_code": "call_failed", "error_message": str(error or disposition)}
        elif disposition in DISPOSITION_MAP:
            status = DISPOSITION_MAP[disposition]
            if disposition == "voicemail_detected":
                answered_by = "machine"
        else:
            # user_hangup, call_transferred, call_duration_exceeded or an agent-set disposition
            status, answered_by = "completed", "human"
        usage = run.get("usage_info") or run.get("cost_info") or {}
        if usage.get("call_duration_seconds") is not None:
            fields["duration_seconds"] = int(float(usage["call_duration_seconds"]))
        if run.get("recording_url"):
            fields["recording_url"] = run["recording_url"]
        if ctx:
            fields["provider_result"] = ctx
        reason = str(error or disposition)
    elif last_cb.lower() in CALLBACK_MAP:
        raw, status, reason = f"callback:{last_cb}", CALLBACK_MAP[last_cb.lower()], ""
    else:
        state = str(run.get("state") or run.get("status") or "initialized")
        raw, status, reason = f"state:{state}", STATE_MAP.get(state.lower(), "queued"), ""
    return StatusReport(status=status, raw_status=raw, reason=reason, provider_call_id=run_id,
                        answered_by=answered_by, fields=fields, payload=run)


class Adapter(ProviderAdapter):
    kind = KIND
    default_base_url = "https://app.dograh.com"
    poll_interval = 10.0
    max_call_seconds = 3600
    rate_limits = {"default": 300}  # not documented (self-hosted: the operator's); override per account
    # The webhook node posts `workflow_run_id`, which is provider_call_id. provider_job_id holds the
    # workflow id, whose small integers collide with run ids of other calls.
    callback_id_field = "provider_call_id"

    def _headers(self) -> dict:
        return {"X-API-Key": self.credentials.get("api_key", "")}

    def place_call(self, call) -> Placement:
        id_kind, uuid, workflow_id = parse_agent_id(call.agent.provider_agent_id)
        path = f"/api/v1/public/agent/{uuid}" if id_kind == "trigger" else f"/api/v1/public/agent/workflow/{uuid}"
        body = {"phone_number": call.to_number,
                "initial_context": {**call.context, "callops_call_id": str(call.public_id)}}
        response = self._send("create", "POST", f"{self.base_url}{path}", headers=self._headers(), json=body)
        data = transport.json_body(response, KIND)
        run_id = data.get("workflow_run_id")
        if run_id in (None, ""):
            raise ProviderError("Dograh answered without a workflow_run_id", permanent=False, code="bad_response")
        # Trigger always answers `initiated`, even before the run dials: it means "accepted".
        return Placement(provider_call_id=str(run_id), provider_job_id=str(workflow_id), report=StatusReport(
            status="queued", raw_status=str(data.get("status") or "initiated"), provider_call_id=str(run_id),
            payload=data))

    def fetch_status(self, call) -> StatusReport:
        workflow_id = call.provider_job_id or parse_agent_id(call.agent.provider_agent_id)[2]
        response = self._send("read", "GET",
                              f"{self.base_url}/api/v1/workflow/{workflow_id}/runs/{call.provider_call_id}",
                              headers=self._headers())
        return report_from_run(transport.json_body(response, KIND))

    def parse_callback(self, body: bytes, headers: dict[str, str]) -> list[StatusReport]:
        callback_auth.verify_shared_secret(headers, self.account.callback_secret)
        payload = json.loads(body)
        if not isinstance(payload, dict) or payload.get("workflow_run_id") in (None, ""):
            raise ValueError("Dograh webhook without workflow_run_id")
        ctx = dict(payload.get("gathered_context") or {})
        if payload.get("call_disposition"):
            ctx.setdefault("call_disposition", payload["call_disposition"])
        run = {"id": payload["workflow_run_id"], "is_completed": True, "gathered_context": ctx,
               "usage_info": payload.get("cost_info") or {}, "recording_url": payload.get("recording_url")}
        report = report_from_run(run)
        report.payload = payload
        return [report]

    def test_connection(self) -> str:
        response = self._send("test", "GET", f"{self.base_url}/api/v1/organizations/usage/runs",
                              headers=self._headers(), params={"page": 1, "limit": 1})
        transport.json_body(response, KIND)
        return "Dograh reachable; key accepted"
