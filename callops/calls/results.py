"""Result extraction for completed calls: starting it, running it, re-running it.

This is the job that extracts a call's result, so it lives with calls; `callops.extraction` is the
library of schemas, parsers and extractors it uses, and never imports calls.

`start` is called by `callops.calls.services.apply_status` inside the transaction that moves a
call with a `returns` schema to `completed` (result_status is already `pending` then). The job
runs the call's extractor, coerces its output to the schema and writes `result`,
`result_status` and `result_error`; then, and only then, `call.completed` goes out, once per
call whatever the number of runs.

Outcomes:
- no conversation: `failed`, every field null, result_error says why, whatever the extractor
  (a provider's extraction of a call nobody spoke on is not a result). That is an empty
  transcript, or one where the callee never spoke; for the provider extractor, whose providers
  often send no transcript at all, a missing transcript counts as no conversation only when
  the provider also reports no talk time (duration 0) or a machine answering. Providers may send
  the transcript or their own extraction shortly after the terminal status, so a run that finds
  nothing to read within EXTRACTION_DETAILS_GRACE_SECONDS of the call's end waits (the sweep
  runs it again at the deadline) instead of failing at once; a call whose provider said its
  details are still coming (a follow-up read is scheduled) is waited for the same way;
- the extractor could not produce anything usable (LLM down or answering non-JSON, provider
  extracted nothing): `failed` with the reason;
- no field could be parsed: `failed`, result_error lists each field and why;
- some fields parsed: `completed` (a partial result is still a result: the parsed fields are
  trustworthy), null for the rest and result_error naming each field that did not parse.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from callops.extraction import evidence
from callops.extraction.clock import call_time, region_for
from callops.extraction.extractors import ExtractionFailed, get
from callops.extraction.extractors.provider import flatten
from callops.extraction.models import ExtractionState
from callops.extraction.schema import SchemaError, coerce, validate_returns
from callops.extraction.transcript import turns
from callops.lib.queue import enqueue

from . import opt_out_detection, signals
from .models import TERMINAL as TERMINAL_STATUSES
from .models import Call, CallEvent, CallStatus, EventSource, ResultStatus
from .services import CallActionError, record_event

log = logging.getLogger(__name__)

# A run still pending this long after it was asked for is assumed lost and enqueued again; longer
# than the slowest run (an LLM call with its retries).
RECHECK_AFTER = timedelta(minutes=5)
# A run waiting for a provider follow-up read looks again this long after the read is due, in
# case the read's wake-up (details_arrived) was lost.
RECHECK_SLACK = timedelta(seconds=30)
DEFAULT_EXTRACTOR = "rules"


def extractor_for(call: Call) -> str:
    """The agent's choice, else the organization's default, else rules."""
    agent_choice = (call.agent.extractor or "").strip() if call.agent_id else ""
    return agent_choice or (call.organization.default_extractor or "").strip() or DEFAULT_EXTRACTOR


def start(call: Call) -> None:
    """Queue the first extraction run (inside the caller's transaction; enqueued on commit)."""
    now = timezone.now()
    _, created = ExtractionState.objects.get_or_create(
        call_id=call.pk, defaults={"requested_runs": 1, "recheck_at": now + RECHECK_AFTER})
    if not created:
        ExtractionState.objects.filter(pk=call.pk).update(requested_runs=F("requested_runs") + 1,
                                                          recheck_at=now + RECHECK_AFTER)
    _enqueue(call.pk, EventSource.SYSTEM)


def _enqueue(call_id: int, source: str) -> None:
    # Not at the top: callops.calls.jobs imports this module (cycle calls.jobs -> calls.results).
    from .jobs import run_extraction_job

    # django-rq defers this until the surrounding transaction commits, so the job never sees
    # the call before its `completed` status is committed.
    enqueue(run_extraction_job, call_id, str(source), queue="default")


def rerun(call: Call, *, source: str, actor_label: str = "") -> Call:
    """Run extraction again (API `POST /v1/calls/{id}/extract`, dashboard button).

    Only completed calls with a `returns` schema; CallActionError otherwise. The previous result
    stays readable until the new run replaces it; `result_status` reads `pending` meanwhile.
    """
    call.refresh_from_db()
    if call.status != CallStatus.COMPLETED:
        raise CallActionError(f"call {call.public_id} is {call.status}; extraction runs only for completed calls")
    if not call.returns:
        raise CallActionError(f"call {call.public_id} has no returns schema to extract")
    now = timezone.now()
    by = f" by {actor_label}" if actor_label else ""
    with transaction.atomic():
        Call.objects.filter(pk=call.pk).update(result_status=ResultStatus.PENDING, updated_at=now)
        _, created = ExtractionState.objects.select_for_update().get_or_create(
            call_id=call.pk, defaults={"requested_runs": 1, "recheck_at": now + RECHECK_AFTER})
        if not created:
            ExtractionState.objects.filter(pk=call.pk).update(requested_runs=F("requested_runs") + 1,
                                                              recheck_at=now + RECHECK_AFTER)
        call.result_status = ResultStatus.PENDING
        run = ExtractionState.objects.filter(pk=call.pk).values_list("requested_runs", flat=True).first()
        record_event(call, source=source, kind=CallEvent.Kind.EXTRACTION,
                     note=f"extraction run {run} requested{by}", payload={"run": run})
        _enqueue(call.pk, source)
    call.refresh_from_db()
    return call


def no_conversation(call: Call, kind: str) -> str:
    """Why the call had no conversation to extract from ("" when it had one)."""
    conversation = turns(call.transcript)
    if conversation:
        if not any(role == "user" for role, _ in conversation):
            return "the call ended before any conversation (the callee never spoke)"
        return ""
    if kind != "provider":
        return "empty transcript: nothing to extract"
    # The provider extractor reads the provider's own extraction, and many providers send no
    # transcript: then its call facts decide.
    if call.answered_by == "machine":
        return "the call ended before any conversation (a machine answered)"
    if not call.duration_seconds:
        return "empty transcript and no talk time: the call ended before any conversation"
    return ""


def _compute(call: Call, schema: dict, kind: str) -> tuple[str, dict, str, dict, dict | None]:
    """(result_status, result, result_error, details, evidence) for one run; no database writes."""
    nulls = {name: None for name in schema}
    why = no_conversation(call, kind)
    if why:
        return ResultStatus.FAILED, nulls, why, {}, None
    when, region = call_time(call), region_for(call)
    try:
        extractor = get(kind)
        if hasattr(extractor, "extract_with_evidence"):
            raw, found = extractor.extract_with_evidence(call, schema)
        else:
            raw, found = extractor.extract(call, schema), None
    except ExtractionFailed as exc:
        return ResultStatus.FAILED, nulls, f"{kind} extractor: {exc}", {}, None
    except Exception as exc:  # a bug must not leave the call pending and its webhook unsent forever
        log.exception("call %s: %s extractor crashed", call.public_id, kind)
        return ResultStatus.FAILED, nulls, f"{kind} extractor: internal error ({exc.__class__.__name__})", {}, None
    # A model's answer is held to the schema as written: "12" for an integer or a value outside an
    # enum is refused, not read loosely, so a wrong answer is never stored as if it were right.
    result, errors = coerce(schema, raw, when, region=region, strict=kind == "llm")
    if found is None:
        found = evidence.locate(call.transcript, schema, result, when, region)
    found = evidence.keep(found, result)
    if not errors:
        return ResultStatus.COMPLETED, result, "", {}, found
    listed = "; ".join(f"{name}: {why}" for name, why in errors.items())
    if len(errors) == len(schema):
        return ResultStatus.FAILED, result, f"no return field could be extracted ({listed})", errors, found
    return ResultStatus.COMPLETED, result, f"partial result, {len(errors)} of {len(schema)} fields null ({listed})", \
        errors, found


def _details_due(call: Call, kind: str):
    """When the missing transcript / provider data may still arrive, that deadline; else None."""
    if kind == "provider" and call.next_sync_at is not None and call.status in TERMINAL_STATUSES:
        # The provider said its details are still coming and a follow-up read is scheduled
        # (bounded by calls.status_sync.DETAILS_FOLLOW_SECONDS); it wakes this run when it is done.
        return max(call.next_sync_at, timezone.now()) + RECHECK_SLACK
    grace = float(getattr(settings, "EXTRACTION_DETAILS_GRACE_SECONDS", 0) or 0)
    if grace <= 0 or call.ended_at is None:
        return None
    deadline = call.ended_at + timedelta(seconds=grace)
    if timezone.now() >= deadline:
        return None
    if kind == "provider":
        missing = not flatten(call.provider_result)
    else:
        missing = not any(role == "user" for role, _ in turns(call.transcript))
    return deadline if missing else None


def run_extraction(call_id: int, source: str = EventSource.SYSTEM) -> Call | None:
    """Run extraction for a call whose result is pending; a no-op otherwise (duplicate jobs)."""
    call = Call.objects.select_related("agent", "organization").filter(pk=call_id).first()
    if call is None or call.status != CallStatus.COMPLETED or call.result_status != ResultStatus.PENDING:
        return call
    # The request this run serves; a re-run asked for while we work makes this run stale.
    generation = ExtractionState.objects.get_or_create(call_id=call_id)[0].requested_runs
    kind = extractor_for(call)
    wait_until = _details_due(call, kind)
    if wait_until is not None:
        # Nothing to read yet, but the provider may still send it: the sweep runs us again then.
        ExtractionState.objects.filter(pk=call_id).update(recheck_at=wait_until)
        return call
    try:
        schema = validate_returns(call.returns)
    except SchemaError as exc:
        # Stored before validation existed, or edited by hand: say so instead of guessing.
        schema = {}
        outcome: tuple[str, dict | None, str, dict, dict | None] = (
            ResultStatus.FAILED, None, f"invalid returns schema: {exc.message}", {}, None)
    else:
        outcome = _compute(call, schema, kind)
    status, result, error, field_errors, found = outcome
    now = timezone.now()
    with transaction.atomic():
        # Lock the call row only (a join would lock the agent and organization rows too on PostgreSQL).
        locked = Call.objects.select_for_update().get(pk=call_id)
        if locked.result_status != ResultStatus.PENDING:
            return locked  # a concurrent run of the same request finished first
        state = ExtractionState.objects.select_for_update().get(pk=call_id)
        if state.requested_runs != generation:
            # Re-run requested meanwhile (perhaps with another extractor): its own job writes.
            return locked
        Call.objects.filter(pk=call_id).update(result=result, result_status=status, result_error=error,
                                               result_evidence=found, updated_at=now)
        locked.result, locked.result_status, locked.result_error, locked.updated_at = result, status, error, now
        locked.result_evidence = found
        ExtractionState.objects.filter(pk=call_id).update(
            finished_runs=F("finished_runs") + 1, last_extractor=kind, last_finished_at=now, recheck_at=None)
        parsed = sum(1 for v in (result or {}).values() if v is not None)
        note = f"extraction {status} by {kind}: {parsed} of {len(schema)} fields"
        if error:
            note += f" ({error})"
        record_event(locked, source=source, kind=CallEvent.Kind.EXTRACTION, note=note,
                     payload={"extractor": kind, "result_status": status, "errors": field_errors or None,
                              "result_error": error or None})
        # Exactly one terminal event per call: only the first finished run emits it.
        first = ExtractionState.objects.filter(pk=call_id, completed_event_emitted=False).update(
            completed_event_emitted=True)
        if first:
            signals.announce(locked, "call.completed")
    # The transcript is final here (the run waited for a late one), so read it for an opt-out.
    opt_out_detection.detect(locked, source=source)
    log.info("call %s: extraction %s by %s", locked.public_id, status, kind)
    return locked


def details_arrived(call_id: int) -> bool:
    """Provider details a waiting run may need have arrived (or will not): run it now.

    Called by provider sync when a late callback or a follow-up read filled the transcript or the
    provider's extraction in, or when it stopped waiting for them. A no-op unless the call's
    result is pending; a duplicate run is a no-op too (run_extraction checks).
    """
    if not Call.objects.filter(pk=call_id, status=CallStatus.COMPLETED, result_status=ResultStatus.PENDING).exists():
        return False
    ExtractionState.objects.filter(pk=call_id).update(recheck_at=timezone.now() + RECHECK_AFTER)
    _enqueue(call_id, EventSource.SYSTEM)
    return True


def requeue_lost_runs(limit: int = 200) -> int:
    """Re-enqueue runs whose job seems lost (still pending past their recheck time)."""
    now = timezone.now()
    due = list(ExtractionState.objects.filter(recheck_at__lte=now).values_list("call_id", flat=True)[:limit])
    count = 0
    for call_id in due:
        moved = ExtractionState.objects.filter(pk=call_id, recheck_at__lte=now).update(
            recheck_at=now + RECHECK_AFTER)
        if not moved:
            continue
        pending = Call.objects.filter(pk=call_id, status=CallStatus.COMPLETED,
                                      result_status=ResultStatus.PENDING).exists()
        if pending:
            _enqueue(call_id, EventSource.SYSTEM)
            count += 1
        else:
            ExtractionState.objects.filter(pk=call_id).update(recheck_at=None)
    return count
