"""Dograh adapter: workflow runs triggered by one of two non-interchangeable ids.

An agent's `provider_agent_id` names the trigger and the workflow whose runs we read:
`trigger:<trigger_uuid>:<workflow_id>` (the API Trigger node's path) or
`workflow:<workflow_uuid>:<workflow_id>` (the stable agent UUID). Run reads (api/routes/workflow.py)
carry no `status` and no `state`: the outcome is `is_completed` plus
`gathered_context.call_disposition`, progress before that the telephony callbacks logged on the
run, and the fetchable links are `recording_public_url` / `transcript_public_url`. The only push is
a workflow webhook node's delivery after the run ends (api/tasks/webhook_delivery.py): unsigned,
authenticated by the URL token and, when configured, one of Dograh's credential headers
(api/utils/credential_auth.py), retried with the same `X-Dograh-Delivery-Id`.
"""

from __future__ import annotations

import json
import re

from callops.extraction.transcript import canonical_turns

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
# api/utils/transcript.py writes "[<timestamp>] user|assistant: <text>" lines.
_STAMP_RE = re.compile(r"^\s*\[[^\]]*\]\s*", re.M)
# Header first (api/tasks/webhook_delivery.py always sets it), then the default template's
# `call_id` (api/services/workflow/dto.py), the docs' `run_id`, and the older `workflow_run_id`.
RUN_ID_KEYS = ("call_id", "run_id", "workflow_run_id")


def transcript_turns(text: str) -> list[dict]:
    return canonical_turns(_STAMP_RE.sub("", text or ""))


def parse_agent_id(value: str) -> tuple[str, str, str]:
    """(`trigger`|`workflow`, uuid, workflow_id) from an agent's provider_agent_id."""
    parts = (value or "").split(":")
    if len(parts) != 3 or parts[0] not in ("trigger", "workflow") or not parts[1] or not parts[2]:
        raise ProviderError("Dograh agent id must be trigger:<uuid>:<workflow_id> or workflow:<uuid>:<workflow_id>",
                            permanent=True, code="invalid_agent")
    return parts[0], parts[1], parts[2]


def dograh_cost_milli_cents(cost_info) -> int | None:
    """The run's cost from the run read's `cost_info`, in milli-cents of US dollars.

    The run read answers `format_public_cost_info(run.cost_info, run.usage_info)`
    (api/services/workflow/run_usage_response.py): `{"dograh_token_usage", "call_duration_seconds"}`
    or null, where `dograh_token_usage` is the run's `total_cost_usd` × 100, i.e. US cents ("1 cent
    = 1 token", api/db/organization_usage_client.py). The open-source server never writes a run's
    cost_info, so it answers 0 tokens for every run: 0 is no figure, and the price table estimates."""
    if not isinstance(cost_info, dict):
        return None
    tokens = cost_info.get("dograh_token_usage")
    if isinstance(tokens, bool) or not isinstance(tokens, (int, float)) or tokens <= 0:
        return None
    return round(tokens * 1000)  # cents -> milli-cents, as CallingBox counts


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
        cost = dograh_cost_milli_cents(run.get("cost_info"))
        if cost is not None:
            fields["billing_amount_milli_cents"] = cost
        # `recording_url` is a storage key; the public links are fetchable (api/routes/workflow.py).
        if run.get("recording_public_url"):
            fields["recording_url"] = run["recording_public_url"]
        if ctx:
            fields["provider_result"] = ctx
        reason = str(error or disposition)
    elif last_cb.lower() in CALLBACK_MAP:
        raw, status, reason = f"callback:{last_cb}", CALLBACK_MAP[last_cb.lower()], ""
    else:
        # The run read has no `state` (api/routes/workflow.py): no telephony callback yet is queued.
        raw, status, reason = "running" if callbacks else "initialized", "queued", ""
    return StatusReport(status=status, raw_status=raw, reason=reason, provider_call_id=run_id,
                        answered_by=answered_by, fields=fields, payload=run)


class Adapter(ProviderAdapter):
    kind = KIND
    default_base_url = "https://app.dograh.com"
    poll_interval = 10.0
    max_call_seconds = 3600
    rate_limits = {"default": 300}  # not documented (self-hosted: the operator's); override per account
    # The webhook names the run (X-Dograh-Workflow-Run-Id), which is provider_call_id. provider_job_id holds the
    # workflow id, whose small integers collide with run ids of other calls.
    callback_id_field = "provider_call_id"

    def _headers(self) -> dict:
        return {"X-API-Key": self.credentials.get("api_key", "")}

    def _caller_ids(self, call) -> dict:
        """TriggerCallRequest's `telephony_configuration_id` / `from_phone_number_id`
        (api/routes/public_agent.py). The configuration is an account setting (credential
        `telephony_configuration_id`); a from_number maps to the Dograh phone-number id recorded as
        that number's `provider_number_id` on this account."""
        out: dict = {}
        cfg = str(self.credentials.get("telephony_configuration_id") or "").strip()
        if cfg.isdigit():
            out["telephony_configuration_id"] = int(cfg)
        if call.from_number:
            number = self.account.phone_numbers.filter(e164=call.from_number).exclude(provider_number_id="").first()
            if number is None or not number.provider_number_id.isdigit():
                raise ProviderError(f"{call.from_number} has no Dograh phone number id on this account",
                                    permanent=True, code="invalid_from_number")
            out["from_phone_number_id"] = int(number.provider_number_id)
        return out

    def place_call(self, call) -> Placement:
        id_kind, uuid, workflow_id = parse_agent_id(call.agent.provider_agent_id)
        path = f"/api/v1/public/agent/{uuid}" if id_kind == "trigger" else f"/api/v1/public/agent/workflow/{uuid}"
        body = {"phone_number": call.to_number,
                "initial_context": {**call.context, "callops_call_id": str(call.public_id)}, **self._caller_ids(call)}
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
        run = transport.json_body(response, KIND)
        report = report_from_run(run)
        if run.get("is_completed") and run.get("transcript_public_url"):
            # Through transport (callops.lib.http), so the outbound URL guard vets the link.
            got = transport.send(KIND, "GET", str(run["transcript_public_url"]))
            report.fields["transcript"] = transcript_turns(got.text)
        return report

    def parse_callback(self, body: bytes, headers: dict[str, str]) -> list[StatusReport]:
        callback_auth.verify_credential(headers, self.account.callback_secret,
                                        str(self.credentials.get("callback_auth") or ""))
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("Dograh webhook body is not an object")
        run_id = headers.get("x-dograh-workflow-run-id") or next(
            (payload[k] for k in RUN_ID_KEYS if payload.get(k) not in (None, "")), "")
        if run_id in (None, ""):
            raise ValueError("Dograh webhook without a workflow run id")
        ctx = dict(payload.get("gathered_context") or {})
        if payload.get("call_disposition"):
            ctx.setdefault("call_disposition", payload["call_disposition"])
        # A template payload carries no disposition: read the run (transcript, outcome) instead.
        if not ctx.get("call_disposition"):
            return [StatusReport(status="queued", raw_status="webhook", provider_call_id=str(run_id),
                                 details_pending=True, payload=payload)]
        run = {"id": run_id, "is_completed": True, "gathered_context": ctx,
               "usage_info": payload.get("cost_info") or {},
               "recording_public_url": payload.get("recording_public_url")}
        report = report_from_run(run)
        report.payload = payload
        report.details_pending = True  # the transcript comes from the run read
        return [report]

    def test_connection(self) -> str:
        response = self._send("test", "GET", f"{self.base_url}/api/v1/organizations/usage/runs",
                              headers=self._headers(), params={"page": 1, "limit": 1})
        transport.json_body(response, KIND)
        return "Dograh reachable; key accepted"
