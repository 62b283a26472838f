"""Triage offers, per cause, only the actions that can help, says in each confirm what will happen to
how many rows, and refuses server-side an action the cause does not offer."""

from datetime import timedelta

import pytest
from django.urls import reverse

from callops.accounts.models import AuditEntry
from callops.calls.models import Call, CallStatus, ResultStatus
from callops.triage import explanations, services
from callops.triage.sources import call_key
from tests.triage.test_groups import ACTION, groups_of

pytestmark = pytest.mark.django_db


def _key(code, status="failed"):
    return call_key({"status": status, "error_code": code, "hangup_cause": "", "reason_key": ""})


@pytest.mark.parametrize(("kind", "key", "actions", "fix_at", "caution"), [
    ("call", _key("invalid_number"), (), "", ""),
    ("call", call_key({"status": "failed", "error_code": "", "hangup_cause": "unallocated_number",
                       "reason_key": ""}), (), "", ""),
    ("call", _key("suppressed", "canceled"), (), "suppressions", ""),
    ("call", _key("status_expired"), (), "", ""),
    ("call", _key("balance_low"), ("retry",), "providers", "Only after the provider account has credit again"),
    ("call", _key("auth_failed"), ("retry",), "providers", "Only after a valid key is saved"),
    ("call", _key("timeout"), ("retry",), "", "The provider may have placed some of these calls"),
    ("call", _key("telephony_error"), ("retry",), "", ""),
    ("call", _key("", "no_answer"), ("retry",), "", ""),
    ("extraction", "no_conversation", (), "", ""),
    ("extraction", "nothing_parsed", (), "providers", ""),
    ("extraction", "empty_transcript", ("rerun",), "providers", "Only once the transcripts have arrived"),
    ("extraction", "llm_failed", ("rerun",), "", "Only after the language model answers again"),
    ("webhook", "webhook_endpoint_disabled", ("redeliver",), "webhooks", "Only after the endpoint is re-enabled"),
    ("webhook", "webhook_server_error", ("redeliver",), "", ""),
])
def test_each_cause_offers_the_actions_its_advice_allows(kind, key, actions, fix_at, caution):
    cause = services.cause_of(kind, key)
    assert cause.allowed(kind) == actions
    assert cause.fix_at == fix_at
    assert cause.caution.startswith(caution) and bool(cause.caution) == bool(caution)
    assert cause.fix_at in ("", *explanations.FIX_PLACES)


def test_no_advice_says_retry_while_the_cause_offers_none():
    for kind, table in (("call", explanations.CALL_CODES), ("call", explanations.HANGUP_CAUSES),
                        ("extraction", explanations.EXTRACTION_KINDS), ("webhook", explanations.WEBHOOK_KINDS)):
        for code, cause in table.items():
            if not cause.allowed(kind):
                assert "not offered" in cause.fix or kind == "call" and code in explanations.CALLING_RULE_CODES, code
            assert not cause.caution or cause.allowed(kind), code  # a caution belongs to an action


def test_retrying_invalid_numbers_is_refused_and_dials_no_one(personas, failed_call):
    failed_call("invalid_number", to="+12025550103")
    failed_call("invalid_number", to="+12025550103")
    client = personas.member.client()
    r = client.post(ACTION, {"window": "24h", "kind": "call", "key": _key("invalid_number"), "action": "retry"})
    assert r.status_code == 302 and r["Location"] == reverse("dashboard:triage") + "?window=24h"
    page = client.get(r["Location"]).content.decode()
    assert ("Nothing was done. Invalid number: retrying these calls cannot help, so it is not offered. Check the "
            "number in your source data") in page
    assert not Call.objects.filter(retry_of__isnull=False).exists()
    assert Call.objects.count() == 2
    assert not AuditEntry.objects.filter(action="triage.bulk_retry").exists()
    with pytest.raises(services.ActionNotAllowed):
        services.redial_group(personas.org, _key("invalid_number"), "24h", actor=personas.member.user)


def test_rerunning_extraction_when_the_callee_never_spoke_is_refused(personas, make_call):
    call = make_call(CallStatus.COMPLETED)
    error = "the call ended before any conversation: nothing to extract"
    Call.objects.filter(pk=call.pk).update(result_status=ResultStatus.FAILED, returns={"ok": "boolean"},
                                           result_error=error)
    r = personas.member.client().post(ACTION, {"window": "24h", "kind": "extraction", "key": "no_conversation",
                                               "action": "rerun"}, follow=True)
    assert "Nothing was done. Callee never spoke: re-running extraction cannot help" in r.content.decode()
    call.refresh_from_db()
    assert (call.result_status, call.result_error) == (ResultStatus.FAILED, error)


def test_page_shows_only_helpful_actions_with_counted_confirms(personas, failed_call):
    for _ in range(3):
        failed_call("invalid_number", to="+12025550103", ago=timedelta(minutes=3))
    for _ in range(2):
        failed_call("balance_low", ago=timedelta(minutes=2))
    groups, page = groups_of(personas.member.client())
    by_code = {g.key.split("|")[1]: g for g in groups}
    invalid, balance = by_code["invalid_number"], by_code["balance_low"]
    assert invalid.actions == [] and invalid.fix_link is None
    (retry,) = balance.actions
    assert retry.name == "retry" and retry.label == "Retry calls" and not retry.primary
    assert retry.confirm == ("Dial 2 calls of this group again? Each is placed as a new call to the same number; a "
                             "call already retried is skipped. Only after the provider account has credit again: "
                             "until then every retry fails the same way.")
    assert retry.confirm_ticked.startswith("Dial the ticked calls again ({n} ticked)? Each is placed")
    assert balance.fix_link == ("Open provider accounts", reverse("dashboard:providers"))
    assert page.count('name="action" value="retry"') == 1
    assert "No bulk action can help here: see the suggested fix." in page
