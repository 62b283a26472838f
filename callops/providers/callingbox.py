"""CallingBox adapter: agent-based and prompt-based create, GET by id, signed `t=…,v1=…` callbacks.

CallingBox statuses are already the canonical words; voicemail arrives as `no_answer` with
`answered_by=machine`. There is no documented cancel route, so cancel is unsupported.

A `completed` call may still read `result_status: pending` (CallingBox extracts after the hangup);
the report then says `details_pending`, and the sync job keeps reading the call for a bounded
time until the result is final, so the provider extractor gets CallingBox's `result`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from callops.lib import isotime

from . import callback_auth, transport
from .base import (
    AvailableNumber,
    CallbackRejected,
    Placement,
    PlacementUnknown,
    ProviderAdapter,
    ProviderError,
    PurchasedNumber,
    StatusReport,
)

# An interrupted placement is looked for in the account's call list, newest first, back to this
# long before its claim (clock skew between callops and the provider), at most this many pages.
FIND_MARGIN = timedelta(minutes=5)
FIND_PAGES = 50
# The account's number list is read at most this many pages of 100.
NUMBER_PAGES = 20

KIND = "callingbox"
STATUS_MAP = {s: s for s in ("queued", "initiated", "ringing", "in_progress", "completed", "no_answer", "busy",
                             "canceled", "failed")}

# CallingBox's credit reservation words (queued reserves, a charged end settles, no charge releases).
RESERVATION_STATUSES = frozenset({"reserved", "settled", "released"})


# Account credential `create_api`: which create request the account's API takes. "agent" (the
# documented agent-based create) or "prompt" (the SDK's create, for accounts that answer 400 to
# `agent_id` and `metadata`); unset, each agent decides: one with a CallingBox agent id uses the
# agent-based create, one without uses the prompt-based create.
AGENT_API, PROMPT_API = "agent", "prompt"
CREATE_APIS = (AGENT_API, PROMPT_API)


def create_shape(agent) -> str:
    """The create request (AGENT_API or PROMPT_API) a call of `agent` is placed with."""
    setting = str(agent.provider_account.credentials.get("create_api") or "").strip().lower()
    if setting in CREATE_APIS:
        return setting
    return AGENT_API if (agent.provider_agent_id or "").strip() else PROMPT_API


def _names_callops_call(obj: dict, wanted: str) -> bool | None:
    """Whether a listed call names callops call `wanted` (True), names another callops call
    (False), or names none (None): by `metadata.callops_call_id` or the `callops_call_id` in the
    `webhook_url` query (by the id, not the whole URL: PUBLIC_URL may have changed since)."""
    metadata = obj.get("metadata")
    ids = set()
    if isinstance(metadata, dict) and metadata.get("callops_call_id"):
        ids.add(str(metadata["callops_call_id"]))
    ids.update(parse_qs(urlsplit(str(obj.get("webhook_url") or "")).query).get("callops_call_id", []))
    if not ids:
        return None
    return wanted in ids


def _could_be(obj: dict, call, shape: str) -> bool:
    """Whether a listed call that names no callops id could still be `call`: none of the fields
    the create sent (and the call object echoes) differ."""
    echoed = {"prompt": call.instructions, "from_number": call.from_number, "context": call.context}
    if shape == AGENT_API:
        echoed = {"agent_id": call.agent.provider_agent_id, "from_number": call.from_number, "context": call.context}
    return not any(value and obj.get(key) and obj.get(key) != value for key, value in echoed.items())


def report_from_call(obj: dict, *, event_id: str = "") -> StatusReport:
    raw = str(obj.get("status") or "")
    status = STATUS_MAP.get(raw.lower())
    if status is None:
        raise ValueError(f"unknown CallingBox status {raw!r}")
    fields = {k: obj.get(k) for k in ("error_code", "error_message", "hangup_cause", "duration_seconds",
                                      "billed_duration_seconds", "billing_amount_milli_cents")
              if obj.get(k) not in (None, "")}
    if obj.get("reservation_status") in RESERVATION_STATUSES:
        fields["reservation_status"] = obj["reservation_status"]
    if obj.get("result_status") == "completed" and obj.get("result") is not None:
        fields["provider_result"] = obj["result"]  # trusted only once extraction finished
    return StatusReport(status=status, raw_status=raw, reason=obj.get("error_message") or "",
                        provider_call_id=str(obj.get("id") or ""), answered_by=obj.get("answered_by") or "",
                        fields=fields, payload=obj, event_id=event_id,
                        details_pending=status == "completed" and obj.get("result_status") == "pending")


def _purchased(obj: dict) -> PurchasedNumber:
    """A CallingBox `PhoneNumber` object (the SDK's shape) as the adapter contract's value."""
    purchased_at = isotime.parse(obj.get("purchased_at"))
    return PurchasedNumber(e164=str(obj["e164"]), provider_number_id=str(obj.get("id") or ""),
                           friendly_name=obj.get("friendly_name") or "", country_code=obj.get("country_code") or "US",
                           number_type=obj.get("number_type") or "local", status=obj.get("status") or "active",
                           monthly_cost_cents=int(obj.get("monthly_cost_cents") or 0),
                           purchased_at=purchased_at if purchased_at and purchased_at.tzinfo else None)


class Adapter(ProviderAdapter):
    kind = KIND
    default_base_url = "https://api.callingbox.io"
    # Signed callbacks carry every change; polling is the safety net.
    poll_interval = 10.0
    max_call_seconds = 3600
    rate_limits = {"default": 300}  # not documented; a conservative figure, override per account
    callback_id_field = "provider_call_id"  # events carry data.call.id

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.credentials.get('api_key', '')}"}

    # Only the prompt-based create takes these per call; the agent-based one rejects them as
    # agent settings.
    per_call_options = frozenset({"language", "voicemail_action", "tools"})

    @classmethod
    def per_call_refusal(cls, option: str, agent) -> str | None:
        if create_shape(agent) == AGENT_API:
            return (f"the agent's provider (CallingBox) does not take {option} per call on an agent-based "
                    f"call; configure {'them' if option == 'tools' else 'it'} on the CallingBox agent, or use an "
                    "agent without a CallingBox agent id (prompt-based calls)")
        return super().per_call_refusal(option, agent)

    def place_call(self, call) -> Placement:
        shape = create_shape(call.agent)
        if shape == AGENT_API:
            agent_id = (call.agent.provider_agent_id or "").strip()
            if not agent_id:
                # `"agent_id": ""` would be a 400 at best, a call with some default agent at worst.
                raise ProviderError("this CallingBox account takes agent-based calls only (create_api=agent), and "
                                    "the agent has no CallingBox agent id", permanent=True, code="agent_id_required")
            body = self._agent_body(call, agent_id)
        else:
            body = self._prompt_body(call)
        response = self._send("create", "POST", f"{self.base_url}/v1/calls", headers=self._headers(), json=body)
        report = report_from_call(transport.json_body(response, KIND))
        return Placement(provider_call_id=report.provider_call_id, report=report)

    def _agent_body(self, call, agent_id: str) -> dict:
        """The documented agent-based create: `agent_id`, `to`, `from_number`, `instructions`,
        `context`, `webhook_url`, `metadata` (providers.md 2.1; not in the SDK)."""
        body: dict = {"agent_id": agent_id, "to": call.to_number, "webhook_url": self.account.callback_url,
                      "metadata": {**call.metadata, "callops_call_id": str(call.public_id)}}
        if call.instructions and call.instructions != call.agent.instructions:
            body["instructions"] = call.instructions
        if call.from_number:
            body["from_number"] = call.from_number
        if call.context:
            body["context"] = call.context
        return body

    def _prompt_webhook_url(self, call) -> str:
        """The webhook URL of one prompt-based call: the account's callback route with the callops
        call id in its query (the callback view routes on the path only, so events still arrive).

        The prompt-based create is the SDK's (callingbox 0.1.0 `calls.create`): it sends no
        metadata and no Idempotency-Key, and the call object's `metadata` is CallingBox's own (the
        SDK reads the call's language from it), so neither can carry callops' id. The call object
        does echo `webhook_url` (the SDK's `Call.webhook_url`): a URL naming the call is how
        find_placement recognises it."""
        return f"{self.account.callback_url}?callops_call_id={call.public_id}"

    def _prompt_body(self, call) -> dict:
        """The SDK's create (`resources/calls.py` `Calls.create`), its fields only: `to`, `prompt`
        (callops' instructions), `context`, `returns`, `language`, `from_number`, `webhook_url`,
        `voicemail_action`, `tools`. An account on this API answers 400 to `agent_id` or `metadata`."""
        body: dict = {"to": call.to_number}
        if call.instructions:
            body["prompt"] = call.instructions
        if call.context:
            body["context"] = call.context
        if call.returns:
            body["returns"] = call.returns
        if call.language:
            body["language"] = call.language
        if call.from_number:
            body["from_number"] = call.from_number
        body["webhook_url"] = self._prompt_webhook_url(call)
        if call.voicemail_action:
            body["voicemail_action"] = call.voicemail_action
        if call.tools:
            body["tools"] = call.tools
        return body

    def fetch_status(self, call) -> StatusReport:
        response = self._send("read", "GET", f"{self.base_url}/v1/calls/{call.provider_call_id}",
                              headers=self._headers())
        return report_from_call(transport.json_body(response, KIND))

    finds_placements = True

    def find_placement(self, call, *, since):
        """Every call we place names its callops id: an agent-based one in `metadata.callops_call_id`,
        a prompt-based one in its `webhook_url` (see _prompt_webhook_url).

        The list is the SDK's (`Calls.list`): newest first, `limit`, `starting_after` the last
        id of a page, `{data, has_more}`; it has no `to` filter, so calls to the same number are
        picked out here. It is read back to FIND_MARGIN before the claim. Absence is concluded
        only from a read that could have found the call: one that reached past that window (or
        that the provider says is complete), in which no call to this number inside the window
        could be this one. A call to the same number in the window that names no callops id and
        whose other fields (prompt, from_number, agent_id, context) do not rule it out might be
        ours on an account that does not echo the id: then the answer is PlacementUnknown, never
        None, so the call is not dialed a second time."""
        wanted, horizon = str(call.public_id), since - FIND_MARGIN
        shape = create_shape(call.agent)
        unproven = ""
        params: dict = {"limit": 100}
        for _ in range(FIND_PAGES):
            response = self._send("read", "GET", f"{self.base_url}/v1/calls", headers=self._headers(), params=params)
            page = transport.json_body(response, KIND)
            # The SDK also reads a bare list and a `data` envelope without `has_more` (legacy shapes);
            # neither says whether more calls follow, so neither alone proves absence.
            items = page.get("data") if isinstance(page, dict) else page
            has_more = page.get("has_more") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise PlacementUnknown("CallingBox answered the call list in an unexpected shape")
            reached_back = False
            for obj in items:
                if not isinstance(obj, dict):
                    continue
                created = isotime.parse(obj.get("created_at"))
                if created is not None and created.tzinfo is not None and created < horizon:
                    reached_back = True
                    continue  # created before the claim: not this placement
                if obj.get("to_number") not in (None, "", call.to_number):
                    continue
                named = _names_callops_call(obj, wanted)
                if named is True:
                    report = report_from_call(obj)
                    return Placement(provider_call_id=report.provider_call_id, report=report)
                if named is None and not unproven and _could_be(obj, call, shape):
                    unproven = (f"CallingBox call {obj.get('id')} to {call.to_number}, created inside the placement's "
                                "window, names no callops call id (the account does not echo it), so it may be this "
                                "call")
            if reached_back or has_more is False:
                if unproven:
                    raise PlacementUnknown(unproven)
                return None
            last = items[-1].get("id") if items and isinstance(items[-1], dict) else None
            if has_more is not True or not last:
                raise PlacementUnknown("CallingBox's call list ended without reaching the claim time")
            params = {"limit": 100, "starting_after": str(last)}
        raise PlacementUnknown(f"more than {FIND_PAGES} pages of calls since the claim")

    def parse_callback(self, body: bytes, headers: dict[str, str]) -> list[StatusReport]:
        callback_auth.verify_timestamped(headers.get("callingbox-signature", ""), body, self.account.callback_secret)
        envelope = json.loads(body)
        obj = (envelope.get("data") or {}).get("call")
        if not isinstance(obj, dict):
            raise ValueError("CallingBox event without data.call")
        return [report_from_call(obj, event_id=headers.get("callingbox-event-id") or str(envelope.get("id") or ""))]

    # --- phone numbers: GET /v1/numbers/available, POST /v1/numbers/purchase (the SDK's shapes) -----
    sells_numbers = True

    def search_numbers(self, *, country_code="US", area_code="", number_type="", limit=10, exclude=frozenset()):
        params = {"country_code": country_code or "US", "limit": limit}
        if area_code:
            params["area_code"] = area_code
        if number_type:
            params["number_type"] = number_type
        response = self._send("other", "GET", f"{self.base_url}/v1/numbers/available", headers=self._headers(),
                              params=params)
        body = transport.json_body(response, KIND)
        # The SDK reads a bare list or a `data` envelope; so does this.
        items = body.get("data", []) if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ProviderError("CallingBox answered the number search in an unexpected shape", permanent=False,
                                code="bad_response")
        return [AvailableNumber(phone_number=str(o.get("phone_number") or ""), country_code=o.get("country_code") or "US",
                                number_type=o.get("number_type") or "local", state=o.get("state"),
                                locality=o.get("locality"), monthly_cost_cents=int(o.get("monthly_cost_cents") or 0),
                                upfront_cost_cents=int(o.get("upfront_cost_cents") or 0),
                                currency=o.get("currency") or "USD")
                for o in items if isinstance(o, dict) and o.get("phone_number")]

    def purchase_number(self, phone_number, *, owned=frozenset()):
        response = self._send("other", "POST", f"{self.base_url}/v1/numbers/purchase", headers=self._headers(),
                              json={"phone_number": phone_number})
        body = transport.json_body(response, KIND)
        obj = body.get("data", body) if isinstance(body, dict) else None
        if not isinstance(obj, dict) or not obj.get("e164"):
            raise ProviderError("CallingBox answered the purchase in an unexpected shape", permanent=False,
                                code="bad_response")
        return _purchased(obj)

    def list_numbers(self):
        """GET /v1/numbers, page by page (`starting_after` the last id), at most NUMBER_PAGES pages."""
        out: list[PurchasedNumber] = []
        params: dict = {"limit": 100}
        for _ in range(NUMBER_PAGES):
            response = self._send("read", "GET", f"{self.base_url}/v1/numbers", headers=self._headers(),
                                  params=params)
            page = transport.json_body(response, KIND)
            items = page.get("data", []) if isinstance(page, dict) else page
            if not isinstance(items, list):
                raise ProviderError("CallingBox answered the number list in an unexpected shape", permanent=False,
                                    code="bad_response")
            objs = [o for o in items if isinstance(o, dict) and o.get("e164")]
            out.extend(_purchased(o) for o in objs)
            if not (isinstance(page, dict) and page.get("has_more")) or not objs or not objs[-1].get("id"):
                return out
            params = {"limit": 100, "starting_after": objs[-1]["id"]}
        return out

    def test_connection(self) -> str:
        response = self._send("test", "GET", f"{self.base_url}/v1/numbers", headers=self._headers())
        numbers = transport.json_body(response, KIND)
        # A list body is the numbers themselves; an object carries them under "data".
        listed = numbers.get("data", numbers) if isinstance(numbers, dict) else numbers
        count = len(listed) if isinstance(listed, (dict, list)) else 0
        return f"CallingBox reachable; {count} numbers"


__all__ = ["Adapter", "CallbackRejected"]
