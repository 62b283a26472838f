"""Every status in each provider's mapping table, read by a status poll over HTTP from its
emulator, lands on the right canonical status, with the raw words kept and the poll on the
timeline."""

from __future__ import annotations

import time

import pytest

from callops.calls import services as call_services
from callops.calls.models import Call, CallEvent, EventSource
from callops.calls.status_sync import sync_call
from callops.providers.emulators.core import Outcome
from callops.providers.registry import adapter_for
from tests.helpers import current_clock

from .conftest import EMU_SPEED, new_call, place

pytestmark = pytest.mark.usefixtures("clock")  # emulator time moves only when the test moves it

NUMBER = "+14155550123"

CALLINGBOX = [(s, s) for s in ("queued", "initiated", "ringing", "in_progress", "completed", "no_answer", "busy",
                               "canceled", "failed")]
BOLNA = [("scheduled", "queued"), ("queued", "queued"), ("rescheduled", "queued"), ("initiated", "initiated"),
         ("ringing", "ringing"), ("in-progress", "in_progress"), ("call-disconnected", "in_progress"),
         ("completed", "completed"), ("no-answer", "no_answer"), ("busy", "busy"), ("canceled", "canceled"),
         ("stopped", "canceled"), ("failed", "failed"), ("error", "failed"), ("balance-low", "failed"),
         ("balance_low", "failed")]  # the older docs' spelling
POLYAI = [("queued", "queued"), ("QUEUED", "queued"), ("CREATED", "queued"), ("calling", "initiated"),
          ("CALLING", "initiated"), ("success", "completed"), ("SUCCESS", "completed"), ("failure", "failed"),
          ("FAILURE", "failed"), ("ringing", "ringing"), ("in-progress", "in_progress"), ("completed", "completed"),
          ("no-answer", "no_answer"), ("busy", "busy"), ("failed", "failed"), ("cancelled", "canceled")]
TRILLET_HISTORY = [("active", "in_progress"), ("ongoing", "in_progress"), ("in-progress", "in_progress"),
                   ("completed", "completed"), ("failed", "failed")]
# Batch jobs: (emulator state, the job word Trillet shows, canonical)
TRILLET_JOBS = [("queued", "waiting", "queued"), ("active", "active", "in_progress"),
                ("completed", "completed", "completed"), ("failed", "failed", "failed")]
# Dograh has no status field: (script step, expected raw, canonical)
# The run read has no `state` (api/routes/workflow.py): before a telephony callback it is queued.
DOGRAH = [("init", "initialized", "queued"),
          ("cb:initiated", "callback:initiated", "initiated"),
          ("cb:ringing", "callback:ringing", "ringing"), ("cb:in-progress", "callback:in-progress", "in_progress"),
          ("cb:answered", "callback:answered", "in_progress"),
          ("done:user_hangup", "completed:user_hangup", "completed"),
          ("done:call_transferred", "completed:call_transferred", "completed"),
          ("done:call_duration_exceeded", "completed:call_duration_exceeded", "completed"),
          ("done:appointment_booked", "completed:appointment_booked", "completed"),
          ("done:voicemail_detected", "completed:voicemail_detected", "no_answer"),
          ("done:no-answer", "completed:no-answer", "no_answer"), ("done:busy", "completed:busy", "busy"),
          ("done:canceled", "completed:canceled", "canceled"), ("done:failed", "completed:failed", "failed"),
          ("done:error", "completed:error", "failed")]

# Every provider's create answer says "accepted" (queued); the scripted word shows up one
# provider second later, so the poll, not the create, is what maps it.
LATER = 1.0


def _poll(kind, raw, canonical, emulators, make_agent, shown=None, **emu_kw):
    """Script `raw` (for Dograh: a script step) and poll; `shown` is the raw word callops keeps."""
    shown = shown or raw
    emu = emulators(kind, **emu_kw)
    extra = {} if kind == "dograh" else {"error_message": "boom", "reason": "why", "error": "bad"}
    first = "init" if kind == "dograh" else "queued"
    emu.script(NUMBER, Outcome([(0, first), (LATER, raw)], None, extra))
    call = place(make_agent(kind, emu), NUMBER)
    assert call.status == "queued"
    current_clock().advance(2 * LATER / EMU_SPEED)
    assert sync_call(call.pk) == canonical
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.provider_status) == (canonical, shown)
    if canonical != "queued":
        # the poll's report is on the timeline with the provider's own word
        assert CallEvent.objects.filter(call=call, source=EventSource.POLL, raw_status=shown, status=canonical,
                                        ignored=False).exists()
    return call


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), CALLINGBOX)
def test_callingbox_statuses(raw, canonical, emulators, make_agent):
    _poll("callingbox", raw, canonical, emulators, make_agent)


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), BOLNA)
def test_bolna_statuses(raw, canonical, emulators, make_agent):
    call = _poll("bolna", raw, canonical, emulators, make_agent)
    if raw in ("balance-low", "balance_low"):
        assert call.error_code == "balance_low"
    if canonical == "failed":
        assert call.error_message == "boom"


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), POLYAI)
def test_polyai_statuses(raw, canonical, emulators, make_agent):
    call = _poll("polyai", raw, canonical, emulators, make_agent)
    assert call.provider_call_id.startswith("OUT-")


@pytest.mark.django_db
@pytest.mark.parametrize(("style", "words"), [
    ("upper", [("QUEUED", "queued"), ("CALLING", "initiated"), ("FAILURE", "failed")]),
    ("legacy", [("queued", "queued"), ("in-progress", "in_progress"), ("failed", "failed")]),
    ("v1", [("queued", "queued"), ("calling", "initiated"), ("failure", "failed")]),
])
def test_polyai_spelling_styles(style, words, emulators, make_agent):
    """The emulator speaks one doc version's spelling; the canonical status follows each word."""
    emu = emulators("polyai", status_style=style)
    emu.script(NUMBER, Outcome([(0, "queued"), (10, "calling"), (20, "failure")], "failed", {"reason": "no answer"}))
    call = place(make_agent("polyai", emu), NUMBER)
    seen = []
    for at, (_raw, canonical) in zip((0, 10, 20), words, strict=True):
        current_clock().advance(max(0.0, emu.calls[call.provider_call_id].created + (at + 5) / EMU_SPEED
                                    - time.time()))
        assert sync_call(call.pk) == canonical
        call = Call.objects.get(pk=call.pk)
        seen.append((call.status, call.provider_status))
    assert seen == [(canonical, raw) for raw, canonical in words]
    assert call.error_message == "no answer"


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), TRILLET_HISTORY)
def test_trillet_history_statuses(raw, canonical, emulators, make_agent):
    call = _poll("trillet", raw, canonical, emulators, make_agent)
    if raw == "failed":
        assert call.provider_reason == "bad" and call.error_message == "bad"


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "word", "canonical"), TRILLET_JOBS)
def test_trillet_batch_job_statuses(state, word, canonical, emulators, make_agent):
    emu = emulators("trillet")
    emu.script(NUMBER, Outcome([(0, "queued"), (LATER, state)], None, {"error": "bad"}))
    agent = make_agent("trillet", emu)
    batch_id = adapter_for(agent.provider_account).place_batch("agent_1", [{"phone_number": NUMBER}])
    job = emu.calls[emu.batches[batch_id]["jobs"][0]]
    call = new_call(agent, NUMBER)
    Call.objects.filter(pk=call.pk).update(provider_job_id=f"{batch_id}/{job.job_id}")
    current_clock().advance(2 * LATER / EMU_SPEED)
    assert sync_call(call.pk) == canonical
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.provider_status) == (canonical, word)
    assert call.provider_job_id == f"{batch_id}/{job.job_id}"
    if canonical == "completed":
        assert call.provider_call_id == job.id  # result.callId, not the job id
    if canonical == "failed":
        assert call.error_message == "bad"


@pytest.mark.django_db
def test_trillet_job_waiting_after_dialing_is_not_a_step_back(emulators, make_agent):
    """A job still `waiting` at the provider after callops handed the list over stays initiated."""
    emu = emulators("trillet", speed=1)
    agent = make_agent("trillet", emu)
    batch_id = adapter_for(agent.provider_account).place_batch("agent_1", [{"phone_number": NUMBER}])
    job = emu.calls[emu.batches[batch_id]["jobs"][0]]
    call = new_call(agent, NUMBER)
    Call.objects.filter(pk=call.pk).update(provider_job_id=f"{batch_id}/{job.job_id}")
    call_services.apply_status(call, "initiated", source=EventSource.SYSTEM)
    assert sync_call(call.pk) == "initiated"
    event = CallEvent.objects.filter(call=call, source=EventSource.POLL).get()
    assert (event.raw_status, event.status, event.ignored) == ("waiting", "queued", True)


@pytest.mark.django_db
def test_trillet_batch_cancel_leaves_waiting_jobs_canceled(emulators, make_agent):
    emu = emulators("trillet", speed=1)
    agent = make_agent("trillet", emu)
    adapter = adapter_for(agent.provider_account)
    batch_id = adapter.place_batch("agent_1", [{"phone_number": NUMBER}])
    job = emu.calls[emu.batches[batch_id]["jobs"][0]]
    call = new_call(agent, NUMBER)
    Call.objects.filter(pk=call.pk).update(provider_job_id=f"{batch_id}/{job.job_id}")
    adapter.stop_batch(batch_id)
    assert sync_call(call.pk) == "canceled"
    assert Call.objects.get(pk=call.pk).provider_status == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize(("step", "raw", "canonical"), DOGRAH)
def test_dograh_signals(step, raw, canonical, emulators, make_agent):
    call = _poll("dograh", step, canonical, emulators, make_agent, shown=raw) if step != "init" else None
    if call is None:  # the run as created: nothing later to wait for
        emu = emulators("dograh")
        emu.script(NUMBER, Outcome([(0, "init")], None))
        call = place(make_agent("dograh", emu), NUMBER)
        assert sync_call(call.pk) == canonical
        call = Call.objects.get(pk=call.pk)
        assert (call.status, call.provider_status) == (canonical, raw)
    if step == "done:voicemail_detected":
        assert call.answered_by == "machine"
    if canonical == "failed":
        assert call.error_code == "call_failed"
