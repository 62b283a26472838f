"""The sandbox provider: every test number's outcome through placement, the sweeps and the
real poll job on an RQ worker."""

from __future__ import annotations

import pytest

from callops.calls import services as call_services
from callops.calls.models import Call, CallEvent, EventSource
from callops.providers.sandbox import OUTCOMES, TEST_NUMBERS

from .conftest import new_call, submit

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED = {
    "+12025550100": ("completed", "", "human"),
    "+12025550101": ("no_answer", "", ""),
    "+12025550102": ("busy", "", ""),
    "+12025550103": ("failed", "invalid_number", ""),
    "+12025550104": ("no_answer", "", "machine"),
    "+12025550105": ("failed", "balance_low", ""),
    "+12025550106": ("completed", "", "human"),
    "+12025550108": ("failed", "telephony_error", "human"),
    "+13125550199": ("completed", "", "human"),  # not in the table
}


def test_table_is_covered():
    # hangs and refused (tests/api/test_calls_api.py) have their own tests.
    assert set(TEST_NUMBERS) - set(EXPECTED) == {"+12025550107", "+12025550109"}
    assert set(TEST_NUMBERS.values()) == set(OUTCOMES)


def test_every_test_number_through_the_poll_job(sandbox_agent, drive, settings):
    # One number is a 10-minute conversation: at speed 1 that is 300 status reads (rounds), at 200
    # a handful. The walk itself is checked at speed 1 below.
    settings.SANDBOX_SPEED = 200
    calls = {number: submit(sandbox_agent, number) for number in EXPECTED}
    assert drive([c.pk for c in calls.values()])
    for number, (status, error_code, answered_by) in EXPECTED.items():
        call = Call.objects.get(pk=calls[number].pk)
        assert (call.status, call.error_code, call.answered_by) == (status, error_code, answered_by), number
        assert call.provider_call_id.startswith("sbx-")
        polls = CallEvent.objects.filter(call=call, source="poll", ignored=False)
        assert polls.filter(status=status).exists(), number
        if status == "completed":
            assert call.transcript and {t["role"] for t in call.transcript} <= {"agent", "user"}
            assert call.duration_seconds > 0


def test_status_walk_is_realistic(sandbox_agent, drive, settings):
    settings.SANDBOX_SPEED = settings.PROVIDER_SYNC_SPEED = 1
    call = submit(sandbox_agent, "+12025550100")
    assert drive([call.pk])
    events = CallEvent.objects.filter(call=call, kind="status", ignored=False)
    walk = list(events.values_list("status", flat=True))
    assert walk[0] == "queued" and walk[-1] == "completed" and "in_progress" in walk
    assert walk == sorted(walk, key=["queued", "initiated", "ringing", "in_progress", "completed"].index)
    raw = list(events.filter(source="poll").values_list("raw_status", flat=True))
    assert raw[-1] == "completed" and "answered" in raw


def test_hanging_call_is_reconciled_then_failed_stale(sandbox_agent, drive, settings):
    settings.SANDBOX_SPEED = 2000  # 30 sandbox minutes in a few rounds of the test clock
    call = submit(sandbox_agent, "+12025550107")
    assert drive([call.pk])
    call = Call.objects.get(pk=call.pk)
    assert call.status == "failed" and call.error_code == "stale" and call.answered_at is not None


def test_cancel_before_answer_and_too_late_after(sandbox_agent, settings, clock):
    from callops.calls.status_sync import sync_call

    settings.SANDBOX_SPEED = 1
    call = call_services.place_call(new_call(sandbox_agent, "+12025550100"), source=EventSource.API)
    assert call_services.cancel_call(call, source=EventSource.API).status == "canceled"
    late = call_services.place_call(new_call(sandbox_agent, "+12025550100"), source=EventSource.API)
    clock.advance(120)  # the sandbox's completed call is over by then
    sync_call(late.pk)
    assert Call.objects.get(pk=late.pk).status == "completed"
    with pytest.raises(call_services.CallActionError):
        call_services.cancel_call(Call.objects.get(pk=late.pk), source=EventSource.API)
