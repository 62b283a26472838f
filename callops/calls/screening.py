"""The calling rules asked before a call row exists: the screening of a request (services.submit_call,
the new-call form) and the audit line of a refusal."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from callops.accounts.services import audit
from callops.rules import gate
from callops.rules.gate import CallRefused

if TYPE_CHECKING:
    from callops.accounts.models import Organization

OUTSIDE_HOURS_CHOICES = ("schedule", "reject")


def screen_call(org: Organization, number: str, *, scheduled_at: datetime | None = None,
                outside_hours: str = "schedule", actor: Any = None, rules: Any = gate.READ_POLICY) -> datetime | None:
    """Ask the calling rules before a call is created; CallRefused (audited) when they refuse.

    Returns when the call is to go: `scheduled_at` as asked, or, when that moment (now for an
    immediate call) is outside the calling hours and outside_hours is "schedule", the window's
    next opening. The caps are previewed here for an immediate call only; `submit_call` asks
    them again under the per-number lock, and a scheduled call meets them when it is dialed.
    """
    at = scheduled_at or timezone.now()
    try:
        gate.check_suppressed(org, number)
        try:
            gate.check_hours(org, number, at, rules=rules)
        except CallRefused as closed:
            if outside_hours == "reject":
                raise
            return closed.retry_at
        if scheduled_at is None:
            gate.check_caps(org, number, at, rules=rules)
    except CallRefused as refused:
        audit_refusal(org, number, refused, actor)
        raise
    return scheduled_at


def audit_refusal(org: Organization, number: str, refused: CallRefused, actor: Any) -> None:
    audit(org, "call.refused", actor=actor, target=number,
          detail={"code": refused.code, "to_number": number, "message": refused.message})
