"""Frequency caps: how many calls one number may get from an organization in 24 hours and in
7 days, and how many of them may be answered in 7 days.

What counts is a DialRecord: one per call the gate let through to be dialed (a call refused or
canceled before dialing never counts; a call that reached the gate and then failed at the provider
does, because callops cannot know whether the phone rang). The check and the record are one
critical section per (organization, number): on PostgreSQL a transaction-level advisory lock
(`pg_advisory_xact_lock`) taken before counting and held until the transaction that writes the
record commits, so two requests or workers racing for the last allowed call are serialised and the
second one counts the first. SQLite (the embedded first-run database) opens every transaction
with BEGIN IMMEDIATE (settings.py), which already serialises writers, so no lock is needed there.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from callops.accounts.models import Organization

from .models import CallingPolicy, DialRecord

DAY = timedelta(hours=24)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class CapHit:
    """A cap the number is at: the words of the refusal and when the next call may go."""

    message: str
    retry_at: datetime


def lock_number(org: Organization, number: str, *, wait: bool = True) -> bool:
    """Serialise the cap check for this organization's number until the transaction ends.

    With wait=False, False at once when another transaction holds it: a batch tick, which holds
    the locks of many numbers at a time, skips such a number rather than wait (two ticks waiting
    on each other's numbers would deadlock).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("lock_number must run inside transaction.atomic(): the lock ends with the transaction")
    if connection.vendor != "postgresql":
        return True  # SQLite: BEGIN IMMEDIATE already serialises every writing transaction
    digest = hashlib.blake2b(f"callops.rules.cap:{org.pk}:{number}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    # SQL because the ORM has no advisory locks; this is a lock, not a fast path.
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def over_cap(policy: CallingPolicy | None, number: str, now: datetime) -> CapHit | None:
    """The cap `number` is at now (the one that keeps it longest), or None if a call may go.

    Call inside lock_number's critical section when the answer leads to a record.
    """
    if policy is None or (policy.max_calls_per_day is None and policy.max_calls_per_week is None
                          and policy.max_answered_per_week is None):
        return None
    # No upper bound on `at`: `now` is read before lock_number may wait, and a call admitted
    # while this one waited carries a later time that must still count against the cap.
    rows = list(DialRecord.objects.filter(organization_id=policy.organization_id, number=number,
                                          at__gt=now - WEEK)
                .order_by("at").values_list("at", "answered"))
    hits: list[CapHit] = []
    checks = (
        (policy.max_calls_per_day, DAY, [at for at, _ in rows if at > now - DAY],
         lambda n, cap: f"{number} has had {_plural(n, 'call')} in the last 24 hours (cap {cap} per 24 h)"),
        (policy.max_calls_per_week, WEEK, [at for at, _ in rows],
         lambda n, cap: f"{number} has had {_plural(n, 'call')} in the last 7 days (cap {cap} per 7 days)"),
        (policy.max_answered_per_week, WEEK, [at for at, answered in rows if answered],
         lambda n, cap: f"{number} has answered {_plural(n, 'call')} in the last 7 days "
                        f"(cap {cap} answered per 7 days)"),
    )
    for cap, span, times, words in checks:
        if cap is None or len(times) < cap:
            continue
        # The count falls below the cap when the (len - cap + 1)-th oldest record leaves the span.
        hits.append(CapHit(words(len(times), cap), times[len(times) - cap] + span))
    return max(hits, key=lambda h: h.retry_at) if hits else None


def record(org: Organization, number: str, call_public_id: uuid.UUID, now: datetime) -> None:
    DialRecord.objects.create(organization=org, number=number, call_public_id=call_public_id, at=now)


def recorded(call_public_id: uuid.UUID) -> bool:
    """Whether this call already passed the caps (a placement tried again must not count twice)."""
    return DialRecord.objects.filter(call_public_id=call_public_id).exists()


def note_answered(call_public_id: uuid.UUID) -> None:
    DialRecord.objects.filter(call_public_id=call_public_id, answered=False).update(answered=True)


def purge_old_records(limit: int = 5000) -> int:
    """Delete records no cap can count any more (older than 7 days), a bounded slice per sweep."""
    ids = list(DialRecord.objects.filter(at__lt=timezone.now() - WEEK - DAY).values_list("pk", flat=True)[:limit])
    if ids:
        DialRecord.objects.filter(pk__in=ids).delete()
    return len(ids)
