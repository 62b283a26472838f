"""Trillet adapter: `x-api-key` + `x-workspace-id` on every request, call history reads, batches.

A batch job has a `jobId` that is not the call-history id (`result.callId`); both are kept
(provider_call_id, and provider_job_id as "<batchId>/<jobId>", which the per-call read needs and
nothing overwrites). Job times are ms epoch, history times unix seconds. A finished job's
`result` carries the conversation: `transcript` (one string) becomes the call's turn list when
it names its speakers, and the whole `result` (`outcome`, `metadata`, ...) is kept as the
provider's own extraction.

Callbacks come in two shapes (README "### Trillet"): the `{event, data}` envelope of Trillet's
webhook page, verified with `X-Trillet-Signature` (a hex HMAC-SHA256 of the body under the
account's callback secret) when one is configured; and the flat job object (the body of
`GET /v1/api/batch-calls/{batchId}/calls/{jobId}`), which Trillet does not sign: like Bolna's
pushes it is authenticated by the account's unguessable callback token in the URL, which the view
has already matched. A flat job finds its call by `result.callId`, else by its `jobId` and
`phone_number` (a batch job's stored "<batchId>/<jobId>", or the `call_id` of a call placed alone).

A `failed` whose `error` says the line was busy ("Number busy - unable to connect after 3
attempts") or nobody answered ("No answer") ends `busy` / `no_answer`; the raw word and reason
are kept.
"""

from __future__ import annotations

import csv
import io
import json
import re

from callops.extraction.transcript import canonical_turns

from . import callback_auth, transport
from .base import Placement, ProviderAdapter, ProviderError, StatusReport

KIND = "trillet"
STATUS_MAP = {
    "waiting": "queued", "queued": "queued",
    # no initiated/ringing step is exposed
    "active": "in_progress", "ongoing": "in_progress", "in-progress": "in_progress",
    "completed": "completed", "failed": "failed",
    "cancelled": "canceled",  # a job still waiting when its batch was cancelled
}
# `error` texts of a failed call that say what happened on the line (batch job status page).
_BUSY_RE = re.compile(r"\bbusy\b", re.I)
_NO_ANSWER_RE = re.compile(r"\bno[ -]?answer\b|\bnot answered\b|\bunanswered\b", re.I)


def failed_outcome(error: str) -> str:
    """The canonical status of a Trillet `failed` with this `error` text."""
    if _BUSY_RE.search(error):
        return "busy"
    if _NO_ANSWER_RE.search(error):
        return "no_answer"
    return "failed"


def report_from(obj: dict, *, job: bool) -> StatusReport:
    raw = str(obj.get("status") or "")
    status = STATUS_MAP.get(raw.lower())
    if status is None:
        raise ValueError(f"unknown Trillet status {raw!r}")
    result = obj.get("result")
    if not isinstance(result, dict):
        result = {}
    call_id = str(result.get("callId") or "") if job else str(obj.get("_id") or obj.get("callId") or "")
    fields: dict = {}
    if job and obj.get("jobId"):
        fields["provider_job_id"] = str(obj["jobId"])
    if obj.get("duration") is not None:
        fields["duration_seconds"] = int(float(obj["duration"]))
    elif not job and obj.get("startTime") and obj.get("endTime"):
        fields["duration_seconds"] = int(float(obj["endTime"]) - float(obj["startTime"]))  # unix seconds
    error = str(obj.get("error") or "")
    if status == "failed":
        status = failed_outcome(error)
    if status == "failed":
        fields["error_code"] = "call_failed"
        fields["error_message"] = error or raw
    if obj.get("recordingUrl"):
        fields["recording_url"] = obj["recordingUrl"]
    if obj.get("analyzedData") is not None:
        fields["provider_result"] = obj["analyzedData"]
    if job and result:
        # The job's own result: outcome plus metadata. The transcript string is kept in it too,
        # because text without speaker labels cannot become turns.
        fields["provider_result"] = result
    transcript = canonical_turns(result.get("transcript") if job else obj.get("transcript"))
    if transcript:
        fields["transcript"] = transcript
    answered_by = ""
    if obj.get("answered_by_voicemail") is True:
        answered_by = "machine"
    return StatusReport(status=status, raw_status=raw, reason=str(error), provider_call_id=call_id,
                        answered_by=answered_by, fields=fields, payload=obj)


class Adapter(ProviderAdapter):
    kind = KIND
    default_base_url = "https://api.trillet.ai"
    poll_interval = 15.0  # 60 requests/min per key (unverified) leaves room for several live calls
    max_call_seconds = 3600  # calls are capped at about an hour
    supports_batches = True
    rate_limits = {"default": 60}  # per production key (unverified); every route counts
    callback_id_field = "provider_call_id"  # callbacks name the call-history id (`callId`)

    def _headers(self) -> dict:
        creds = self.credentials
        return {"x-api-key": creds.get("api_key", ""), "x-workspace-id": creds.get("workspace_id", "")}

    def place_call(self, call) -> Placement:
        body = {"to": call.to_number, "call_agent_id": call.agent.provider_agent_id,
                "callback_url": self.account.callback_url, "dynamic_variables": call.context or {},
                "metadata": {**call.metadata, "callops_call_id": str(call.public_id)}}
        response = self._send("create", "POST", f"{self.base_url}/v1/api/call", headers=self._headers(), json=body)
        data = transport.json_body(response, KIND)
        call_id = str(data.get("call_id") or "")
        if not call_id:
            raise ProviderError(f"Trillet did not place the call: {data.get('message', '')}", permanent=False,
                                code="bad_response")
        return Placement(provider_call_id=call_id, report=StatusReport(
            status="queued", raw_status=str(data.get("status") or "success"), provider_call_id=call_id,
            payload=data))

    def fetch_status(self, call) -> StatusReport:
        if "/" in (call.provider_job_id or ""):  # batch job: "<batchId>/<jobId>"
            batch_id, job_id = call.provider_job_id.split("/", 1)
            response = self._send("read", "GET", f"{self.base_url}/v1/api/batch-calls/{batch_id}/calls/{job_id}",
                                  headers=self._headers())
            report = report_from(transport.json_body(response, KIND), job=True)
            # The stored "<batch>/<job>" is what this read needs; the bare job id must not replace it.
            report.fields.pop("provider_job_id", None)
            return report
        response = self._send("read", "GET", f"{self.base_url}/v2/api/call-history/{call.provider_call_id}",
                              headers=self._headers())
        return report_from(transport.json_body(response, KIND), job=False)

    def parse_callback(self, body: bytes, headers: dict[str, str]) -> list[StatusReport]:
        envelope = json.loads(body)
        if not isinstance(envelope, dict):
            raise ValueError("Trillet callback is not an object")
        signature = headers.get("x-trillet-signature", "")
        is_job = "event" not in envelope and "jobId" in envelope
        # The webhook envelope is signed when the account has a secret; a flat job object is not
        # (the URL token is its credential), but one that arrives signed is checked all the same.
        if self.account.callback_secret and (signature or not is_job):
            callback_auth.verify_body(signature, body, self.account.callback_secret)
        if is_job:
            report = report_from(envelope, job=True)
            # The stored "<batch>/<job>" is what the per-call read needs; the bare id must not replace it.
            report.fields.pop("provider_job_id", None)
            return [report]
        if not str(envelope.get("event") or "call.").startswith("call."):
            return []  # `sms.sent`, `sms.delivered`: well-formed, about no call; answered 200
        data = envelope.get("data")
        if not isinstance(data, dict):
            raise ValueError("Trillet callback without data")
        obj = dict(data)
        obj.setdefault("_id", data.get("callId"))
        if "status" not in obj:
            obj["status"] = {"call.started": "active", "call.completed": "completed",
                             "call.failed": "failed"}.get(str(envelope.get("event") or ""), "")
        return [report_from(obj, job=False)]

    def callback_lookups(self, report: StatusReport) -> list[dict]:
        payload = report.payload if isinstance(report.payload, dict) else {}
        lookups = super().callback_lookups(report)
        if payload.get("jobId") and payload.get("phone_number"):
            # A job without `result.callId` (not finished, or failed): a batch job by its batch's
            # "<batch>/<job>", a call placed alone by the `call_id` its create answered; either
            # only with the number it dials, so a job id reused across batches finds nothing wrong.
            job, number = str(payload["jobId"]), str(payload["phone_number"])
            lookups += [{"provider_job_id__endswith": f"/{job}", "to_number": number},
                        {"provider_call_id": job, "to_number": number}]
        return lookups

    def test_connection(self) -> str:
        response = self._send("test", "GET", f"{self.base_url}/v2/api/call-history", headers=self._headers(),
                              params={"page": 1, "limit": 1})
        transport.json_body(response, KIND)
        return "Trillet reachable; key and workspace accepted"

    # --- provider-side batches -------------------------------------------------------------------
    def place_batch(self, agent_id: str, contacts: list[dict], *, scheduled_at=None) -> str:
        columns = ["phone_number"] + sorted({k for c in contacts for k in c} - {"phone_number"})
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(contacts)
        data = {"agentId": agent_id}
        if scheduled_at is not None:
            # Trillet documents `scheduledAt` with a Z suffix (the opposite of Bolna).
            data["scheduledAt"] = scheduled_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        response = self._send("batch_submit", "POST", f"{self.base_url}/v1/api/batch-calls", headers=self._headers(),
                              data=data, files={"file": ("contacts.csv", buf.getvalue().encode(), "text/csv")})
        return str(transport.json_body(response, KIND).get("batchId") or "")

    def fetch_batch(self, batch_id: str) -> dict:
        info = transport.json_body(self._send("batch_read", "GET", f"{self.base_url}/v1/api/batch-calls/{batch_id}",
                                                headers=self._headers()), KIND)
        reports, page = [], 1
        while True:
            body = transport.json_body(self._send(
                "batch_read", "GET", f"{self.base_url}/v1/api/batch-calls/{batch_id}/calls", headers=self._headers(),
                params={"page": page, "limit": 100, "status": "all"}), KIND)
            reports += [report_from(j, job=True) for j in body.get("calls", [])]
            if not (body.get("pagination") or {}).get("hasNext"):
                break
            page += 1
        return {"status": info.get("status"), "info": info, "reports": reports}

    def stop_batch(self, batch_id: str) -> dict:
        return transport.json_body(self._send("batch_stop", "DELETE", f"{self.base_url}/v1/api/batch-calls/{batch_id}",
                                                headers=self._headers()), KIND)
