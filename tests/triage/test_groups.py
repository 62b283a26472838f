"""Failure groups by cause: counts, trend, spread, samples, explanations, and what drops out.

Read through the triage page, whose context carries the groups (callops.triage.groups.build).
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from callops.calls.models import Call, CallStatus, ResultStatus
from callops.triage import explanations

pytestmark = pytest.mark.django_db
URL = reverse("dashboard:triage")
ACTION = reverse("dashboard:triage_action")


def groups_of(client, window="24h"):
    """GET the triage page as `client`: (its groups, its HTML)."""
    r = client.get(URL, {"window": window})
    assert r.status_code == 200
    return r.context["groups"], r.content.decode()


def test_calls_grouped_by_cause_with_trend_and_explanation(personas, failed_call):
    for _ in range(3):
        failed_call("balance_low")
    failed_call("balance_low", ago=timedelta(hours=30))  # the previous 24 h window
    failed_call("invalid_number", to="+12025550103")
    failed_call("", status=CallStatus.NO_ANSWER, hangup="no_answer", to="+12025550101")
    failed_call("", reason="call queueing: max timeout limit exceeded")
    failed_call("balance_low", ago=timedelta(days=3))  # outside both windows

    groups, page = groups_of(personas.viewer.client())
    by_title = {g.cause.title: g for g in groups}
    balance = by_title["Provider out of balance"]
    assert (balance.count, balance.previous, balance.trend) == (3, 1, 2)
    assert balance.providers == [("sandbox", 3)] and balance.agents == [("Sandbox agent", 3)]
    assert len(balance.samples) == 3 and balance.first_seen <= balance.last_seen
    # Samples are read without the agents and named afterwards: each still shows its agent.
    assert [s["agent__name"] for s in balance.samples] == ["Sandbox agent"] * 3
    assert by_title["Invalid number"].count == 1
    assert by_title["Nobody answered"].count == 1
    # No error code: the provider's reason keeps the group apart and is shown.
    assert "call queueing: max timeout limit exceeded" in page
    assert "Top up the wallet" in page and "Suggested fix" in page
    assert "+2" in page  # the trend against the previous window


def test_every_known_cause_has_an_explanation():
    for code in ("invalid_number", "balance_low", "rate_limited", "status_expired", "stale", "auth_failed",
                 "connect_error", "provider_unavailable"):
        c = explanations.for_call("failed", code, "")
        assert c.title and c.explanation and c.fix and "Error " not in c.title
    for kind in ("webhook_blocked", "webhook_timeout", "webhook_gone", "webhook_unreachable"):
        assert explanations.for_webhook(kind).fix
    assert explanations.for_call("failed", "brand_new_code", "").title == "Error brand_new_code"


def test_extraction_and_webhook_groups(personas, make_call, failing_delivery):
    call = make_call(CallStatus.COMPLETED)
    Call.objects.filter(pk=call.pk).update(result_status=ResultStatus.FAILED,
                                           result_error="empty transcript: nothing to extract",
                                           returns={"ok": "boolean"})
    failing_delivery("http", 410)
    failing_delivery("timeout", None)
    failing_delivery("blocked", None)
    groups, page = groups_of(personas.member.client())
    kinds = {(g.kind, g.key) for g in groups}
    assert ("extraction", "empty_transcript") in kinds
    assert {("webhook", "webhook_gone"), ("webhook", "webhook_timeout"), ("webhook", "webhook_blocked")} <= kinds
    for title in ("Empty transcript", "410 Gone", "Endpoint timing out", "Webhook host blocked"):
        assert title in page


def test_delivered_deliveries_drop_out(personas, failing_delivery):
    from callops.webhooks.models import WebhookDelivery

    d = failing_delivery("http", 500)
    assert groups_of(personas.member.client())[0]
    WebhookDelivery.objects.filter(pk=d.pk).update(status="delivered")
    assert groups_of(personas.member.client())[0] == []


def test_query_count_does_not_grow_with_groups(personas, failed_call, failing_delivery,
                                               django_assert_max_num_queries):
    client = personas.viewer.client()
    failed_call("balance_low")
    failing_delivery("http", 500)
    with django_assert_max_num_queries(30) as few:
        client.get(URL)
    for i, code in enumerate(["stale", "status_expired", "rate_limited", "auth_failed", "invalid_number",
                              "telephony_error", "connect_error"]):
        for _ in range(3):
            failed_call(code, to=f"+1415555{i:04d}")
    for kind, status in [("http", 410), ("timeout", None), ("network", None), ("http", 429)]:
        failing_delivery(kind, status)
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = client.get(URL)
    assert len(r.context["groups"]) >= 10


def test_events_held_for_a_disabled_endpoint(personas, unreachable_endpoint, sandbox_agent, failing_delivery):
    from callops.calls import services
    from callops.calls.models import EventSource
    from callops.webhooks import endpoint_health as health
    from callops.webhooks.models import WebhookDelivery

    failing_delivery("http", 410)  # has a failed attempt: counted under 410 Gone only
    health.disable(unreachable_endpoint, "the endpoint answered 410 Gone")
    services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550123", source=EventSource.API)
    held = WebhookDelivery.objects.filter(status="skipped", attempts__isnull=True)
    assert held.count() == 1
    groups, page = groups_of(personas.member.client())
    by_key = {g.key: g for g in groups}
    assert by_key["webhook_gone"].count == 1 and by_key["webhook_endpoint_disabled"].count == 1
    assert "Events held for a disabled endpoint" in page
    personas.member.client().post(ACTION, {"window": "24h", "kind": "webhook", "key": "webhook_endpoint_disabled",
                                           "action": "redeliver"})
    assert held.get().manual_requested_at is not None


def test_webhook_groups_show_affected_providers_agents_and_batches(personas, failing_delivery, sandbox_agent):
    from callops.batches import recipient_lists
    from callops.batches import services as batch_services
    from callops.batches.batch_settings import clean_settings
    from callops.webhooks.models import WebhookDelivery

    batch = batch_services.create_batch(org=personas.org, agent=sandbox_agent, settings=clean_settings(
        {"name": "Renewals"}), rows=recipient_lists.rows_from_json(["+14155550123"]), columns=["phone"], start=False)
    in_batch = failing_delivery("http", 503)
    Call.objects.filter(pk=in_batch.call_id).update(batch=batch)
    failing_delivery("http", 502)
    groups, page = groups_of(personas.viewer.client())
    (group,) = [g for g in groups if g.key == "webhook_server_error"]
    assert group.count == 2
    assert group.providers == [("sandbox", 2)] and group.agents == [("Sandbox agent", 2)]
    assert group.batches == [(batch.public_id, "Renewals", 1)]
    assert group.endpoints == [(in_batch.url, 2)]
    assert reverse("dashboard:batch_detail", args=[batch.public_id]) in page
    # A batch event has no call: its batch still shows.
    event = WebhookDelivery.objects.get(pk=in_batch.pk).event
    type(event).objects.filter(pk=event.pk).update(batch=batch, call=None)
    WebhookDelivery.objects.filter(pk=in_batch.pk).update(call=None)
    (group,) = [g for g in groups_of(personas.viewer.client())[0] if g.key == "webhook_server_error"]
    assert group.batches == [(batch.public_id, "Renewals", 1)] and group.providers == [("sandbox", 1)]


def test_an_open_circuit_is_a_cause_with_its_fix(personas, sandbox_agent, api):
    """A call refused because its only agent's circuit is open: grouped as its own cause, with
    the explanation, the fix, the link to the provider page, and a retry that warns first."""
    from django.utils.html import escape

    from callops.providers import circuits

    for _ in range(circuits.min_samples()):
        circuits.record(sandbox_agent.provider_account.pk, circuits.ERROR, 0.1)
    r = api.post("/v1/calls", {"to": "+12025550104", "agent_id": str(sandbox_agent.public_id)})
    assert r.status_code == 502 and r.json()["call_id"]
    call = Call.objects.get(public_id=r.json()["call_id"])
    assert (call.status, call.error_code) == (CallStatus.FAILED, "circuit_open")
    assert [e["outcome"] for e in call.routing] == ["circuit_open"]

    groups, page = groups_of(personas.admin.client())  # admins see the actions and the fix link
    (group,) = [g for g in groups if g.cause.title == "Provider circuit open"]
    assert group.count == 1 and group.providers == [("sandbox", 1)]
    assert [s["public_id"] for s in group.samples] == [call.public_id]
    cause = explanations.for_call("failed", "circuit_open", "")
    assert group.cause == cause and cause.fix_at == "providers" and cause.caution
    assert escape(cause.explanation) in page and escape(cause.fix) in page  # autoescaped, as every template
    assert f'data-testid="fix-link" href="{reverse("dashboard:providers")}">Open provider accounts</a>' in page
    assert [a.name for a in group.actions] == ["retry"]
