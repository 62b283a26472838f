"""Bolna adapter: `POST /call` by execution id, `GET /executions/{id}`, stop, batches, pushes.

Quirks honoured: `call-disconnected` only looks final (mapped to in_progress, `completed` follows);
`scheduled_at` is always sent with a numeric offset (a `Z` suffix makes Bolna answer 500); stop
works only while a call is queued or scheduled; status words are matched case-insensitively with
`_` read as `-` (older docs spell `balance_low`). Bolna does not sign its pushes: the account's
unguessable callback token in the URL is the secret (the view has already matched it).

What the vendor's own code says (package `bolna`, README "### Bolna"):
- The transcript is written by `bolna/helpers/utils.py` `format_messages`: each message is
  `"<role>: " + content + "\n"` with role `assistant` or `user` (and, in some calls, `system`,
  `assistant_tool_call`, `tool_response`). Content may itself span lines, so a line that starts
  with none of those labels continues the message before it; system and tool entries are not
  turns.
- Call-state pushes name the execution `execution_id` (`bolna/agent_manager/task_manager.py`
  `_build_call_context`); the execution object names it `id`. Either finds the call.
- `completed` tracks telephony, not talk (Bolna's status page): a `completed` execution with
  `conversation_duration` 0 is decided from `telephony_data.hangup_*` (busy, no_answer, else
  failed), keeping Bolna's word as the raw status and its hangup words as the reason.
- `GET /user/me` `wallet` is the balance in cents (Bolna's CLI, `internal/api/account.go`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC

from callops.extraction.transcript import canonical_turns

from . import transport
from .base import Placement, ProviderAdapter, ProviderError, StatusReport

KIND = "bolna"
STATUS_MAP = {
    "scheduled": "queued", "queued": "queued", "rescheduled": "queued",
    "initiated": "initiated", "ringing": "ringing", "in-progress": "in_progress",
    # Soft terminal: duration, cost, recording and extraction are not filled in yet.
    "call-disconnected": "in_progress",
    "completed": "completed", "no-answer": "no_answer", "busy": "busy", "canceled": "canceled",
    "stopped": "canceled", "cancelled": "canceled", "failed": "failed", "error": "failed", "balance-low": "failed",
}
ERROR_CODES = {"balance-low": "balance_low", "error": "provider_error", "failed": "telephony_error"}
# Labels `format_messages` writes at the start of a message; the first two are the conversation.
TRANSCRIPT_LABELS = {"assistant": "agent", "user": "user", "system": None, "assistant_tool_call": None,
                     "tool_response": None}
_LABEL_RE = re.compile(r"^(assistant_tool_call|tool_response|assistant|user|system): ?(.*)$")
# Hangup words of a zero-talk `completed` (hangup_reason, hangup_by, hangup_provider_code joined).
_BUSY_RE = re.compile(r"\bbusy\b", re.I)
_NO_ANSWER_RE = re.compile(r"no[ _-]?answer|not answered|unanswered|rejected|declined|cancel|timeout|timed out",
                           re.I)


def normalize_status(raw: str) -> str:
    """Bolna's word in the form the table uses: `balance_low`, `Balance-Low` -> `balance-low`."""
    return raw.strip().lower().replace("_", "-").replace(" ", "-")


def format_scheduled_at(value) -> str:
    """ISO-8601 in UTC with a numeric `+00:00` offset, never `Z`."""
    return value.astimezone(UTC).isoformat(timespec="seconds")


def transcript_turns(text) -> list[dict]:
    """Turns from the string `format_messages` writes; any other shape goes to the generic reader."""
    if not isinstance(text, str):
        return canonical_turns(text)
    entries: list[list] = []  # [role or None, lines]
    for line in text.splitlines():
        m = _LABEL_RE.match(line)
        if m:
            entries.append([TRANSCRIPT_LABELS[m.group(1)], [m.group(2)]])
        elif entries:
            entries[-1][1].append(line)  # the message's content went on over a newline
    out = []
    for role, lines in entries:
        said = "\n".join(lines).strip()
        if role and said:
            out.append({"role": role, "text": said})
    return out


def _talk_outcome(tel: dict) -> tuple[str, str]:
    """(status, error_code) for a `completed` execution in which nobody talked."""
    words = " ".join(str(tel.get(k) or "") for k in ("hangup_reason", "hangup_by"))
    if _BUSY_RE.search(words):
        return "busy", ""
    if _NO_ANSWER_RE.search(words):
        return "no_answer", ""
    return "failed", "no_conversation"


def report_from_execution(obj: dict) -> StatusReport:
    raw = str(obj.get("status") or "")
    word = normalize_status(raw)
    status = STATUS_MAP.get(word)
    if status is None:
        raise ValueError(f"unknown Bolna status {raw!r}")
    tel = obj.get("telephony_data") or {}
    hangup = " / ".join(str(tel[k]) for k in ("hangup_by", "hangup_reason", "hangup_provider_code")
                        if tel.get(k) not in (None, ""))
    fields: dict = {}
    if status == "failed":
        fields["error_code"] = ERROR_CODES.get(word, "telephony_error")
        fields["error_message"] = obj.get("error_message") or raw
    zero_talk = (word == "completed" and isinstance(obj.get("conversation_duration"), (int, float))
                 and not obj["conversation_duration"] and obj.get("answered_by_voice_mail") is not True)
    if zero_talk:
        status, code = _talk_outcome(tel)
        if code:
            fields["error_code"] = code
            fields["error_message"] = f"Bolna reported completed with no conversation ({hangup or 'no hangup detail'})"
    if hangup:
        fields["hangup_cause"] = hangup[:200]
    if word == "completed":
        # Only now are the details final (call-disconnected still carries nulls).
        if obj.get("conversation_duration") is not None:
            fields["duration_seconds"] = int(float(obj["conversation_duration"]))
        if tel.get("recording_url"):
            fields["recording_url"] = tel["recording_url"]
        if isinstance(obj.get("total_cost"), (int, float)):
            # Bolna reports cents; the call object counts milli-cents as CallingBox does.
            fields["billing_amount_milli_cents"] = round(obj["total_cost"] * 1000)
        if obj.get("extracted_data") is not None and not zero_talk:
            # Bolna still extracts from a call nobody talked on; that is not a result.
            fields["provider_result"] = obj["extracted_data"]
        transcript = transcript_turns(obj.get("transcript"))
        if transcript:
            fields["transcript"] = transcript
    answered_by = ""
    if obj.get("answered_by_voice_mail") is True:
        answered_by = "machine"
    elif word == "completed" and obj.get("conversation_duration"):
        answered_by = "human"
    reason = obj.get("error_message") or hangup
    return StatusReport(status=status, raw_status=raw, reason=reason or "", provider_call_id=execution_id(obj),
                        answered_by=answered_by, fields=fields, payload=obj)


def execution_id(obj: dict) -> str:
    """The execution object's `id`, or the `execution_id` call-state pushes carry."""
    return str(obj.get("id") or obj.get("execution_id") or "")


class Adapter(ProviderAdapter):
    kind = KIND
    default_base_url = "https://api.bolna.ai"
    poll_interval = 5.0  # the docs' polling pattern
    max_call_seconds = 3600
    supports_cancel = True
    supports_batches = True
    # Per organization: 500/min on `POST /call` (and the agent routes we do not use), 1000/min on
    # everything else, execution reads included.
    rate_limits = {"placement": 500, "default": 1000}
    rate_buckets = {"create": "placement"}
    callback_id_field = "provider_call_id"  # pushes carry the execution id

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.credentials.get('api_key', '')}"}

    def place_call(self, call) -> Placement:
        body = {"agent_id": call.agent.provider_agent_id, "recipient_phone_number": call.to_number,
                "user_data": {**{k: str(v) for k, v in call.context.items()}, "callops_call_id": str(call.public_id)}}
        if call.from_number:
            body["from_phone_number"] = call.from_number
        response = self._send("create", "POST", f"{self.base_url}/call", headers=self._headers(), json=body)
        data = transport.json_body(response, KIND)
        execution_id = str(data.get("execution_id") or "")
        if not execution_id:
            raise ProviderError("Bolna answered without an execution_id", permanent=False, code="bad_response")
        raw = str(data.get("status") or "queued")
        return Placement(provider_call_id=execution_id, report=StatusReport(
            status=STATUS_MAP.get(normalize_status(raw), "queued"), raw_status=raw, provider_call_id=execution_id, payload=data))

    def fetch_status(self, call) -> StatusReport:
        response = self._send("read", "GET", f"{self.base_url}/executions/{call.provider_call_id}",
                              headers=self._headers())
        return report_from_execution(transport.json_body(response, KIND))

    def cancel_call(self, call) -> StatusReport | None:
        response = self._send("cancel", "POST", f"{self.base_url}/call/{call.provider_call_id}/stop",
                              headers=self._headers())
        data = transport.json_body(response, KIND)
        return StatusReport(status="canceled", raw_status=str(data.get("status") or "stopped"),
                            provider_call_id=call.provider_call_id, payload=data)

    def parse_callback(self, body: bytes, headers: dict[str, str]) -> list[StatusReport]:
        obj = json.loads(body)
        if not isinstance(obj, dict) or not execution_id(obj):
            raise ValueError("Bolna push without an execution id (`id` or `execution_id`)")
        return [report_from_execution(obj)]

    def test_connection(self) -> str:
        response = self._send("test", "GET", f"{self.base_url}/user/me", headers=self._headers())
        me = transport.json_body(response, KIND)
        conc = me.get("concurrency") if isinstance(me.get("concurrency"), dict) else {}
        wallet = me.get("wallet")
        # `wallet` counts cents (Bolna's CLI divides it by 100); other names are guesses, not read.
        balance = f"${wallet / 100:.2f}" if isinstance(wallet, (int, float)) else "not reported"
        concurrency = (f"{conc['current']}/{conc['max']}" if isinstance(conc.get("current"), int)
                       and isinstance(conc.get("max"), int) else "not reported")
        return f"Bolna reachable; balance {balance}, concurrency {concurrency}"

    # --- provider-side batches -------------------------------------------------------------------
    def place_batch(self, agent_id: str, contacts: list[dict], *, scheduled_at=None,
                    from_numbers: list[str] | None = None) -> str:
        """Upload contacts (each with `contact_number` plus variables) and schedule; returns batch_id."""
        columns = ["contact_number"] + sorted({k for c in contacts for k in c} - {"contact_number"})
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(contacts)
        data: dict = {"agent_id": agent_id}
        if from_numbers:
            data["from_phone_numbers"] = list(from_numbers)  # repeated form field
        response = self._send("batch_submit", "POST", f"{self.base_url}/batches", headers=self._headers(), data=data,
                              files={"file": ("contacts.csv", buf.getvalue().encode(), "text/csv")})
        batch_id = str(transport.json_body(response, KIND).get("batch_id") or "")
        if scheduled_at is not None:
            # A multipart form (as Bolna's docs send it) holding only the field: a part without a filename.
            self._send("batch_submit", "POST", f"{self.base_url}/batches/{batch_id}/schedule", headers=self._headers(),
                       files={"scheduled_at": (None, format_scheduled_at(scheduled_at))})
        return batch_id

    def fetch_batch(self, batch_id: str) -> dict:
        """Batch status plus one StatusReport per execution (`reports`)."""
        info = transport.json_body(self._send("batch_read", "GET", f"{self.base_url}/batches/{batch_id}",
                                                headers=self._headers()), KIND)
        rows = transport.json_body(self._send("batch_read", "GET", f"{self.base_url}/batches/{batch_id}/executions",
                                                headers=self._headers()), KIND)
        return {"status": info.get("status"), "info": info,
                "reports": [report_from_execution(r) for r in (rows if isinstance(rows, list) else [])]}

    def stop_batch(self, batch_id: str) -> dict:
        return transport.json_body(self._send("batch_stop", "POST", f"{self.base_url}/batches/{batch_id}/stop",
                                                headers=self._headers()), KIND)
