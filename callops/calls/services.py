"""Every write to calls goes through here; the API and the dashboard call the same functions.

The heart is `apply_status`, the only way a call's status changes (design rule 2).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from callops.accounts.services import audit
from callops.providers.base import PlacementUnknown, ProviderError, StatusReport
from callops.providers.registry import adapter_for
from callops.rules import gate
from callops.rules import policy as calling_policy
from callops.rules.gate import CallRefused

from . import cost, opt_out_detection, routing, signals
from .models import RANK, TERMINAL, Call, CallEvent, CallStatus, EventSource, ResultStatus

# OUTSIDE_HOURS_CHOICES and screen_call are asked through services by the API and the new-call form.
from .screening import OUTSIDE_HOURS_CHOICES as OUTSIDE_HOURS_CHOICES
from .screening import audit_refusal
from .screening import screen_call as screen_call

if TYPE_CHECKING:
    from callops.accounts.models import Organization
    from callops.batches.models import Batch

    from .models import Agent, RoutingProfile
    from .validation import CallInput

log = logging.getLogger(__name__)

# Webhook event type for each status a call can enter. `initiated` has no event of its own
# (CallingBox does not send one); `completed` waits for extraction when the call has `returns`.
STATUS_EVENT: dict[str, str] = {
    CallStatus.QUEUED: "call.queued",
    CallStatus.RINGING: "call.ringing",
    CallStatus.IN_PROGRESS: "call.answered",
    CallStatus.COMPLETED: "call.completed",
    CallStatus.NO_ANSWER: "call.no_answer",
    CallStatus.BUSY: "call.busy",
    CallStatus.CANCELED: "call.canceled",
    CallStatus.FAILED: "call.failed",
}

# Detail fields a status report may carry. When a report is accepted they are written; when it is
# ignored (stale, duplicate) they only fill fields that are still empty, because providers fill
# in details (duration, transcript, recording) after the terminal status arrived.
BILLING_FIELDS = frozenset({"billed_duration_seconds", "billing_amount_milli_cents", "reservation_status"})
DETAIL_FIELDS = BILLING_FIELDS | frozenset({
    "error_code", "error_message", "hangup_cause", "answered_by", "duration_seconds", "transcript",
    "provider_result", "recording_url", "provider_call_id", "provider_job_id", "provider_status",
    "provider_reason", "from_number",
})


@dataclass
class Transition:
    call: Call
    accepted: bool
    event: CallEvent


# Statuses that mean the phone rang at some point, so `started_at` (ringing began) is known.
RANG = frozenset({CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.COMPLETED, CallStatus.NO_ANSWER,
                  CallStatus.BUSY})
NOT_ANSWERED = frozenset(s for s in CallStatus if RANK[s] < RANK[CallStatus.IN_PROGRESS])


class CallActionError(Exception):
    """An action that the call's state does not allow (answered 409 by the API)."""


def _ignored_note(current: str, reported: str) -> str:
    if current in TERMINAL:
        return f"ignored: call already {current}"
    if reported == current:
        return "ignored: duplicate report"
    return f"ignored: stale report ({reported} after {current})"


def apply_status(call: Call | int, status: str, *, source: str, raw_status: str = "", reason: str = "",
                 fields: dict[str, Any] | None = None, payload: Any = None, at: datetime | None = None,
                 note: str = "", allowed_from: frozenset[str] | None = None) -> Transition:
    """Move a call forward to `status`, or record the report as ignored.

    Forward-only along queued < initiated < ringing < in_progress < terminal; terminal is final.
    The write is an UPDATE conditional on the status we read, so when two workers race exactly
    one wins and the other re-reads and sees its report is now stale. The accepted change, its
    CallEvent and its webhook event commit together.

    `allowed_from` makes an action conditional on the status it starts from (cancel: not once
    answered); CallActionError when the call is elsewhere, judged at the conditional UPDATE so a
    report landing in between cannot be overridden.
    """
    status = CallStatus(status)
    pk = call.pk if isinstance(call, Call) else call
    at = at or timezone.now()
    details = detail_values(fields, raw_status, reason)

    for _ in range(10):
        current = Call.objects.filter(pk=pk).values_list("status", flat=True).first()
        if current is None:
            raise Call.DoesNotExist(f"call {pk} does not exist")
        if allowed_from is not None and current not in allowed_from:
            raise CallActionError(f"call is {current}; it can no longer become {status}")
        if current in TERMINAL or RANK[status] <= RANK[current]:
            with transaction.atomic():
                fresh = Call.objects.select_for_update().get(pk=pk)
                blanks = {k: v for k, v in details.items()
                          if k not in ("provider_status", "provider_reason") and getattr(fresh, k) in ("", None, [])}
                if blanks:
                    Call.objects.filter(pk=pk).update(updated_at=timezone.now(), **blanks)
                    for k, v in blanks.items():
                        setattr(fresh, k, v)
                cost.settle(fresh, details, accepted=False)
                event = CallEvent.objects.create(
                    call=fresh, created_at=at, source=source, from_status=current, status=status,
                    raw_status=raw_status[:100], reason=reason, ignored=True,
                    note=(note or _ignored_note(current, status))[:300], payload=payload,
                )
            return Transition(fresh, False, event)

        with transaction.atomic():
            update = dict(details, status=status, updated_at=timezone.now())
            if status in RANG:
                # started_at is "ringing began": a call failed or canceled before it rang has none.
                update["started_at"] = Coalesce(F("started_at"), at)
            if status == CallStatus.IN_PROGRESS or (status == CallStatus.COMPLETED and current == CallStatus.IN_PROGRESS):
                update["answered_at"] = Coalesce(F("answered_at"), at)
            if status in TERMINAL:
                update["ended_at"] = at
                update["next_sync_at"] = None
                if status == CallStatus.COMPLETED and _has_returns(pk):
                    update["result_status"] = ResultStatus.PENDING
            won = Call.objects.filter(pk=pk, status=current).update(**update)
            if not won:
                continue  # another writer moved it first; re-read and judge again
            fresh = Call.objects.select_related("agent", "organization").get(pk=pk)
            if status in TERMINAL and fresh.duration_seconds is None:
                assert fresh.ended_at is not None  # written by the UPDATE above (status is terminal)
                # The end and answer times may come from different sources (a poll, a callback);
                # a clock skew between them must not make a negative duration.
                fresh.duration_seconds = max(0, int((fresh.ended_at - fresh.answered_at).total_seconds())) \
                    if fresh.answered_at else 0
                Call.objects.filter(pk=pk).update(duration_seconds=fresh.duration_seconds)
            cost.settle(fresh, details, accepted=True)
            event = CallEvent.objects.create(
                call=fresh, created_at=at, source=source, from_status=current, status=status,
                raw_status=raw_status[:100], reason=reason, note=note[:300], payload=payload,
            )
            after_status_change(fresh, current, status)
        return Transition(fresh, True, event)
    raise RuntimeError(f"call {pk}: status update kept losing races")


def detail_values(fields: dict[str, Any] | None, raw_status: str, reason: str) -> dict[str, Any]:
    """The call fields a report writes (DETAIL_FIELDS it carries, and the provider's words)."""
    details = {k: v for k, v in (fields or {}).items() if k in DETAIL_FIELDS and v is not None}
    if raw_status:
        details.setdefault("provider_status", raw_status[:100])
    if reason:
        details.setdefault("provider_reason", reason)
    return details


def _has_returns(pk: int) -> bool:
    return bool(Call.objects.filter(pk=pk).values_list("returns", flat=True).first())


def after_status_change(call: Call, old: str, new: str) -> None:
    """Side effects of an accepted change, inside its transaction (also called by bulk_reports)."""
    if new in (CallStatus.IN_PROGRESS, CallStatus.COMPLETED):
        gate.note_answered(call.public_id)  # a conversation: the answered-call cap counts it
    if new == CallStatus.COMPLETED and call.result_status == ResultStatus.PENDING:
        # call.completed must carry the final result, so extraction emits it when it finishes.
        # Imported here, not at the top: callops.calls.results imports this module (record_event,
        # CallActionError), so a module-level import would be the cycle calls.services <-> calls.results.
        from . import results as extraction

        extraction.start(call)
        return
    if new == CallStatus.COMPLETED and call.transcript:
        # No extraction run will read this transcript (the run reads it for opt-outs otherwise).
        opt_out_detection.detect(call)
    event_type = STATUS_EVENT.get(new)
    if event_type:
        signals.announce(call, event_type)


def apply_report(call: Call, report: StatusReport, *, source: str) -> Transition:
    """Apply a provider StatusReport (see providers.base) through the lifecycle function.

    Adapters only return reports; applying them to calls is done here (and in
    `callops.calls.status_sync` and `callops.calls.provider_callbacks`), never in `providers`.
    """
    if report.status == CallStatus.FAILED and report.fields.get("error_code") in routing.REFUSED_AFTER_ACCEPT:
        note = routing.refused_after_accept(call, error_code=report.fields["error_code"],
                                            error_message=str(report.fields.get("error_message") or report.raw_status),
                                            raw_status=report.raw_status or "", payload=report.payload)
        if note is not None:
            # Not at the top: callops.calls.jobs imports this module (cycle calls.jobs -> calls.services).
            from .jobs import enqueue_placements

            enqueue_placements([call.pk])
            return Transition(call=Call.objects.get(pk=call.pk), accepted=False, event=note)
    fields = report_fields(call, report)
    return apply_status(call, report.status, source=source, raw_status=report.raw_status or "",
                        reason=report.reason or "", fields=fields, payload=report.payload,
                        at=report.occurred_at)


def report_fields(call: Call, report: StatusReport) -> dict[str, Any]:
    """The detail fields of a report for `call` (apply_status's `fields`)."""
    fields = dict(report.fields)
    if report.answered_by:
        fields["answered_by"] = report.answered_by
    if report.provider_call_id and not call.provider_call_id:
        fields["provider_call_id"] = report.provider_call_id
    return fields


def record_event(call: Call, *, source: str, note: str, kind: str = CallEvent.Kind.ACTION,
                 payload: Any = None) -> CallEvent:
    """A timeline entry that is not a status report (an action, an extraction run, a note)."""
    return CallEvent.objects.create(call=call, kind=kind, source=source, status="", from_status=call.status,
                                    note=note[:300], payload=payload)


def create_call(*, org: Organization, agent: Agent, to_number: str, source: str = EventSource.API,
                from_number: str = "", instructions: str = "", context: dict[str, Any] | None = None,
                metadata: dict[str, Any] | None = None, returns: dict[str, Any] | None = None,
                webhook_url: str = "", scheduled_at: datetime | None = None,
                language: str = "", voicemail_action: str = "", tools: list[Any] | None = None,
                batch: Batch | None = None, retry_of: Call | None = None, attempt: int = 1,
                claim: bool = False, routing_profile: RoutingProfile | None = None,
                public_id: uuid.UUID | None = None) -> Call:
    """Create a queued call (input already validated). Per-call values override the agent's.

    With `claim`, the row is created already holding its one-time dial claim (see submit_call).
    With `routing_profile`, the profile picks the agent from the call's id (chosen here unless given).
    """
    if routing_profile is not None and public_id is None:
        public_id = uuid.uuid4()
        agent = routing.pick(routing_profile, public_id)
    webhook_url = webhook_url or agent.webhook_url
    with transaction.atomic():
        call = Call.objects.create(
            organization=org, agent=agent, batch=batch, retry_of=retry_of, attempt=attempt,
            routing_profile=routing_profile, **({"public_id": public_id} if public_id else {}),
            to_number=to_number, from_number=from_number or agent.from_number,
            instructions=instructions or agent.instructions, context=context or {}, metadata=metadata or {},
            returns=returns if returns else (agent.returns or {}),
            language=language, voicemail_action=voicemail_action, tools=tools or [],
            webhook_url=webhook_url, webhook_status="pending" if webhook_url else "", scheduled_at=scheduled_at,
            provider=agent.provider_account.kind, provider_account=agent.provider_account,
            dial_claimed_at=timezone.now() if claim else None,
        )
        CallEvent.objects.create(call=call, source=source, status=CallStatus.QUEUED, raw_status="",
                                 note="scheduled for " + scheduled_at.isoformat() if scheduled_at else "created")
        signals.announce(call, "call.queued")
    return call


def claim_for_dialing(call: Call) -> bool:
    """Take the one-time right to dial this row. False when someone already has it."""
    now = timezone.now()
    won = Call.objects.filter(pk=call.pk, dial_claimed_at__isnull=True, status=CallStatus.QUEUED).update(
        dial_claimed_at=now)
    if won:
        call.dial_claimed_at = now
    return bool(won)


def place_call(call: Call, *, source: str = EventSource.SYSTEM, retry_transient: bool = False) -> Call:
    """Hand a queued call to its provider, at most once per row.

    With retry_transient (the background path), a transient error that certainly did not place
    the call (429, 5xx, refused connection) releases the claim and schedules another try; the API
    path fails the call at once so the caller gets a 502.
    """
    if not claim_for_dialing(call):
        return Call.objects.get(pk=call.pk)
    call = Call.objects.select_related("agent", "provider_account", "organization").get(pk=call.pk)
    return _dial(call, source=source, retry_transient=retry_transient)


def _dial(call: Call, *, source: str, retry_transient: bool = False, admitted: bool = False) -> Call:
    """The provider request of a call whose dial claim this process holds. `admitted`: the
    calling rules admitted it in the transaction that created the row, a moment ago (submit_call)."""
    # Asked again at dial time: a scheduled, retried or batch call may have been suppressed, or
    # reached a cap or the end of the calling hours, since it was created; no provider hears of it.
    # An immediate call was admitted under the number's lock in its creating transaction, just
    # before this request: asking again would be five more queries (a fifth of POST /v1/calls)
    # for a decision taken milliseconds ago.
    refused = None if admitted else _admission(call)
    if refused is not None:
        if refused.retry_at is None:
            return cancel_refused(call, refused, source=source)
        return _defer_refused(call, refused)
    try:
        routed = routing.place(call, retry_transient=retry_transient)
    except routing.ClaimLost:
        return Call.objects.get(pk=call.pk)  # the placement that superseded ours owns the row
    except routing.RoutingFailed as failed:
        exc = failed.error
        definitely_not_placed = failed.all_transient or exc.http_status is not None or exc.code in (
            "connect_error", "rate_limited")
        if retry_transient and not exc.permanent and definitely_not_placed:
            delay = exc.retry_after or 30
            Call.objects.filter(pk=call.pk).update(
                dial_claimed_at=None, scheduled_at=timezone.now() + timedelta(seconds=delay),
                provider_reason=exc.message[:500])
            record_event(call, source=EventSource.SYSTEM, kind=CallEvent.Kind.NOTE,
                         note=f"provider unavailable ({exc.code}); retrying in {int(delay)}s")
            return Call.objects.get(pk=call.pk)
        return apply_status(call, CallStatus.FAILED, source=source, reason=exc.message,
                            fields={"error_code": exc.code, "error_message": exc.message}).call
    # The provider has the call now: losing its id would leave a live call we can never follow, so
    # this write survives a dropped database connection (reconnect and try again). The id and the
    # "accepted" timeline line commit together, so a worker killed here leaves both or neither.
    placement, adapter = routed.placement, routed.adapter
    report = placement.report
    queued_report = report if report is not None and report.status == CallStatus.QUEUED else None
    queued_at_provider = queued_report is not None

    now = timezone.now()
    update = dict(provider_call_id=placement.provider_call_id, provider_job_id=placement.provider_job_id,
                  next_sync_at=now + timedelta(seconds=adapter.next_poll_delay(call)), updated_at=now,
                  routing=routed.routing)
    if queued_report is not None:
        update["provider_status"] = queued_report.raw_status[:100]
        # A queued answer changes no status, but its billing words (CallingBox reserves credits
        # now) are what the call object shows until the next report.
        update.update({k: v for k, v in queued_report.fields.items() if k in BILLING_FIELDS and v is not None})

    def record_placement() -> bool:
        with transaction.atomic():
            # Conditional on the claim this process took: if it was given up as interrupted and
            # the call placed again meanwhile, this late answer must not overwrite that one.
            if not Call.objects.filter(pk=call.pk, dial_claimed_at=call.dial_claimed_at).update(**update):
                log.error("call %s: placement answered after its claim was given up; %s call %s is a second "
                          "dial", call.pk, call.provider, placement.provider_call_id)
                return False
            if queued_report is not None:
                # Accepted but still queued at the provider: not a status change, but worth a line
                # on the timeline (with the provider's words) rather than a muted "duplicate".
                CallEvent.objects.create(call=call, source=source, kind=CallEvent.Kind.NOTE, from_status=call.status,
                                         raw_status=queued_report.raw_status[:100],
                                         note="accepted by the provider", payload=queued_report.payload)
        return True

    if not _retry_on_disconnect(record_placement):
        return Call.objects.get(pk=call.pk)  # the row belongs to the placement that superseded ours
    for name, value in update.items():
        setattr(call, name, value)  # the row as written, so callers need not read it back
    if queued_at_provider:
        return call
    if report is not None:
        return apply_report(call, report, source=source).call
    return apply_status(call, CallStatus.INITIATED, source=source, note="handed to provider").call


def reconcile_placement(call_id: int) -> str:
    """A call claimed for dialing long enough ago that its placement must have ended, yet with no
    provider id: the worker placing it died mid-request. Ask the provider whether the call reached
    it: adopt the provider's call if so; if it certainly did not, release the claim so the call is
    placed again; if a provider that can look calls up cannot tell, fail it without dialing (one that
    cannot look calls up leaves it to the stale check). Every write is
    conditional on the claim still being the one found here, so a concurrent reconcile or a late
    placement cannot make it dial twice."""
    call = (Call.objects.select_related("agent", "provider_account", "organization")
            .filter(pk=call_id, status=CallStatus.QUEUED, provider_call_id="", dial_claimed_at__isnull=False).first())
    if call is None:
        return "settled"
    claim = call.dial_claimed_at
    adapter = adapter_for(call.provider_account)
    try:
        found = adapter.find_placement(call, since=claim)
    except PlacementUnknown as exc:
        if not adapter.finds_placements:
            log.warning("call %s: interrupted placement cannot be checked: %s", call.pk, exc)
            return "unknown"
        return _fail_unverified_placement(call, claim, str(exc))
    except ProviderError as exc:
        log.info("call %s: could not look up the interrupted placement (%s); trying later", call.pk, exc.code)
        return "error"
    if found is None:
        if call.scheduled_at is None and call.batch_id is None:
            # Placed inline for an API or dashboard request that never got its answer: the caller
            # saw an error and may have tried again, so this one is not dialed behind their back.
            try:
                apply_status(call, CallStatus.FAILED, source=EventSource.SYSTEM,
                             reason="the placement was interrupted before it reached the provider",
                             fields={"error_code": "placement_interrupted",
                                     "error_message": "the request placing this call was interrupted before the "
                                                      "provider received it; the call was not dialed"},
                             allowed_from=frozenset({CallStatus.QUEUED}))
            except CallActionError:
                return "settled"
            _settle_routing(call, "placement_interrupted", error_code="not_received")
            return "failed"
        # Placed again on the agent it was being placed on (the one the row names), from there on
        # along that agent's chain.
        released = Call.objects.filter(pk=call.pk, dial_claimed_at=claim, provider_call_id="",
                                       status=CallStatus.QUEUED).update(
            dial_claimed_at=None, scheduled_at=timezone.now(),
            routing=routing.settle_interrupted(call.routing, "interrupted", error_code="not_received"))
        if not released:
            return "settled"
        record_event(call, source=EventSource.SYSTEM, kind=CallEvent.Kind.NOTE,
                     note="placement was interrupted before it reached the provider; placing it again")
        # Not at the top: callops.calls.jobs imports this module (cycle calls.jobs -> calls.services).
        from .jobs import enqueue_placements

        enqueue_placements([call.pk])
        return "replaced"
    report = found.report
    with transaction.atomic():
        adopted = Call.objects.filter(pk=call.pk, dial_claimed_at=claim, provider_call_id="").update(
            provider_call_id=found.provider_call_id, provider_job_id=found.provider_job_id,
            next_sync_at=timezone.now(), updated_at=timezone.now(),
            routing=routing.settle_interrupted(call.routing, "placed",
                                               note="found at the provider after an interrupted placement"))
        if not adopted:
            return "settled"
        CallEvent.objects.create(call=call, source=EventSource.SYSTEM, kind=CallEvent.Kind.NOTE,
                                 from_status=call.status, raw_status=(report.raw_status if report else "")[:100],
                                 note="accepted by the provider (found after an interrupted placement)",
                                 payload=report.payload if report else None)
    call.provider_call_id = found.provider_call_id
    if report is not None and report.status != CallStatus.QUEUED:
        apply_report(call, report, source=EventSource.POLL)
    return "adopted"


def _fail_unverified_placement(call: Call, claim: datetime | None, why: str) -> str:
    """An interrupted placement the provider's list could neither show nor rule out (an account
    that does not echo callops' id, a list that ends early): the provider may have dialed it, so
    placing it again could ring the person twice. Whatever its origin (API, schedule, batch,
    retry), it fails `placement_interrupted` now, undialed by callops, with the reason on the
    timeline, rather than sitting queued until the stale check."""
    with transaction.atomic():
        # Under the row lock and on the claim found: a placement answer recorded meanwhile wins.
        if not Call.objects.select_for_update().filter(pk=call.pk, dial_claimed_at=claim, provider_call_id="",
                                                       status=CallStatus.QUEUED).exists():
            return "settled"
        message = (f"the request placing this call was interrupted and {call.provider} could not show whether it "
                   f"received it ({why}); callops did not dial it again: check the provider's console")
        try:
            apply_status(call, CallStatus.FAILED, source=EventSource.SYSTEM, reason=message[:500],
                         note="placement interrupted; the provider may have the call, so it is not placed again",
                         fields={"error_code": "placement_interrupted", "error_message": message[:500]},
                         allowed_from=frozenset({CallStatus.QUEUED}))
        except CallActionError:
            return "settled"
        _settle_routing(call, "placement_interrupted", error_code="unverified")
    return "unverified"


def _settle_routing(call: Call, outcome: str, *, error_code: str) -> None:
    """The `sending` routing entry a dead worker left, settled as `outcome` once the call failed."""
    Call.objects.filter(pk=call.pk).update(
        routing=routing.settle_interrupted(call.routing, outcome, error_code=error_code))


def _retry_on_disconnect[T](write: Callable[[], T], attempts: int = 5) -> T | None:
    """Run `write`, reconnecting and retrying when the database connection was lost under it."""
    for attempt in range(attempts):
        try:
            return write()
        except (OperationalError, InterfaceError):
            if attempt == attempts - 1 or connection.in_atomic_block:
                raise
            connection.close()  # the next query opens a fresh connection
            time.sleep(0.2 * (attempt + 1))
    return None  # only when attempts < 1


def _admission(call: Call) -> CallRefused | None:
    """The calling rules' answer for dialing this call now (gate.admit): None when it may go."""
    try:
        with transaction.atomic():
            gate.admit(call.organization, call.to_number, call_public_id=call.public_id,
                       fallback_zone=call.batch.default_timezone if call.batch is not None else None)
    except CallRefused as exc:
        return exc
    return None


def _defer_refused(call: Call, refused: CallRefused) -> Call:
    """Give back the dial claim of a call a cap or the calling hours hold back, due again when
    the rule allows it (the scheduled-call sweep places it then)."""
    assert refused.retry_at is not None
    when = refused.retry_at
    Call.objects.filter(pk=call.pk, status=CallStatus.QUEUED, dial_claimed_at=call.dial_claimed_at).update(
        dial_claimed_at=None, scheduled_at=when, updated_at=timezone.now())
    record_event(call, source=EventSource.SYSTEM, kind=CallEvent.Kind.NOTE,
                 note=f"deferred to {when.isoformat()}: {refused.message}")
    audit(call.organization, "call.deferred", target=str(call.public_id),
          detail={"code": refused.code, "to_number": call.to_number, "message": refused.message,
                  "retry_at": when.isoformat()})
    return Call.objects.get(pk=call.pk)


def cancel_refused(call: Call, refused: CallRefused, *, source: str) -> Call:
    """Cancel a claimed, never-dialed call that a calling rule refuses, with the rule's code."""
    audit(call.organization, "call.refused", target=str(call.public_id),
          detail={"code": refused.code, "to_number": call.to_number, "message": refused.message})
    return apply_status(call, CallStatus.CANCELED, source=source, reason=refused.message,
                        note=f"not dialed: {refused.message}", allowed_from=NOT_ANSWERED,
                        fields={"error_code": refused.code, "error_message": refused.message[:500]}).call


def cancel_call(call: Call, *, source: str, actor_label: str = "") -> Call:
    """Cancel a call nobody has answered yet; CallActionError when it is too late."""
    call.refresh_from_db()
    if not call.can_cancel:
        raise CallActionError(f"call {call.public_id} is {call.status} and can no longer be canceled")
    by = f" by {actor_label}" if actor_label else ""
    if claim_for_dialing(call):
        # Never handed to the provider: the claim guarantees nobody dials it after this.
        return apply_status(call, CallStatus.CANCELED, source=source, note=f"canceled before dialing{by}",
                            allowed_from=NOT_ANSWERED).call
    adapter = adapter_for(call.provider_account)
    try:
        report = adapter.cancel_call(call)
    except ProviderError as exc:
        raise CallActionError(f"the provider could not cancel call {call.public_id}: {exc.message}") from exc
    try:
        transition = apply_status(call, CallStatus.CANCELED, source=source, note=f"canceled{by}",
                                  raw_status=report.raw_status if report else "",
                                  payload=report.payload if report else None, allowed_from=NOT_ANSWERED)
    except CallActionError:
        # Answered between our check and the provider's reply: a live person is on the line.
        raise CallActionError(f"call {call.public_id} was answered and can no longer be canceled") from None
    if not transition.accepted:
        raise CallActionError(f"call {call.public_id} is {transition.call.status} and can no longer be canceled")
    return transition.call


def submit_call(org: Organization, clean: CallInput, *, source: str, outside_hours: str = "schedule",
                actor: Any = None) -> Call:
    """Create a call from validated input and, unless it is scheduled, hand it to the provider now.

    Shared by the API and the dashboard form so both do exactly the same thing. An immediate call
    is created holding its dial claim: if this process dies before the provider request, the row
    is never dialed behind the caller's back (who saw an error and may retry); the stale sweep
    fails it instead.

    The calling rules come first (screen_call): a refusal raises CallRefused and writes nothing.
    """
    scheduled = clean.scheduled_at
    # The policy row, read once for the screening and the admission of this one request.
    rules = calling_policy.get(org)
    when = screen_call(org, clean.to_number, scheduled_at=clean.scheduled_at, outside_hours=outside_hours,
                       actor=actor, rules=rules)
    if when != clean.scheduled_at:
        clean = replace(clean, scheduled_at=when)
    if clean.scheduled_at is not None:
        call = create_call(org=org, source=source, **clean.as_kwargs())
        if when is not None and when != scheduled:
            record_event(call, source=source, kind=CallEvent.Kind.NOTE,
                         note=f"outside the calling hours: scheduled for the window's opening, {when.isoformat()}")
        return call
    try:
        # The call row and its cap record commit together, under the number's lock (gate.admit):
        # two requests at the cap never both get here, and a refused one leaves no row.
        with transaction.atomic():
            call = create_call(org=org, source=source, claim=True, **clean.as_kwargs())
            gate.admit(org, clean.to_number, call_public_id=call.public_id, rules=rules)
    except CallRefused as refused:
        audit_refusal(org, clean.to_number, refused, actor)
        raise
    return _dial(call, source=source, admitted=True)
