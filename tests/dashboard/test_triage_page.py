"""The triage page and its actions on a group (review, retry, re-run, redeliver) across personas."""

from datetime import timedelta

import pytest
from django.urls import reverse

from callops.accounts.models import AuditEntry
from callops.calls.models import Call, CallStatus, ResultStatus
from callops.triage.models import TriageReview
from callops.triage.sources import call_key
from tests.triage.test_groups import ACTION, URL, groups_of

pytestmark = pytest.mark.django_db


def test_mark_reviewed_hides_until_it_happens_again(personas, failed_call):
    failed_call("balance_low", ago=timedelta(minutes=10))
    client = personas.member.client()
    (group,), _ = groups_of(client)
    r = client.post(ACTION, {"window": "24h", "kind": "call", "key": group.key, "action": "review"})
    assert r.status_code == 302
    groups, page = groups_of(client)
    assert groups == [] and "1 reviewed group hidden" in page
    assert groups_of(client)[0] == [] and client.get(URL, {"reviewed": "1"}).context["groups"]
    failed_call("balance_low", ago=timedelta(0))  # after the review
    (again,), page = groups_of(client)
    assert again.review is not None and "happened again since" in page
    assert AuditEntry.objects.filter(organization=personas.org, action="triage.reviewed").exists()


def test_retry_a_group_creates_linked_calls_once(personas, failed_call, run_jobs):
    a, b = failed_call("balance_low"), failed_call("balance_low")
    other = failed_call("invalid_number", to="+12025550103")
    key = call_key({"status": "failed", "error_code": "balance_low", "hangup_cause": "", "reason_key": ""})
    client = personas.member.client()
    r = client.post(ACTION, {"window": "24h", "kind": "call", "key": key, "action": "retry"}, follow=True)
    assert "Retried 2 calls." in r.content.decode()
    retries = Call.objects.filter(retry_of__isnull=False)
    assert {c.retry_of_id for c in retries} == {a.pk, b.pk}
    assert all(c.attempt == 2 and c.to_number == a.to_number for c in retries)
    assert not Call.objects.filter(retry_of=other).exists()
    # Again: each call is retried at most once.
    r = client.post(ACTION, {"window": "24h", "kind": "call", "key": key, "action": "retry"}, follow=True)
    assert Call.objects.filter(retry_of__isnull=False).count() == 2
    assert "already retried" in r.content.decode()
    run_jobs()
    assert all(c.dial_claimed_at is not None for c in Call.objects.filter(retry_of__isnull=False))
    entry = AuditEntry.objects.get(action="triage.bulk_retry", detail__done=2)
    assert entry.ip_address == "127.0.0.1" and entry.actor == personas.member.user


def test_retry_only_the_selected_calls(personas, failed_call):
    a, _b = failed_call("balance_low"), failed_call("balance_low")
    key = "failed|balance_low||"
    personas.member.client().post(ACTION, {"window": "24h", "kind": "call", "key": key, "action": "retry",
                                           "item": [str(a.public_id)]})
    assert list(Call.objects.filter(retry_of__isnull=False).values_list("retry_of_id", flat=True)) == [a.pk]


def test_viewer_cannot_act_and_outsider_reaches_nothing(personas, failed_call):
    call = failed_call("balance_low")
    key = "failed|balance_low||"
    data = {"window": "24h", "kind": "call", "key": key, "action": "retry"}
    assert personas.viewer.client().post(ACTION, data).status_code == 403
    page = personas.viewer.client().get(URL).content.decode()
    assert 'value="retry"' not in page
    # An outsider acting on the same key works on their own (empty) org: nothing of Acme moves.
    personas.outsider.client().post(ACTION, {**data, "item": [str(call.public_id)]})
    personas.outsider.client().post(ACTION, {**data, "action": "review"})
    assert not Call.objects.filter(retry_of__isnull=False).exists()
    assert not TriageReview.objects.filter(organization=personas.org).exists()
    assert personas.outsider.client().get(URL).context["groups"] == []


def test_redeliver_a_webhook_group(personas, failing_delivery):
    from callops.webhooks.models import WebhookDelivery

    d1, d2 = failing_delivery("http", 500), failing_delivery("http", 502)
    r = personas.member.client().post(ACTION, {"window": "24h", "kind": "webhook", "key": "webhook_server_error",
                                               "action": "redeliver"}, follow=True)
    assert "Queued 2 redeliveries." in r.content.decode()
    assert WebhookDelivery.objects.filter(pk__in=[d1.pk, d2.pk], manual_requested_at__isnull=False,
                                          manual_trigger="bulk").count() == 2
    assert AuditEntry.objects.filter(action="triage.bulk_redeliver").count() == 1


def test_rerun_extraction_group(personas, make_call, monkeypatch):
    call = make_call(CallStatus.COMPLETED)
    Call.objects.filter(pk=call.pk).update(result_status=ResultStatus.FAILED, returns={"ok": "boolean"},
                                           result_error="llm extractor: the model answered non-JSON")
    r = personas.member.client().post(ACTION, {"window": "24h", "kind": "extraction", "key": "llm_failed",
                                               "action": "rerun"}, follow=True)
    assert "Re-ran extraction for 1 call." in r.content.decode()
    call.refresh_from_db()
    assert call.result_status == ResultStatus.PENDING


def test_bad_action_changes_nothing(personas, failed_call):
    failed_call("balance_low")
    client = personas.member.client()
    for data in ({"kind": "call", "key": "x", "action": "redeliver"}, {"kind": "nope", "key": "x", "action": "review"},
                 {"kind": "call", "key": "", "action": "retry"}):
        r = client.post(ACTION, data, follow=True)
        assert "Unknown triage action." in r.content.decode()
    assert not TriageReview.objects.exists() and not Call.objects.filter(retry_of__isnull=False).exists()


def test_overview_problems_count_what_triage_counts_in_the_window_they_link_to(
        personas, failed_call, make_call, failing_delivery):
    from callops.webhooks.models import DeliveryStatus

    failed_call("balance_low")
    failed_call("balance_low", ago=timedelta(days=3))
    failed_call("balance_low", ago=timedelta(days=9))  # outside the 7-day window
    failed_call("", status=CallStatus.NO_ANSWER, hangup="no_answer", to="+12025550101")
    failed_call("", status=CallStatus.BUSY, hangup="user_busy", to="+12025550102")
    failed_call("invalid_number", to="+12025550103", ago=timedelta(days=2))
    extraction = make_call(CallStatus.COMPLETED)
    Call.objects.filter(pk=extraction.pk).update(result_status=ResultStatus.FAILED, returns={"ok": "boolean"},
                                                 result_error="empty transcript: nothing to extract")
    failing_delivery("http", 503, delivery_status=DeliveryStatus.PENDING)  # still retrying
    failing_delivery("timeout", None)  # given up
    client = personas.member.client()
    # With no review the overview counts from the daily rollups, triage from the hours: the same.
    before = client.get(reverse("dashboard:overview")).context["problems"]
    assert before == client.get(URL, {"window": "7d"}).context["totals"] == {"call": 5, "extraction": 1, "webhook": 2}
    (invalid,) = [g for g in groups_of(client, "7d")[0] if "invalid_number" in g.key]
    client.post(ACTION, {"window": "7d", "kind": "call", "key": invalid.key, "action": "review"})

    overview = client.get(reverse("dashboard:overview"))
    counts = overview.context["problems"]
    triage_page = client.get(URL, {"window": "7d"})
    assert counts == triage_page.context["totals"] == {"call": 4, "extraction": 1, "webhook": 2}
    page = overview.content.decode()
    for kind, anchor in (("call", "calls-h"), ("extraction", "extraction-h"), ("webhook", "webhook-h")):
        assert f'href="{URL}?window=7d#{anchor}" data-testid="problems-{kind}"' in page
    assert '<span class="problem-count">4</span> failed, unanswered or busy calls' in page
    assert '<span class="problem-count">2</span> failing webhook deliveries' in page
