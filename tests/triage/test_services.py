"""Triage's writes called directly: what each bulk action returns, touches and audits."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from callops.accounts.models import AuditEntry
from callops.accounts.services import request_origin
from callops.calls.models import Call, CallStatus, ResultStatus
from callops.triage import services, sources
from callops.triage.models import TriageReview
from callops.webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
BALANCE_LOW = "failed|balance_low||"


def test_redial_group_redials_each_call_once_and_says_why_not_the_second_time(personas, failed_call):
    a, b = failed_call("balance_low"), failed_call("balance_low")
    other = failed_call("invalid_number", to="+12025550103")
    old = failed_call("balance_low", ago=timedelta(days=2))  # outside the 24 h window
    actor = personas.member.user

    assert services.redial_group(personas.org, BALANCE_LOW, "24h", actor=actor) == services.Outcome(2, [])
    assert set(Call.objects.filter(retry_of__isnull=False).values_list("retry_of_id", flat=True)) == {a.pk, b.pk}
    assert not Call.objects.filter(retry_of__in=[other, old]).exists()

    again = services.redial_group(personas.org, BALANCE_LOW, "24h", actor=actor)
    assert again.done == 0
    assert sorted(again.refused) == sorted(f"call {c.public_id} was already retried as "
                                           f"{Call.objects.get(retry_of=c).public_id}" for c in (a, b))
    assert Call.objects.filter(retry_of__isnull=False).count() == 2
    entries = list(AuditEntry.objects.filter(action="triage.bulk_retry").order_by("id")
                   .values("target", "detail", "actor", "ip_address"))
    assert entries == [
        {"target": f"call:{BALANCE_LOW}", "detail": {"window": "24h", "done": 2, "refused": 0, "selected": 0},
         "actor": actor.pk, "ip_address": None},
        {"target": f"call:{BALANCE_LOW}", "detail": {"window": "24h", "done": 0, "refused": 2, "selected": 0},
         "actor": actor.pk, "ip_address": None},
    ]


def test_redial_group_acts_on_the_selected_calls_only_and_at_most_action_cap(personas, failed_call, monkeypatch):
    a, b, c = (failed_call("balance_low") for _ in range(3))
    actor = personas.member.user
    outcome = services.redial_group(personas.org, BALANCE_LOW, "24h", actor=actor, selected=[a.public_id])
    assert outcome == services.Outcome(1, [])
    assert list(Call.objects.filter(retry_of__isnull=False).values_list("retry_of_id", flat=True)) == [a.pk]

    monkeypatch.setattr(services, "ACTION_CAP", 1)
    assert services.redial_group(personas.org, BALANCE_LOW, "24h", actor=actor) == services.Outcome(1, [])
    # The newest to end goes first (c ended last); a, already redialled, is not reached.
    assert set(Call.objects.filter(retry_of__isnull=False).values_list("retry_of_id", flat=True)) == {a.pk, c.pk}


def test_another_organization_reaches_nothing(personas, failed_call, failing_delivery):
    failed_call("balance_low")
    failing_delivery("http", 500)
    outsider = personas.outsider
    assert services.redial_group(outsider.org, BALANCE_LOW, "24h", actor=outsider.user) == services.Outcome(0, [])
    assert services.redeliver_group(outsider.org, "webhook_server_error", "24h",
                                    actor=outsider.user) == services.Outcome(0, [])
    assert not Call.objects.filter(retry_of__isnull=False).exists()
    assert not WebhookDelivery.objects.filter(manual_requested_at__isnull=False).exists()


def test_rerun_group_reruns_and_refuses_calls_without_a_schema(personas, make_call):
    with_schema, without = make_call(CallStatus.COMPLETED), make_call(CallStatus.COMPLETED)
    Call.objects.filter(pk__in=[with_schema.pk, without.pk]).update(
        result_status=ResultStatus.FAILED, result_error="llm extractor: the model answered non-JSON")
    Call.objects.filter(pk=with_schema.pk).update(returns={"ok": "boolean"})

    outcome = services.rerun_group(personas.org, "llm_failed", "24h", actor=personas.member.user)
    assert outcome == services.Outcome(1, [f"call {without.public_id} has no returns schema to extract"])
    assert Call.objects.get(pk=with_schema.pk).result_status == ResultStatus.PENDING
    assert Call.objects.get(pk=without.pk).result_status == ResultStatus.FAILED
    entry = AuditEntry.objects.get(action="triage.bulk_rerun")
    assert (entry.target, entry.detail) == ("extraction:llm_failed",
                                            {"window": "24h", "done": 1, "refused": 1, "selected": 0})


def test_redeliver_group_queues_one_bulk_attempt_each_with_one_audit_entry(personas, failing_delivery):
    d1, d2 = failing_delivery("http", 500), failing_delivery("http", 502)
    gone = failing_delivery("http", 410)

    before = AuditEntry.objects.count()
    outcome = services.redeliver_group(personas.org, "webhook_server_error", "24h", actor=personas.member.user)
    assert outcome == services.Outcome(2, [])
    queued = WebhookDelivery.objects.filter(manual_requested_at__isnull=False)
    assert set(queued.values_list("pk", "manual_trigger")) == {(d1.pk, "bulk"), (d2.pk, "bulk")}
    assert not queued.filter(pk=gone.pk).exists()
    # One entry for the action, none per delivery.
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.latest("id")
    assert (entry.action, entry.target, entry.detail) == (
        "triage.bulk_redeliver", "webhook:webhook_server_error", {"window": "24h", "deliveries": 2, "selected": 0})


def test_review_group_records_who_and_the_origin_and_a_second_review_replaces_the_first(personas, clock):
    request = RequestFactory().post("/triage/action/", REMOTE_ADDR="203.0.113.7")
    with request_origin(request):
        first = services.review_group(personas.org, "call", BALANCE_LOW, "7d", actor=personas.member.user)
    assert (first.kind, first.cause, first.reviewed_by, first.reviewed_by_label) == (
        "call", BALANCE_LOW, personas.member.user, personas.member.user.get_username())
    entry = AuditEntry.objects.get(action="triage.reviewed")
    assert (entry.target, entry.detail, entry.ip_address) == (f"call:{BALANCE_LOW}", {"window": "7d"}, "203.0.113.7")

    clock.advance(60)
    second = services.review_group(personas.org, "call", BALANCE_LOW, "24h", actor=None)
    assert TriageReview.objects.get() == second
    assert second.reviewed_at > first.reviewed_at and second.reviewed_by is None
    assert second.reviewed_by_label == "system"


def test_a_canceled_group_holds_only_calls_a_calling_rule_canceled(personas, failed_call):
    """A key names its status and error code; without the OR of the grouping, a canceled key
    must still take only calls a calling rule canceled."""
    now = timezone.now()
    ruled = failed_call("suppressed", status=CallStatus.CANCELED)
    failed_call("", status=CallStatus.CANCELED, to="+12025550104")  # canceled by a person: no failure
    failed_call("user_hangup", status=CallStatus.CANCELED, to="+12025550106")  # a code, but no calling rule
    org = personas.org
    since = now - timedelta(days=1)
    until = now + timedelta(minutes=1)
    assert list(sources.calls_for_key(org, "canceled|suppressed||", since, until)) == [ruled]
    assert list(sources.calls_for_key(org, "canceled|||", since, until)) == []
    assert list(sources.calls_for_key(org, "canceled|user_hangup||", since, until)) == []
