"""The contract every provider adapter implements, and the values it returns.

Adapters translate; they never write to the database. `callops.calls.services` applies what
they report through the single lifecycle function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

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


@dataclass
class Placement:
    provider_call_id: str
    provider_job_id: str = ""
    report: StatusReport | None = None   # the status the provider answered the create with


def _sync_speed() -> float:
    from django.conf import settings

    return max(float(getattr(settings, "PROVIDER_SYNC_SPEED", 1.0) or 1.0), 1e-6)


class ProviderAdapter:
    kind: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    # Seconds between status polls of a live call; the sync job backs off on errors.
    poll_interval: ClassVar[float] = 15.0
    # After this long without reaching a terminal status a call is reconciled, then failed `stale`.
    max_call_seconds: ClassVar[int] = 3600
    supports_cancel: ClassVar[bool] = False
    supports_batches: ClassVar[bool] = False

    def __init__(self, account: ProviderAccount):
        self.account = account
        self.base_url = (account.base_url or self.default_base_url).rstrip("/")
        self._credentials: dict | None = None

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
    def call_deadline_seconds(cls) -> float:
        """How long after placement a still-live call counts as stuck (the stale sweep)."""
        return cls.max_call_seconds / _sync_speed()

    # --- calls ---------------------------------------------------------------------------------
    def place_call(self, call: Call) -> Placement:
        raise NotImplementedError

    def fetch_status(self, call: Call) -> StatusReport:
        raise NotImplementedError

    def cancel_call(self, call: Call) -> StatusReport | None:
        """Ask the provider to stop a call that has not connected. ProviderError if it cannot."""
        raise ProviderError(f"{self.kind} cannot cancel a placed call", permanent=True, code="cancel_unsupported")

    # --- inbound callbacks -----------------------------------------------------------------------
    def parse_callback(self, body: bytes, headers: dict[str, str]) -> list[StatusReport]:
        """Verify (raise CallbackRejected) and parse an inbound provider webhook."""
        raise CallbackRejected(f"{self.kind} does not send callbacks")

    # --- operations ------------------------------------------------------------------------------
    def test_connection(self) -> str:
        """A cheap authenticated request; returns a short description or raises ProviderError."""
        raise NotImplementedError
