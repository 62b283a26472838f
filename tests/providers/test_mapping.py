"""Every status in each provider's mapping table, read over HTTP from its emulator, lands on
the right canonical status with the raw words kept."""

from __future__ import annotations

import pytest

from callops.calls.models import Call
from callops.providers.emulators.core import Outcome
from callops.providers.sync import sync_call

from .conftest import place

NUMBER = "+14155550123"

CALLINGBOX = [(s, s) for s in ("queued", "initiated", "ringing", "in_progress", "completed", "no_answer", "busy",
                               "canceled", "failed")]
BOLNA = [("scheduled", "queued"), ("queued", "queued"), ("rescheduled", "queued"), ("initiated", "initiated"),
         ("ringing", "ringing"), ("in-progress", "in_progress"), ("call-disconnected", "in_progress"),
         ("completed", "completed"), ("no-answer", "no_answer"), ("busy", "busy"), ("canceled", "canceled"),
         ("stopped", "canceled"), ("failed", "failed"), ("error", "failed"), ("balance-low", "failed")]
POLYAI = [("queued", "queued"), ("QUEUED", "queued"), ("CREATED", "queued"), ("calling", "initiated"),
          ("CALLING", "initiated"), ("success", "completed"), ("SUCCESS", "completed"), ("failure", "failed"),
          ("FAILURE", "failed"), ("ringing", "ringing"), ("in-progress", "in_progress"), ("completed", "completed"),
          ("no-answer", "no_answer"), ("busy", "busy"), ("failed", "failed"), ("cancelled", "canceled")]
TRILLET = [("active", "in_progress"), ("ongoing", "in_progress"), ("in-progress", "in_progress"),
           ("completed", "completed"), ("failed", "failed")]
# Dograh has no status field: (script step, expected raw, canonical)
DOGRAH = [("init", "state:initialized", "queued"), ("cb:initiated", "callback:initiated", "initiated"),
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


def _poll(kind, raw, emulators, make_agent, **emu_kw):
    emu = emulators(kind, **emu_kw)
    extra = {} if kind == "dograh" else {"error_message": "boom", "reason": "why", "error": "bad"}
    emu.script(NUMBER, Outcome([(0, raw)], None, extra))
    call = place(make_agent(kind, emu), NUMBER)
    assert sync_call(call.pk) not in ("not_placed",)
    return Call.objects.get(pk=call.pk), emu


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), CALLINGBOX)
def test_callingbox_statuses(raw, canonical, emulators, make_agent):
    call, _ = _poll("callingbox", raw, emulators, make_agent)
    assert (call.status, call.provider_status) == (canonical, raw)


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), BOLNA)
def test_bolna_statuses(raw, canonical, emulators, make_agent):
    call, _ = _poll("bolna", raw, emulators, make_agent)
    assert (call.status, call.provider_status) == (canonical, raw)
    if raw == "balance-low":
        assert call.error_code == "balance_low"
    if canonical == "failed":
        assert call.error_message == "boom"


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), POLYAI)
def test_polyai_statuses(raw, canonical, emulators, make_agent):
    call, _ = _poll("polyai", raw, emulators, make_agent)
    assert (call.status, call.provider_status) == (canonical, raw)
    assert call.provider_call_id.startswith("OUT-")


@pytest.mark.django_db
def test_polyai_uppercase_style(emulators, make_agent):
    emu = emulators("polyai", status_style="upper")
    emu.script(NUMBER, "queue_timeout")
    call = place(make_agent("polyai", emu), NUMBER)
    sync_call(call.pk)
    assert Call.objects.get(pk=call.pk).provider_status == "QUEUED"


@pytest.mark.django_db
@pytest.mark.parametrize(("raw", "canonical"), TRILLET)
def test_trillet_history_statuses(raw, canonical, emulators, make_agent):
    call, _ = _poll("trillet", raw, emulators, make_agent)
    assert (call.status, call.provider_status) == (canonical, raw)
    if raw == "failed":
        assert call.provider_reason == "bad" and call.error_message == "bad"


@pytest.mark.django_db
@pytest.mark.parametrize(("step", "raw", "canonical"), DOGRAH)
def test_dograh_signals(step, raw, canonical, emulators, make_agent):
    call, _ = _poll("dograh", step, emulators, make_agent)
    assert (call.status, call.provider_status) == (canonical, raw)
    if step == "done:voicemail_detected":
        assert call.answered_by == "machine"
    if canonical == "failed":
        assert call.error_code == "call_failed"
