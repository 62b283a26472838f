"""Raw payload retention on call timelines: old payloads blanked to {} in bounded, idempotent
passes; calls, timeline rows and rollups untouched; off by default."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from callops.calls import retention, rollup_reconcile
from callops.calls.models import Call, CallEvent, CallRollup, CallStatus

pytestmark = pytest.mark.django_db

EVENT_FIELDS = ("id", "call_id", "created_at", "kind", "source", "from_status", "status", "raw_status", "reason",
                "ignored", "note")


def backdate_events(call, age):
    CallEvent.objects.filter(call=call).update(created_at=timezone.now() - age)


def snapshot():
    return (list(Call.objects.order_by("pk").values()), list(CallEvent.objects.order_by("pk").values(*EVENT_FIELDS)),
            list(CallRollup.objects.order_by("pk").values()))


def payloads(call):
    return list(CallEvent.objects.filter(call=call, payload__isnull=False).order_by("pk")
                .values_list("payload", flat=True))


def test_off_by_default_keeps_every_payload(clock, make_call):
    assert settings.RAW_PAYLOAD_RETENTION_DAYS == 0
    assert "callops.calls.retention.sweep_old_payloads" in settings.SWEEPS
    call = make_call(CallStatus.COMPLETED)
    backdate_events(call, timedelta(days=3650))
    before = payloads(call)
    assert len(before) == 4 and {} not in before

    assert retention.sweep_old_payloads(now=timezone.now()) == 0
    assert payloads(call) == before


def test_old_payloads_blanked_new_kept_calls_timelines_and_rollups_untouched(clock, settings, make_call):
    settings.RAW_PAYLOAD_RETENTION_DAYS = 30
    old, recent = make_call(CallStatus.COMPLETED), make_call(CallStatus.FAILED, to="+14155550124")
    backdate_events(old, timedelta(days=30, seconds=1))
    backdate_events(recent, timedelta(days=30) - timedelta(seconds=1))
    recent_payloads = payloads(recent)
    calls, events, rollups = snapshot()

    assert retention.sweep_old_payloads(now=timezone.now()) == 4
    assert payloads(old) == [{}, {}, {}, {}]
    assert payloads(recent) == recent_payloads == [{"status": "raw-initiated", "id": "prov-1"},
                                                   {"status": "raw-failed", "id": "prov-1"}]
    # Events without a payload stay without one (None, not {}).
    assert CallEvent.objects.filter(call=old, payload__isnull=True).count() == 1
    assert snapshot() == (calls, events, rollups)
    assert rollup_reconcile.check() == []

    # Idempotent: a second pass finds nothing; later the recent call's payloads go too.
    assert retention.sweep_old_payloads(now=timezone.now()) == 0
    assert retention.sweep_old_payloads(now=timezone.now() + timedelta(seconds=2)) == 2
    assert payloads(recent) == [{}, {}]
    assert snapshot() == (calls, events, rollups)


def test_a_pass_blanks_at_most_limit_rows_oldest_first(clock, settings, make_call):
    settings.RAW_PAYLOAD_RETENTION_DAYS = 1
    call = make_call(CallStatus.COMPLETED)
    ids = list(CallEvent.objects.filter(call=call, payload__isnull=False).order_by("pk").values_list("pk", flat=True))
    for n, pk in enumerate(ids):  # the last event is the oldest, so age order is not id order
        CallEvent.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(days=2, hours=n))

    def blanked():
        return [pk for pk in ids if CallEvent.objects.get(pk=pk).payload == {}]

    assert retention.sweep_old_payloads(limit=3, now=timezone.now()) == 3
    assert blanked() == ids[1:]
    assert retention.sweep_old_payloads(limit=3, now=timezone.now()) == 1
    assert blanked() == ids
    assert retention.sweep_old_payloads(limit=3, now=timezone.now()) == 0


def test_call_page_says_a_blanked_payload_was_removed(clock, settings, personas, make_call):
    settings.RAW_PAYLOAD_RETENTION_DAYS = 30
    old, recent = make_call(CallStatus.COMPLETED), make_call(CallStatus.FAILED, to="+14155550124")
    backdate_events(old, timedelta(days=31))
    retention.sweep_old_payloads(now=timezone.now())
    client = personas.viewer.client()

    old_event = CallEvent.objects.filter(call=old, payload__isnull=False).first()
    page = client.get(reverse("dashboard:call_payload", args=[old.public_id, old_event.id])).content.decode()
    assert '<p class="muted" data-testid="payload-removed">Removed after 30 days (retention).</p>' in page
    assert "<pre" not in page

    recent_event = CallEvent.objects.filter(call=recent, payload__isnull=False).first()
    page = client.get(reverse("dashboard:call_payload", args=[recent.public_id, recent_event.id])).content.decode()
    assert "Removed after" not in page and "raw-initiated" in page


def test_a_sweeper_pass_blanks_old_payloads_and_attempt_bodies(clock, settings, make_call, failing_delivery):
    from django.utils.module_loading import import_string

    from callops.calls.management.commands.runsweeper import Command
    from callops.webhooks.models import WebhookAttempt

    settings.RAW_PAYLOAD_RETENTION_DAYS = 30
    call = make_call(CallStatus.COMPLETED)
    backdate_events(call, timedelta(days=31))
    failing_delivery(ago=timedelta(days=31))

    results = Command().run_pass([(path, import_string(path)) for path in settings.SWEEPS])
    assert results["callops.calls.retention.sweep_old_payloads"] == 4
    assert results["callops.webhooks.retention.sweep_old_attempt_bodies"] == 1
    assert payloads(call) == [{}, {}, {}, {}]
    assert list(WebhookAttempt.objects.values_list("request_body", "response_body")) == [("", "")]
