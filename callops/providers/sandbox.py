"""The built-in sandbox provider: no network, outcomes chosen by the destination number.

Like card numbers in a payment test mode, each number in the table below (the fictional
555-01xx range) always produces the same outcome; any other number completes normally. The
table is repeated in README.md under "Sandbox test numbers".

Placement writes a deterministic script into the provider call id (`sbx-<outcome>-<placed ms>-<nonce>`);
`fetch_status` replays it from the elapsed time, so the ordinary poll job and sweeps drive a sandbox
call exactly as they drive a real provider's. Timings are realistic at speed 1 and divided by
`settings.SANDBOX_SPEED` (tests run at 50).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django.conf import settings

from .base import AvailableNumber, Placement, ProviderAdapter, ProviderError, PurchasedNumber, StatusReport
from .sandbox_transcripts import transcript_for

KIND = "sandbox"


@dataclass(frozen=True)
class Outcome:
    key: str
    description: str
    # (seconds after placement, canonical status) in order; the last step is final unless `hangs`.
    steps: tuple[tuple[float, str], ...]
    error_code: str = ""
    error_message: str = ""
    hangup_cause: str = ""
    answered_by: str = ""
    hangs: bool = False
    # The create request itself is refused (place_call raises): the call never gets a provider
    # id, so `steps` are never replayed.
    refused: bool = False


_RING = ((1.0, "initiated"), (3.0, "ringing"))
OUTCOMES = {
    "completed": Outcome("completed", "answered by a person, ~45 s conversation, completed",
                         _RING + ((8.0, "in_progress"), (53.0, "completed")), hangup_cause="caller_hangup",
                         answered_by="human"),
    "no_answer": Outcome("no_answer", "rings for 30 s, nobody answers", _RING + ((33.0, "no_answer"),),
                         hangup_cause="no_answer"),
    "busy": Outcome("busy", "line busy", _RING + ((5.0, "busy"),), hangup_cause="user_busy"),
    "invalid_number": Outcome("invalid_number", "fails at dial: the number does not exist",
                              ((1.0, "initiated"), (2.0, "failed")), error_code="invalid_number",
                              error_message="the destination number is not in service",
                              hangup_cause="unallocated_number"),
    "voicemail": Outcome("voicemail", "voicemail picks up: no_answer, answered_by machine",
                         _RING + ((12.0, "no_answer"),), hangup_cause="machine_detected", answered_by="machine"),
    "balance_low": Outcome("balance_low", "provider account out of balance: fails before dialing",
                           ((1.0, "failed"),), error_code="balance_low",
                           error_message="provider wallet balance too low to place the call"),
    "long_call": Outcome("long_call", "answered, ~10 min conversation, completed",
                         _RING + ((8.0, "in_progress"), (608.0, "completed")), hangup_cause="caller_hangup",
                         answered_by="human"),
    "hangs": Outcome("hangs", "answered and never reports an end: the stale sweep fails it",
                     _RING + ((8.0, "in_progress"),), answered_by="human", hangs=True),
    "dropped": Outcome("dropped", "answered, then the line drops: failed with a telephony error",
                       _RING + ((8.0, "in_progress"), (20.0, "failed")), error_code="telephony_error",
                       error_message="the carrier dropped the call", hangup_cause="network_out_of_order",
                       answered_by="human"),
    "refused": Outcome("refused", "the provider refuses the create request: failed at once, no provider call",
                       ((0.0, "failed"),), error_code="invalid_request",
                       error_message="the sandbox refuses calls to +12025550109 (the test number for a refused "
                                     "placement)", refused=True),
}

# Destination number -> outcome. Any number not listed completes.
TEST_NUMBERS = {
    "+12025550100": "completed",
    "+12025550101": "no_answer",
    "+12025550102": "busy",
    "+12025550103": "invalid_number",
    "+12025550104": "voicemail",
    "+12025550105": "balance_low",
    "+12025550106": "long_call",
    "+12025550107": "hangs",
    "+12025550108": "dropped",
    "+12025550109": "refused",
}

# Raw sandbox status words, shaped like a provider's own vocabulary.
RAW = {"queued": "queued", "initiated": "dialing", "ringing": "ringing", "in_progress": "answered",
       "completed": "completed", "no_answer": "no-answer", "busy": "busy", "failed": "failed",
       "canceled": "canceled"}


# Numbers the sandbox sells: the fictional +1 202 555 0100–0199, free, each one once per account.
SALE_NUMBERS = tuple(f"+1202555{n:04d}" for n in range(100, 200))
SALE_AREA_CODE = "202"


def outcome_for_number(number: str) -> Outcome:
    return OUTCOMES[TEST_NUMBERS.get(number, "completed")]


def _speed() -> float:
    return max(float(getattr(settings, "SANDBOX_SPEED", 1.0) or 1.0), 1e-6)


def parse_call_id(value: str) -> tuple[Outcome, float]:
    try:
        _, key, placed_ms, _nonce = value.split("-", 3)
        return OUTCOMES[key], int(placed_ms) / 1000
    except (ValueError, KeyError):
        raise ProviderError(f"unknown sandbox call {value!r}", permanent=True, code="not_found", http_status=404)


class Adapter(ProviderAdapter):
    kind = KIND
    poll_interval = 2.0
    max_call_seconds = 1800
    supports_cancel = True
    rate_limits = None  # no network: nothing to protect unless the account sets a figure

    def next_poll_delay(self, call=None) -> float:
        return self.poll_interval / _speed()

    @classmethod
    def call_deadline_seconds(cls) -> float:
        return cls.max_call_length() / _speed()

    # The sandbox dials no one, so it takes every per-call option (and ignores them).
    per_call_options = frozenset({"language", "voicemail_action", "tools"})

    def place_call(self, call) -> Placement:
        outcome = outcome_for_number(call.to_number)
        if outcome.refused:
            # Answered like a provider's 4xx on the create: permanent, so nothing retries it and
            # the API answers its documented 502 with the call left failed.
            raise ProviderError(outcome.error_message, permanent=True, code=outcome.error_code, http_status=422)
        call_id = f"sbx-{outcome.key}-{int(time.time() * 1000)}-{secrets.token_hex(4)}"
        return Placement(provider_call_id=call_id, report=StatusReport(
            status="queued", raw_status="queued", provider_call_id=call_id, payload={"id": call_id, "status": "queued"}))

    def _state(self, call) -> tuple[Outcome, str]:
        outcome, placed = parse_call_id(call.provider_call_id)
        elapsed = (time.time() - placed) * _speed()
        status = "queued"
        for at, step in outcome.steps:
            if elapsed >= at:
                status = step
        return outcome, status

    def fetch_status(self, call) -> StatusReport:
        outcome, status = self._state(call)
        final = status == outcome.steps[-1][1] and not outcome.hangs
        fields: dict = {}
        answered_by = ""
        if final:
            fields = {k: v for k, v in (("error_code", outcome.error_code), ("error_message", outcome.error_message),
                                         ("hangup_cause", outcome.hangup_cause)) if v}
            answered_by = outcome.answered_by
            if status == "completed":
                fields["transcript"] = transcript_for(call)
                # Seconds after the create at which the callee answered (steps are (seconds, state)).
                answered = {state: at for at, state in outcome.steps}.get("in_progress", 0)
                fields["duration_seconds"] = int(outcome.steps[-1][0] - answered)
        elif status == "in_progress":
            answered_by = outcome.answered_by
        return StatusReport(status=status, raw_status=RAW[status], reason=outcome.error_message if final else "",
                            provider_call_id=call.provider_call_id, answered_by=answered_by, fields=fields,
                            payload={"id": call.provider_call_id, "status": RAW[status], "scenario": outcome.key})

    finds_placements = True

    def find_placement(self, call, *, since):
        # The sandbox keeps nothing outside the call row: a placement whose id was never written
        # never happened, so placing again cannot dial twice.
        return None

    def cancel_call(self, call) -> StatusReport | None:
        _, status = self._state(call)
        if status in ("in_progress", "completed", "no_answer", "busy", "failed"):
            raise ProviderError(f"sandbox call is {status}; too late to cancel", permanent=True, code="too_late")
        return StatusReport(status="canceled", raw_status="canceled", provider_call_id=call.provider_call_id)

    sells_numbers = True

    def search_numbers(self, *, country_code="US", area_code="", number_type="", limit=10, exclude=frozenset()):
        if (country_code or "US").upper() != "US" or area_code not in ("", SALE_AREA_CODE) \
                or number_type not in ("", "local"):
            return []
        free = [n for n in SALE_NUMBERS if n not in exclude]
        return [AvailableNumber(phone_number=n, state="DC", locality="Washington") for n in free[:max(limit, 0)]]

    def purchase_number(self, phone_number, *, owned=frozenset()):
        if phone_number not in SALE_NUMBERS:
            raise ProviderError(f"the sandbox sells only +12025550100 to +12025550199, not {phone_number}",
                                permanent=True, code="invalid_request", http_status=400)
        if phone_number in owned:
            raise ProviderError(f"{phone_number} is already this account's", permanent=True, code="conflict",
                                http_status=409)
        return PurchasedNumber(e164=phone_number, provider_number_id=f"sbx-num-{phone_number[1:]}",
                               friendly_name=f"Sandbox {phone_number}")

    def list_numbers(self):
        return []  # the sandbox keeps nothing: its numbers are the rows callops stored

    def test_connection(self) -> str:
        return "Sandbox ready; no credentials needed"
