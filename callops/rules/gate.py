"""The one question every call path asks before it dials: may this organization call this number now?

Three rules, asked in this order: the suppression list (never), the local calling hours (not now,
later), the frequency caps (not now, later). A refusal is a CallRefused; `retry_at` says when the
call would be allowed (None for a suppressed number), so each path chooses: the API and the
dashboard answer 409 (or schedule the call at the window's opening), batches and scheduled or
retried calls are deferred to `retry_at`, a suppressed call is canceled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from callops.accounts.models import Organization

from . import caps, hours, policy, suppressions
from .models import CallingPolicy

SUPPRESSED = "suppressed"
FREQUENCY_CAP = "frequency_cap"
OUTSIDE_HOURS = "outside_hours"


class CallRefused(Exception):
    """A calling rule refuses this call. `code` is the call's error_code when it is canceled;
    `retry_at` is when the rule would let it go (None: never, the number is suppressed)."""

    def __init__(self, message: str, *, code: str, retry_at: datetime | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_at = retry_at


class NumberBusy(Exception):
    """admit(wait=False): another transaction is admitting a call to this number right now."""


def check_suppressed(org: Organization, number: str) -> None:
    """CallRefused(code="suppressed") when `number` (any spelling) is on the organization's list."""
    row = suppressions.find(org, number)
    if row is not None:
        raise CallRefused(suppressions.describe(row), code=SUPPRESSED)


# "Read the organization's policy": a caller that asks for many numbers at once (a batch tick)
# reads it once and passes it as `rules`.
_READ = object()
READ_POLICY = _READ  # the default of every `rules` parameter, for callers that pass theirs along


def _rules(org: Organization, rules: Any) -> CallingPolicy | None:
    return policy.get(org) if rules is _READ else rules


def check_hours(org: Organization, number: str, at: datetime, *, fallback_zone: str | None = None,
                rules: Any = _READ) -> None:
    """CallRefused(code="outside_hours", retry_at=the window's next opening) when `at` is outside
    the organization's calling hours in the number's zone."""
    shut = hours.closed(_rules(org, rules), number, at, fallback_zone=fallback_zone)
    if shut is not None:
        raise CallRefused(shut.message, code=OUTSIDE_HOURS, retry_at=shut.opens_at)


def check_caps(org: Organization, number: str, at: datetime, *, rules: Any = _READ) -> None:
    """CallRefused(code="frequency_cap") when the number is at a cap now. Without the lock, so a
    preview only: admission (`admit`) asks again under it."""
    hit = caps.over_cap(_rules(org, rules), number, at)
    if hit is not None:
        raise CallRefused(hit.message, code=FREQUENCY_CAP, retry_at=hit.retry_at)


def admit(org: Organization, number: str, *, call_public_id: uuid.UUID, now: datetime | None = None,
          fallback_zone: str | None = None, check_suppression: bool = True, wait: bool = True,
          rules: Any = _READ) -> None:
    """Let this call be dialed now, or raise CallRefused. Writes the DialRecord the caps count.

    Inside the caller's transaction when there is one: on PostgreSQL the per-number lock is held
    until that transaction commits, so the caller's other writes (the call row it creates) commit
    together with the record. Asking again for a call already admitted (a placement tried again)
    passes the caps without counting it twice; the list and the hours are asked again.

    With check_suppression=False a suppressed number is neither refused nor counted: the caller
    lets the dial-time check cancel the call, so its timeline says why. With wait=False, NumberBusy
    instead of waiting for another transaction admitting a call to the same number.
    """
    now = now or timezone.now()
    if check_suppression:
        check_suppressed(org, number)
    elif suppressions.find(org, number) is not None:
        return
    rules = _rules(org, rules)
    shut = hours.closed(rules, number, now, fallback_zone=fallback_zone)
    if shut is not None:
        raise CallRefused(shut.message, code=OUTSIDE_HOURS, retry_at=shut.opens_at)
    if caps.recorded(call_public_id):
        return
    # No savepoint inside a caller's transaction (two round trips saved per call): the refusals
    # are raised after the block, so they never mark the caller's transaction for rollback.
    with transaction.atomic(savepoint=False):
        locked = caps.lock_number(org, number, wait=wait)
        hit = caps.over_cap(rules, number, now) if locked else None
        if locked and hit is None:
            caps.record(org, number, call_public_id, now)
    if not locked:
        raise NumberBusy(number)
    if hit is not None:
        raise CallRefused(hit.message, code=FREQUENCY_CAP, retry_at=hit.retry_at)


def note_answered(call_public_id: uuid.UUID) -> None:
    """The call was answered: it counts toward the answered-call cap from now on."""
    caps.note_answered(call_public_id)
