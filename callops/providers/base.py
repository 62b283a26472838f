"""The contract every provider adapter implements, and the values it returns.

Adapters translate; they never write to the database and never import `callops.calls` (the
`Call` they are handed is only a type here). `callops.calls.services` applies what they report
through the single lifecycle function.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings

from . import circuits, ratelimit

if TYPE_CHECKING:
    from callops.calls.models import Call
    from callops.providers.models import ProviderAccount


class ProviderError(Exception):
    """A provider call that did not work.

    permanent=True means retrying cannot help (bad number, bad credentials, unknown agent): the
    call fails now. Otherwise (timeouts, 5xx, 429) the caller retries, honouring retry_after.
    """

    def __init__(self, message: str, *, permanent: bool, code: str = "provider_error",
                 retry_after: float | None = None, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
        self.http_status = http_status


class CallbackRejected(Exception):
    """An inbound callback that failed verification; answered 401 and recorded nowhere."""


@dataclass
class StatusReport:
    """One observation of a call's state at the provider, already mapped to the canonical status."""

    status: str                      # canonical CallStatus value
    raw_status: str                  # the provider's own words, unchanged
    reason: str = ""                 # the provider's reason text, if any
    provider_call_id: str = ""       # lets a callback find its call
    answered_by: str = ""            # human | machine | unknown | ""
    # Detail fields to store with the report: error_code, error_message, hangup_cause,
    # duration_seconds, transcript, provider_result, recording_url, provider_job_id, ...
    fields: dict = field(default_factory=dict)
    payload: dict | list | None = None   # the raw body, for the timeline and the raw-payload view
    occurred_at: datetime | None = None
    event_id: str = ""               # provider's event id when it has one (dedupe)
    # The status is final but the provider is still working on details callops wants (CallingBox
    # `result_status: pending` right after `completed`): the sync job reads the call again.
    details_pending: bool = False


@dataclass
class Placement:
    provider_call_id: str
    provider_job_id: str = ""
    report: StatusReport | None = None   # the status the provider answered the create with


@dataclass
class AvailableNumber:
    """A number a provider offers for sale, in the CallingBox SDK's `AvailableNumber` words."""

    phone_number: str
    country_code: str = "US"
    number_type: str = "local"
    state: str | None = None
    locality: str | None = None
    monthly_cost_cents: int = 0
    upfront_cost_cents: int = 0
    currency: str = "USD"


@dataclass
class PurchasedNumber:
    """What a provider answered a purchase with; `callops.providers.numbers` stores it."""

    e164: str
    provider_number_id: str = ""
    friendly_name: str = ""
    country_code: str = "US"
    number_type: str = "local"
    status: str = "active"
    monthly_cost_cents: int = 0
    purchased_at: datetime | None = None


def _sync_speed() -> float:
    return max(float(getattr(settings, "PROVIDER_SYNC_SPEED", 1.0) or 1.0), 1e-6)


# Without a Retry-After, a provider 429 pauses the account this long.
DEFAULT_429_PAUSE_SECONDS = 1.0
# Operations that run only in background jobs, where waiting for the budget beats failing: a
# refused batch upload fails every call in it, and a batch read spanning many pages (Trillet: 100
# jobs a page, 60 requests a minute) would otherwise never finish within one budget.
BACKGROUND_OPS = frozenset({"batch_submit", "batch_read"})


class PlacementUnknown(Exception):
    """The provider cannot say whether an interrupted placement reached it."""


class ProviderAdapter:
    kind: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    # Seconds between status polls of a live call; the sync job backs off on errors.
    poll_interval: ClassVar[float] = 15.0
    # After this long without reaching a terminal status a call is reconciled, then failed `stale`.
    max_call_seconds: ClassVar[int] = 3600
    supports_cancel: ClassVar[bool] = False
    supports_batches: ClassVar[bool] = False
    # Requests per minute the provider documents, per budget bucket (None: no limit). An account's
    # own `rate_limit_per_minute`, when set, replaces them all with one budget for every request
    # (a negotiated limit).
    rate_limits: ClassVar[dict[str, int] | None] = {"default": 300}
    # Operation -> budget bucket, for providers that limit some routes separately; others use
    # "default". Operations: create, read, cancel, batch_submit, batch_read, batch_stop, test.
    rate_buckets: ClassVar[dict[str, str]] = {}
    # Which Call field the ids in this provider's callbacks refer to. Callbacks are matched on this
    # field only: a provider's other id (Dograh's workflow id in provider_job_id) can hold the
    # same digits as some other call's id.
    callback_id_field: ClassVar[str] = "provider_call_id"
    # Whether find_placement can look a call up by callops' id (see there).
    finds_placements: ClassVar[bool] = False
    # Whether the provider sells phone numbers through its API (search_numbers, purchase_number).
    sells_numbers: ClassVar[bool] = False

    def __init__(self, account: ProviderAccount):
        self.account = account
        self.base_url = (account.base_url or self.default_base_url).rstrip("/")
        self._credentials: dict | None = None
        self._prepaid: dict[str, int] = {}
        self._paused_until = 0.0  # monotonic; set when this adapter saw a 429

    @property
    def credentials(self) -> dict:
        """The account's decrypted credentials, decrypted once per adapter (a sync job polls many calls)."""
        if self._credentials is None:
            self._credentials = self.account.credentials
        return self._credentials

    def next_poll_delay(self, call: Call | None = None) -> float:
        """Seconds until the next status poll of a live call, scaled by PROVIDER_SYNC_SPEED."""
        return self.poll_interval / _sync_speed()

    @classmethod
    def max_call_length(cls) -> float:
        """PROVIDER_MAX_CALL_SECONDS when set, else the provider's own maximum call length (unscaled)."""
        return float(getattr(settings, "PROVIDER_MAX_CALL_SECONDS", 0) or 0) or cls.max_call_seconds

    @classmethod
    def call_deadline_seconds(cls) -> float:
        """How long after the provider started a call a still-live one counts as stuck (stale sweep)."""
        return cls.max_call_length() / _sync_speed()

    # --- the shared request budget -------------------------------------------------------------
    def rate_limit(self, op: str) -> tuple[str, int | None]:
        """(bucket, requests per minute) that `op` is counted against; None = unlimited."""
        if self.account.rate_limit_per_minute:
            return "default", int(self.account.rate_limit_per_minute)
        bucket = self.rate_buckets.get(op, "default")
        if self.rate_limits is None:
            return bucket, None
        return bucket, self.rate_limits.get(bucket, self.rate_limits.get("default"))

    def reserve_requests(self, op: str, n: int) -> tuple[int, float]:
        """Take up to `n` tokens for `op` in one round trip (a sync job's polls); the adapter then
        spends them on its next `op` requests. Returns (granted, seconds until more)."""
        bucket, limit = self.rate_limit(op)
        if limit is None or self.account.pk is None:
            self._prepaid[op] = self._prepaid.get(op, 0) + n
            return n, 0.0
        granted, wait = ratelimit.acquire_many(self.account.pk, limit, n, bucket=bucket)
        self._prepaid[op] = self._prepaid.get(op, 0) + granted
        return granted, wait

    def prepay(self, op: str, n: int = 1) -> None:
        """Let the next `n` `op` requests skip the budget (a stale call's last look)."""
        self._prepaid[op] = self._prepaid.get(op, 0) + n

    def pause_remaining(self) -> float:
        """Seconds this adapter knows the account is paused for (after a 429 it received)."""
        return max(0.0, self._paused_until - time.monotonic())

    def _take(self, op: str) -> None:
        """Wait for a token for one `op` request, at most a bounded time; else ProviderError
        `rate_limited` (transient, with retry_after), which callers treat like a provider 429
        that certainly did not reach the provider."""
        if self._prepaid.get(op, 0) > 0:
            self._prepaid[op] -= 1
            return
        bucket, limit = self.rate_limit(op)
        if limit is None or self.account.pk is None:
            return
        if op in BACKGROUND_OPS:
            max_wait = float(getattr(settings, "PROVIDER_BATCH_RATE_LIMIT_MAX_WAIT_SECONDS", 65.0))
        else:
            max_wait = float(getattr(settings, "PROVIDER_RATE_LIMIT_MAX_WAIT_SECONDS", 2.0))
        deadline = time.monotonic() + max_wait
        while True:
            granted, wait = ratelimit.acquire_many(self.account.pk, limit, 1, bucket=bucket)
            if granted:
                return
            left = deadline - time.monotonic()
            if wait > left:
                raise ProviderError(f"{self.kind} request budget of {limit}/min for this account is spent "
                                    f"(next request in {wait:.1f}s)", permanent=False, code="rate_limited",
                                    retry_after=wait)
            time.sleep(wait)

    def _send(self, op: str, method: str, url: str, **kw):
        """Send one request through the account's budget and the shared HTTP seam. A provider 429
        pauses the account's budget for every worker for its Retry-After."""
        # Not at the top: transport raises this module's ProviderError (cycle base <-> transport).
        from . import transport

        self._take(op)
        started = time.monotonic()
        try:
            response = transport.send(self.kind, method, url, **kw)
        except ProviderError as exc:
            self._observe(op, exc, started)
            if exc.code == "rate_limited" and exc.http_status == 429:
                seconds = exc.retry_after if exc.retry_after is not None else DEFAULT_429_PAUSE_SECONDS
                self._paused_until = max(self._paused_until, time.monotonic() + seconds)
                if self.account.pk is not None:
                    ratelimit.pause(self.account.pk, seconds)
            raise
        self._observe(op, None, started)
        return response

    def _observe(self, op: str, exc: ProviderError | None, started: float) -> None:
        """Placements and polls feed the account's circuit (callops.providers.circuits)."""
        if op in ("create", "read") and self.account.pk is not None:
            circuits.record(self.account.pk, circuits.outcome_of(exc), time.monotonic() - started)

    # --- calls ---------------------------------------------------------------------------------
    # Of the per-call options (language, voicemail_action, tools), those this provider's create
    # takes. The rest are agent settings at the provider, so a call asking for one is refused
    # before anything is written rather than silently placed without it.
    per_call_options: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def per_call_refusal(cls, option: str, agent) -> str | None:
        """Why a call on `agent` cannot carry `option`, in the words the API answers; None if it can."""
        if option in cls.per_call_options:
            return None
        name = agent.provider_account.get_kind_display()
        return (f"the agent's provider ({name}) does not take {option} per call; "
                f"configure {'them' if option == 'tools' else 'it'} on the {name} agent")

    def place_call(self, call: Call) -> Placement:
        raise NotImplementedError

    def fetch_status(self, call: Call) -> StatusReport:
        raise NotImplementedError

    def find_placement(self, call: Call, *, since) -> Placement | None:
        """After a placement was interrupted (the worker died between claiming the call and
        recording the provider's answer): the provider's record of this call, to adopt; None when
        the provider certainly has no such call (it is safe to place it again); PlacementUnknown
        when the provider cannot tell. `since` is when the placement was claimed."""
        raise PlacementUnknown(f"{self.kind} cannot look a call up by callops' id")

    def cancel_call(self, call: Call) -> StatusReport | None:
        """Ask the provider to stop a call that has not connected. ProviderError if it cannot."""
        raise ProviderError(f"{self.kind} cannot cancel a placed call", permanent=True, code="cancel_unsupported")

    # --- provider-side batches (adapters with supports_batches) ------------------------------------
    def place_batch(self, agent_id: str, contacts: list[dict], *, scheduled_at: datetime | None = None) -> str:
        """Upload contacts and schedule them as one provider batch; returns the provider's batch id."""
        raise NotImplementedError

    def fetch_batch(self, batch_id: str) -> dict:
        """The provider's batch with its jobs, as the provider returns it."""
        raise NotImplementedError

    def stop_batch(self, batch_id: str) -> dict:
        """Stop the provider's batch; what the provider answered."""
        raise NotImplementedError

    # --- inbound callbacks -----------------------------------------------------------------------
    def callback_lookups(self, report: StatusReport) -> list[dict]:
        """Call field lookups that find the call a callback report names, tried in order (within
        the account). By default only `callback_id_field`, never "any id that matches"."""
        return [{self.callback_id_field: report.provider_call_id}] if report.provider_call_id else []

    def parse_callback(self, body: bytes, headers: dict[str, str]) -> list[StatusReport]:
        """Verify (raise CallbackRejected) and parse an inbound provider webhook."""
        raise CallbackRejected(f"{self.kind} does not send callbacks")

    # --- phone numbers ---------------------------------------------------------------------------
    def search_numbers(self, *, country_code: str = "US", area_code: str = "", number_type: str = "",
                       limit: int = 10, exclude: frozenset[str] = frozenset()) -> list[AvailableNumber]:
        """Numbers for sale. `exclude` holds the numbers the account already owns in callops, for
        providers that cannot know it themselves (the sandbox)."""
        raise ProviderError(f"{self.kind} does not sell numbers", permanent=True, code="numbers_unsupported")

    def purchase_number(self, phone_number: str, *, owned: frozenset[str] = frozenset()) -> PurchasedNumber:
        raise ProviderError(f"{self.kind} does not sell numbers", permanent=True, code="numbers_unsupported")

    def list_numbers(self) -> list[PurchasedNumber]:
        """Every number the provider account holds (bought in the provider's console, or by a
        purchase whose answer never arrived), for `callops.providers.numbers.import_provider_numbers`."""
        raise ProviderError(f"{self.kind} cannot list its numbers", permanent=True, code="numbers_unsupported")

    # --- operations ------------------------------------------------------------------------------
    @classmethod
    def settings_problem(cls, credentials) -> tuple[str, str]:
        """(field, problem) when the account's settings cannot make a request; ("", "") if they can."""
        return "", ""

    def test_connection(self) -> str:
        """A cheap authenticated request; returns a short description or raises ProviderError."""
        raise NotImplementedError
