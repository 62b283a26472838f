"""callops.calls.redial: who can be retried, and that a retry is a fresh, linked, placeable call."""

import pytest

from callops.calls.models import Agent, Call, CallEvent, CallStatus, EventSource
from callops.calls.redial import RetryRefused, retry_call

pytestmark = pytest.mark.django_db


def test_retry_copies_the_request_and_links_both_ways(failed_call, run_jobs):
    original = failed_call("telephony_error", to="+14155550123")
    Call.objects.filter(pk=original.pk).update(context={"name": "Ada"}, metadata={"order": "7"})
    retry = retry_call(original, EventSource.USER, "ops@acme.test")
    assert retry.retry_of_id == original.pk and retry.attempt == 2 and retry.status == CallStatus.QUEUED
    assert retry.context == {"name": "Ada"} and retry.metadata == {"order": "7"} and retry.agent_id == original.agent_id
    notes = list(CallEvent.objects.filter(call__in=[original, retry], kind="action").values_list("note", flat=True))
    assert any("retried by ops@acme.test" in n for n in notes) and any("retry of call" in n for n in notes)
    run_jobs()
    retry.refresh_from_db()
    assert retry.dial_claimed_at is not None and retry.provider_call_id.startswith("sbx-")


def test_refusals(failed_call, make_call):
    with pytest.raises(RetryRefused, match="only failed, unanswered and busy"):
        retry_call(make_call(CallStatus.COMPLETED))
    with pytest.raises(RetryRefused, match="only failed"):
        retry_call(make_call(CallStatus.RINGING))
    call = failed_call("balance_low")
    retry_call(call)
    with pytest.raises(RetryRefused, match="already retried"):
        retry_call(call)
    other = failed_call("balance_low")
    Agent.objects.filter(pk=other.agent_id).update(is_active=False)
    with pytest.raises(RetryRefused, match="inactive"):
        retry_call(other)
    assert Call.objects.filter(retry_of__isnull=False).count() == 1
