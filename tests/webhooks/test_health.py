"""Endpoint health over real HTTP: attempts applied in the order they were made, no stale rows, and
auto-disable only for endpoints that are failing now (with a notice and an email)."""

from datetime import timedelta

from django.utils import timezone

from callops.webhooks import delivery, jobs, services
from callops.webhooks.delivery import request
from callops.webhooks.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint
from tests.conftest import flush_on_commit
from tests.lib.sink import Reply

DAY = timedelta(days=1)


def _set(endpoint, **fields):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)


def test_a_failure_then_a_success_in_one_batch_ends_healthy(personas, endpoint, sink, make_call):
    sink.respond(Reply(status=500), Reply(status=200))
    make_call()
    make_call()
    assert delivery.deliver_due() == 2  # one batch, recorded together
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.last_success_at is not None
    assert endpoint.last_failure_at is not None and endpoint.last_failure_at < endpoint.last_success_at


def test_a_success_then_a_failure_in_one_batch_ends_failing(personas, endpoint, sink, make_call):
    sink.respond(Reply(status=200), Reply(status=500))
    make_call()
    make_call()
    assert delivery.deliver_due() == 2
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.failing_since > endpoint.last_success_at


def test_success_clears_a_failure_recorded_after_the_claim(personas, endpoint, sink, make_call, monkeypatch,
                                                           mailoutbox):
    """Another worker records failures for this endpoint while our batch is in flight: our success
    must see the row as it is then, not as it was at claim time."""
    make_call()
    real_send = request.send

    def send_after_a_concurrent_failure(url, headers, body):
        _set(endpoint, failing_since=timezone.now() - timedelta(hours=2), failing_notified=True)
        return real_send(url, headers, body)

    monkeypatch.setattr(request, "send", send_after_a_concurrent_failure)
    assert delivery.deliver_due() == 1
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and not endpoint.failing_notified
    assert Notification.objects.filter(endpoint=endpoint, kind="recovered").count() == 1
    flush_on_commit()  # notices are emailed once their transaction commits
    assert any("recovered" in m.subject.lower() for m in mailoutbox)


def test_quiet_days_after_one_exhausted_delivery_do_not_disable(personas, endpoint, sink, make_call):
    sink.respond(default=Reply(status=500))
    call = make_call()
    assert delivery.deliver_due() == 1
    d = WebhookDelivery.objects.get(call=call, endpoint=endpoint)
    # It ran out of retries six days ago and nothing has been sent to the endpoint since.
    WebhookDelivery.objects.filter(pk=d.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    _set(endpoint, failing_since=timezone.now() - 6 * DAY, last_failure_at=timezone.now() - 6 * DAY)
    assert jobs.endpoint_health.disable_long_failing() == 0
    jobs.sweep_due_deliveries()
    endpoint.refresh_from_db()
    assert endpoint.enabled
    # The next failure starts a new streak rather than counting the quiet days.
    make_call()
    assert delivery.deliver_due() == 1
    endpoint.refresh_from_db()
    assert endpoint.enabled and timezone.now() - endpoint.failing_since < timedelta(minutes=1)


def test_failing_for_five_days_with_recent_attempts_is_disabled_with_notice_and_email(personas, endpoint, sink,
                                                                                      make_call, mailoutbox):
    sink.respond(default=Reply(status=500))
    make_call()
    assert delivery.deliver_due() == 1  # a failed attempt now
    _set(endpoint, failing_since=timezone.now() - 5 * DAY - timedelta(minutes=1))
    jobs.sweep_due_deliveries()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "no successful delivery for 120 hours" in endpoint.disabled_reason
    notice = Notification.objects.get(endpoint=endpoint, kind="disabled")
    assert "was disabled" in notice.message and endpoint.url in notice.message
    flush_on_commit()
    mail = [m for m in mailoutbox if "disabled" in m.subject]
    assert len(mail) == 1 and set(mail[0].to) == {"owner@acme.test", "admin@acme.test"}
    assert endpoint.url in mail[0].body
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status="skipped").count() == 1  # kept, re-sendable


def test_pending_retries_count_as_still_failing(personas, endpoint, sink, make_call):
    sink.respond(default=Reply(status=500))
    make_call()
    assert delivery.deliver_due() == 1  # its retry is pending
    _set(endpoint, failing_since=timezone.now() - 6 * DAY, last_failure_at=timezone.now() - 2 * DAY)
    assert jobs.endpoint_health.disable_long_failing() == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled


def test_the_failure_that_crosses_five_days_disables_at_once(personas, endpoint, sink, make_call, mailoutbox):
    sink.respond(default=Reply(status=500))
    _set(endpoint, failing_since=timezone.now() - 5 * DAY - timedelta(hours=1),
         last_failure_at=timezone.now() - timedelta(hours=3))
    make_call()
    assert delivery.deliver_due() == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert Notification.objects.filter(endpoint=endpoint, kind="disabled").count() == 1
    flush_on_commit()
    assert any("disabled" in m.subject for m in mailoutbox)


def test_a_success_after_five_failing_days_keeps_it_enabled(personas, endpoint, sink, make_call):
    _set(endpoint, failing_since=timezone.now() - 6 * DAY, last_failure_at=timezone.now() - timedelta(hours=1))
    make_call()
    assert delivery.deliver_due() == 1  # the sink answers 200
    assert jobs.endpoint_health.disable_long_failing() == 0
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None


def test_re_enabling_resets_the_streak(personas, endpoint):
    _set(endpoint, failing_since=timezone.now() - 6 * DAY, last_failure_at=timezone.now())
    services.set_enabled(endpoint, False)
    services.set_enabled(endpoint, True)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None
    assert jobs.endpoint_health.disable_long_failing() == 0


def test_the_org_is_told_when_the_endpoint_turns_failing_not_three_attempts_later(personas, endpoint, sink,
                                                                                   make_call, mailoutbox):
    sink.respond(default=Reply(status=503))
    make_call()
    assert delivery.deliver_due() == 1  # the first attempt of the first delivery fails
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.failing_notified
    notes = list(Notification.objects.filter(endpoint=endpoint).values_list("kind", "message"))
    assert notes == [("failing", f"Deliveries to {endpoint.url} are failing (last error: HTTP 503: ok). Retries "
                                 "continue; the endpoint is disabled after 5 day(s) without a success.")]
    # More failures in the same streak tell nobody again.
    make_call()
    assert delivery.deliver_due() == 1
    assert Notification.objects.filter(endpoint=endpoint, kind="failing").count() == 1
    # A success is a recovery, said once.
    sink.respond(default=Reply(status=204, body=b""))
    make_call()
    assert delivery.deliver_due() == 1
    assert list(Notification.objects.filter(endpoint=endpoint).order_by("id").values_list("kind", flat=True)) == [
        "failing", "recovered"]
