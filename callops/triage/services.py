"""Triage's writes: mark a failure group reviewed, and the bulk action on one group.

A bulk action works on the group's rows in the window (or on the ones ticked inside it), at most
ACTION_CAP of them, through the service a single call or delivery uses (redial, extraction re-run,
redelivery), and writes one audit entry for the whole action. Each returns what it did, for the
caller to say. An action the group's cause does not offer (`Cause.allowed`: it cannot help, such as
re-dialing invalid numbers) is refused with ActionNotAllowed before anything is touched. Audit entries take their address from `request_origin` (callops.accounts.services).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from callops.accounts.services import audit
from callops.calls.models import EventSource
from callops.calls.redial import RetryRefused, retry_call
from callops.calls.results import rerun
from callops.calls.services import CallActionError
from callops.webhooks import services as webhooks
from callops.webhooks.models import Trigger

from . import explanations, sources, windows
from .models import TriageReview

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

    from callops.accounts.models import Organization
    from callops.calls.models import Call

# One action touches at most this many rows; the rest stay for the next click.
ACTION_CAP = 200


@dataclass(frozen=True)
class Outcome:
    """What a bulk action did: how many rows it acted on, and why each refused row was refused."""

    done: int
    refused: list[str] = field(default_factory=list)


class ActionNotAllowed(Exception):
    """The group's cause does not offer this action, because it cannot help; the message says why."""


_ACTION_WORDS = {explanations.RETRY: "retrying these calls", explanations.RERUN: "re-running extraction",
                 explanations.REDELIVER: "redelivering"}


def cause_of(kind: str, key: str) -> explanations.Cause:
    """The cause a group's key stands for (what the triage page explains for that group)."""
    if kind == "call":
        status, error_code, hangup = (key.split(sources.SEP, 3) + ["", "", ""])[:3]
        return explanations.for_call(status, error_code, hangup)
    if kind == "extraction":
        return explanations.for_extraction(key)
    return explanations.for_webhook(key)


def check_allowed(kind: str, key: str, action: str) -> explanations.Cause:
    cause = cause_of(kind, key)
    if action not in cause.allowed(kind):
        raise ActionNotAllowed(f"{cause.title}: {_ACTION_WORDS.get(action, action)} cannot help, so it is not "
                               f"offered. {cause.fix}")
    return cause


def _target(kind: str, key: str) -> str:
    return f"{kind}:{key}"[:200]


def review_group(org: Organization, kind: str, key: str, window: str, *, actor: User | None = None,
                 note: str = "") -> TriageReview:
    """Mark the group reviewed: hidden from triage until it happens again after now."""
    label = actor.get_username() if actor is not None and getattr(actor, "pk", None) else str(actor or "system")
    review, _ = TriageReview.objects.update_or_create(
        organization=org, kind=kind, cause=key[:300],
        defaults={"reviewed_at": timezone.now(), "reviewed_by": actor if getattr(actor, "pk", None) else None,
                  "reviewed_by_label": label[:200], "note": note[:500]})
    audit(org, "triage.reviewed", actor=actor, target=_target(kind, key), detail={"window": window})
    return review


def redial_group(org: Organization, key: str, window: str, *, actor: User, selected: Sequence[str] = (),
                 now: datetime | None = None) -> Outcome:
    """Redial the group's failed, unanswered or busy calls; a call is redialled at most once, ever."""
    check_allowed("call", key, explanations.RETRY)
    _, start, now = windows.bounds(window, now)
    label = actor.get_username()
    return _on_calls(org, "call", key, "retry", window, sources.calls_for_key(org, key, start, now), selected, actor,
                     lambda call: retry_call(call, EventSource.USER, label))


def rerun_group(org: Organization, key: str, window: str, *, actor: User, selected: Sequence[str] = (),
                now: datetime | None = None) -> Outcome:
    """Run extraction again for the group's calls."""
    check_allowed("extraction", key, explanations.RERUN)
    _, start, now = windows.bounds(window, now)
    label = actor.get_username()
    return _on_calls(org, "extraction", key, "rerun", window, sources.extractions_for_key(org, key, start, now),
                     selected, actor, lambda call: rerun(call, source=EventSource.USER, actor_label=label))


def _on_calls(org: Organization, kind: str, key: str, action: str, window: str, qs: QuerySet[Call],
              selected: Sequence[str], actor: User, act: Callable[[Call], Any]) -> Outcome:
    if selected:
        qs = qs.filter(public_id__in=selected)
    done, refused = 0, []
    for call in qs.select_related("agent").order_by("-ended_at")[:ACTION_CAP]:
        try:
            act(call)
            done += 1
        except (RetryRefused, CallActionError) as exc:
            refused.append(str(exc))
    audit(org, f"triage.bulk_{action}", actor=actor, target=_target(kind, key),
          detail={"window": window, "done": done, "refused": len(refused), "selected": len(selected)})
    return Outcome(done, refused)


def redeliver_group(org: Organization, key: str, window: str, *, actor: User,
                    selected: Sequence[str] = (), now: datetime | None = None) -> Outcome:
    """Queue one more attempt of each of the group's deliveries that is still undelivered."""
    check_allowed("webhook", key, explanations.REDELIVER)
    _, start, now = windows.bounds(window, now)
    qs = sources.deliveries_for_key(org, key, start, now)
    if selected:
        qs = qs.filter(public_id__in=selected)
    deliveries = list(qs.order_by("-id")[:ACTION_CAP])
    for delivery in deliveries:
        # No actor: one audit entry for the whole action (below), not one per delivery.
        webhooks.redeliver(delivery, None, trigger=Trigger.BULK)
    audit(org, "triage.bulk_redeliver", actor=actor, target=_target("webhook", key),
          detail={"window": window, "deliveries": len(deliveries), "selected": len(selected)})
    return Outcome(len(deliveries))
