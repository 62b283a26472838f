"""A provider-native batch meets the calling rules when its list is uploaded, the last moment
callops can still refuse a number: suppressed numbers are canceled, numbers at a frequency cap or
outside the calling hours are held back and called later by callops' own fan-out."""

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from callops.batches import dispatch, jobs
from callops.batches.models import BatchRecipient, RecipientState
from callops.calls.models import Call, CallStatus
from callops.rules import caps, policy, suppressions
from tests.providers.conftest import _provider_settings  # noqa: F401  (autouse: the emulator tests' settings)

pytestmark = pytest.mark.django_db

SUPPRESSED, CAPPED, FINE = "+14155550101", "+14155550102", "+14155550103"


@pytest.fixture
def provider_batch(make_batch):
    def _make(agent, phones):
        return make_batch(agent, [{"phone": p} for p in phones], mode="provider")

    return _make


def _uploaded(emu) -> list[str]:
    (batch,) = emu.batches.values()
    return [row["contact_number"] for row in batch["rows"]]


def test_suppressed_and_capped_numbers_never_reach_the_provider(personas, provider_batch, clock, emulators,
                                                                make_agent, run_jobs):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    policy.update(personas.org, {"max_calls_per_day": 1})
    batch = provider_batch(agent, [SUPPRESSED, CAPPED, FINE])
    # Both happen after the list was imported, before it is uploaded.
    suppressions.add(personas.org, SUPPRESSED, reason="asked by letter")
    dialed_at = timezone.now() - timedelta(hours=1)
    caps.record(personas.org, CAPPED, uuid.uuid4(), dialed_at)

    jobs.tick_batch(batch.pk)
    run_jobs()  # reserves the list and uploads it

    assert _uploaded(emu) == [FINE]
    refused = Call.objects.get(batch=batch, to_number=SUPPRESSED)
    assert (refused.status, refused.error_code) == (CallStatus.CANCELED, "suppressed")
    assert refused.error_message == "+14155550101 is on the suppression list (asked by letter)"
    assert BatchRecipient.objects.get(batch=batch, phone=SUPPRESSED).state == RecipientState.DONE
    held = Call.objects.get(batch=batch, to_number=CAPPED)
    assert (held.status, held.error_code) == (CallStatus.CANCELED, "frequency_cap")
    assert held.error_message == "+14155550102 has had 1 call in the last 24 hours (cap 1 per 24 h)"
    waiting = BatchRecipient.objects.get(batch=batch, phone=CAPPED)
    assert waiting.state == RecipientState.PENDING and waiting.next_attempt_at == dialed_at + timedelta(hours=24)
    assert Call.objects.get(batch=batch, to_number=FINE).status == CallStatus.INITIATED

    # Once the cap lifts, the fan-out calls the held-back recipient as its next attempt.
    later = dialed_at + timedelta(hours=24, seconds=1)
    clock.advance_to(later)
    done = dispatch.tick(batch.pk, now=later)
    assert done.result["dispatched"] == 1
    assert Call.objects.get(batch=batch, to_number=CAPPED, attempt=2).retry_of == held


def test_numbers_outside_the_calling_hours_wait_for_their_opening(personas, provider_batch, clock, emulators,
                                                                 make_agent, run_jobs):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    # 15:00 UTC: 11:00 in New York, 08:00 in San Francisco.
    assert timezone.now() == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    policy.update(personas.org, {"hours_start": time(9), "hours_end": time(20)})
    new_york = "+12125550100"
    batch = provider_batch(agent, [new_york, FINE])
    jobs.tick_batch(batch.pk)
    run_jobs()
    assert _uploaded(emu) == [new_york]
    held = Call.objects.get(batch=batch, to_number=FINE)
    assert (held.status, held.error_code) == (CallStatus.CANCELED, "outside_hours")
    waiting = BatchRecipient.objects.get(batch=batch, phone=FINE)
    assert waiting.state == RecipientState.PENDING
    assert waiting.next_attempt_at == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # 09:00 PDT
