"""Provider quirks, placement and cancel paths, batches and error classification, over HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from callops.calls import services as call_services
from callops.calls.models import Call, CallEvent, EventSource
from callops.calls.status_sync import sweep_stale_calls, sync_call
from callops.providers import transport
from callops.providers.base import ProviderError
from callops.providers.bolna import format_scheduled_at
from callops.providers.emulators.core import Outcome
from callops.providers.registry import adapter_for
from tests.helpers import current_clock

from .conftest import EMU_SPEED, TRIGGER_UUID, WORKFLOW_UUID, new_call, place, step_clock

# Emulator time moves only when the test moves it.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]
NUMBER = "+14155550123"


def _sync_until(pk, predicate, rounds=500):
    """Read the call's status, moving the test clock to its next due read, until `predicate`."""
    seen = []
    for _ in range(rounds):
        sync_call(pk)
        call = Call.objects.get(pk=pk)
        seen.append((call.status, call.provider_status))
        if predicate(call):
            return call, seen
        step_clock(current_clock())
    raise AssertionError(f"condition not reached in {rounds} reads; saw {seen[-5:]}")


def test_bolna_call_disconnected_is_not_final(emulators, make_agent):
    emu = emulators("bolna")
    emu.script(NUMBER, Outcome([(0, "in-progress"), (2, "call-disconnected"), (20, "completed")], "completed",
                               {"conversation_duration": 30, "hangup_by": "Callee"}))
    call = place(make_agent("bolna", emu), NUMBER)
    call, seen = _sync_until(call.pk, lambda c: c.is_terminal)
    assert ("in_progress", "call-disconnected") in seen
    assert call.status == "completed" and call.duration_seconds == 30 and call.provider_result == {"interested": True}
    assert call.recording_url and call.answered_by == "human" and call.hangup_cause == "Callee"


def test_bolna_scheduled_at_needs_numeric_offset(emulators, make_agent):
    emu = emulators("bolna")
    when = timezone.now() + timedelta(minutes=10)
    assert format_scheduled_at(when).endswith("+00:00")
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    body = {"agent_id": "a", "recipient_phone_number": NUMBER}
    with pytest.raises(ProviderError) as z:
        transport.send("bolna", "POST", f"{emu.url}/call", headers=headers,
                         json={**body, "scheduled_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert z.value.http_status == 500 and not z.value.permanent
    with pytest.raises(ProviderError) as soon:
        transport.send("bolna", "POST", f"{emu.url}/call", headers=headers,
                         json={**body, "scheduled_at": format_scheduled_at(timezone.now() + timedelta(seconds=30))})
    assert soon.value.permanent and "atleast 2 minutes" in soon.value.message
    ok = transport.send("bolna", "POST", f"{emu.url}/call", headers=headers,
                          json={**body, "scheduled_at": format_scheduled_at(when)})
    assert ok.json()["status"] == "queued"


def test_bolna_stop_only_while_queued(emulators, make_agent):
    emu = emulators("bolna")
    emu.script("+14155550001", Outcome([(0, "queued")], None))
    emu.script("+14155550002", Outcome([(0, "in-progress")], None))
    agent = make_agent("bolna", emu)
    queued = place(agent, "+14155550001")
    canceled = call_services.cancel_call(queued, source=EventSource.API)
    assert canceled.status == "canceled" and canceled.provider_status == "stopped"
    live = place(agent, "+14155550002")
    sync_call(live.pk)
    with pytest.raises(call_services.CallActionError):
        call_services.cancel_call(Call.objects.get(pk=live.pk), source=EventSource.API)
    assert Call.objects.get(pk=live.pk).status == "in_progress"


def test_bolna_batch_roundtrip(emulators, make_agent):
    emu = emulators("bolna")
    emu.script("+14155550002", "busy")
    adapter = adapter_for(make_agent("bolna", emu).provider_account)
    batch_id = adapter.place_batch("agent-1", [{"contact_number": "+14155550001", "name": "Ann"},
                                               {"contact_number": "+14155550002", "name": "Bob"}],
                                   scheduled_at=timezone.now() + timedelta(minutes=5))
    assert len(batch_id) == 32 and "-" not in batch_id
    current_clock().advance(0.2)
    batch = adapter.fetch_batch(batch_id)
    assert batch["status"] == "running" and len(batch["reports"]) == 2
    by_number = {r.payload["telephony_data"]["to_number"]: r for r in batch["reports"]}
    assert by_number["+14155550002"].status == "busy"
    assert by_number["+14155550001"].status == "in_progress"  # 10 s into its call at the emulator's speed
    assert adapter.stop_batch(batch_id) == {"state": "stopped"}
    with pytest.raises(ProviderError) as again:
        adapter.stop_batch(batch_id)
    assert again.value.http_status == 404 and "not queued or running" in again.value.message


def test_polyai_expiry_fails_live_call_but_keeps_terminal(emulators, make_agent):
    emu = emulators("polyai", expiry_seconds=5)  # 0.1 s of real time at speed 50
    emu.script("+14155550001", Outcome([(0, "queued"), (1, "calling"), (2, "success")], "completed"))
    emu.script("+14155550002", Outcome([(0, "queued"), (1, "calling"), (2, "success")], "completed"))
    agent = make_agent("polyai", emu)
    missed = place(agent, "+14155550001")
    seen = place(agent, "+14155550002")
    assert missed.provider_call_id.startswith("OUT-")
    seen, _ = _sync_until(seen.pk, lambda c: c.is_terminal)
    assert seen.status == "completed" and seen.provider_status == "success"
    current_clock().advance(0.3)  # both now past expiry at PolyAI
    # Placed "two hours" ago (in sync time) and never seen since: its 404 is expiry.
    Call.objects.filter(pk=missed.pk).update(dial_claimed_at=timezone.now() - timedelta(hours=2) / EMU_SPEED)
    assert sync_call(missed.pk) == "expired"
    missed = Call.objects.get(pk=missed.pk)
    assert missed.status == "failed" and missed.error_code == "status_expired"
    assert sync_call(seen.pk) == "done"
    assert Call.objects.get(pk=seen.pk).status == "completed"


def test_polyai_404_soon_after_placement_is_transient(emulators, make_agent):
    emu = emulators("polyai")
    call = place(make_agent("polyai", emu), NUMBER)
    emu.faults.force("404", "read")
    assert sync_call(call.pk) == "error:status_unavailable"
    after = Call.objects.get(pk=call.pk)
    assert after.status == "queued" and after.error_code == "" and after.sync_failures == 1
    assert after.next_sync_at > timezone.now()
    # The next poll finds the call and the failure count resets.
    assert sync_call(call.pk) == "queued"
    assert Call.objects.get(pk=call.pk).sync_failures == 0


def test_polyai_call_that_never_reappears_is_failed_stale_not_expired(emulators, make_agent, run_jobs):
    emu = emulators("polyai")
    call = place(make_agent("polyai", emu), NUMBER)
    emu.faults.force("404", "read", times=10)
    assert sync_call(call.pk) == "error:status_unavailable"
    # Past PolyAI's maximum call length (1 h), short of the ~2 h its status is kept after a call.
    placed = timezone.now() - timedelta(minutes=90) / EMU_SPEED
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=placed, last_synced_at=placed)
    assert sweep_stale_calls() == 1
    run_jobs()
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.error_code) == ("failed", "stale")


def test_polyai_unknown_and_malformed_sids(emulators, make_agent):
    emu = emulators("polyai")
    adapter = adapter_for(make_agent("polyai", emu).provider_account)
    with pytest.raises(ProviderError) as bad:
        adapter.fetch_status(Call(provider_call_id="nope", dial_claimed_at=timezone.now()))
    assert bad.value.http_status == 400 and bad.value.permanent
    unknown = f"OUT-{uuid.uuid4()}"  # well formed, never issued
    with pytest.raises(ProviderError) as fresh:
        adapter.fetch_status(Call(provider_call_id=unknown, dial_claimed_at=timezone.now()))
    assert fresh.value.http_status == 404 and not fresh.value.permanent and fresh.value.code == "status_unavailable"
    old = timezone.now() - timedelta(hours=3) / EMU_SPEED
    with pytest.raises(ProviderError) as expired:
        adapter.fetch_status(Call(provider_call_id=unknown, dial_claimed_at=old, last_synced_at=old))
    assert expired.value.permanent and expired.value.code == "status_expired"
    # Seen live an hour ago (placed long before): not long enough for its status to be gone.
    recent = timezone.now() - timedelta(hours=1) / EMU_SPEED
    with pytest.raises(ProviderError) as seen:
        adapter.fetch_status(Call(provider_call_id=unknown, dial_claimed_at=old, last_synced_at=recent))
    assert seen.value.code == "status_unavailable"


def test_polyai_metadata_values_sent_as_strings(emulators, make_agent):
    emu = emulators("polyai")
    call = place(make_agent("polyai", emu), NUMBER, metadata={"n": 3, "tags": ["a"]})
    assert call.status == "queued" and call.provider_call_id.startswith("OUT-")
    sent = emu.calls[call.provider_call_id].request["metadata"]
    assert sent["n"] == "3" and sent["tags"] == '["a"]'


def test_trillet_needs_both_headers(emulators, make_agent):
    emu = emulators("trillet")
    agent = make_agent("trillet", emu, credentials={"api_key": emu.api_key})
    call = place(agent, NUMBER)
    assert call.status == "failed" and call.error_code == "auth_failed"
    assert emu.creates[NUMBER] == 0


def test_trillet_batch_job_id_differs_from_call_id(emulators, make_agent):
    emu = emulators("trillet")
    emu.script("+14155550002", "failed")
    adapter = adapter_for(make_agent("trillet", emu).provider_account)
    batch_id = adapter.place_batch("agent_1", [{"phone_number": "+14155550001"}, {"phone_number": "+14155550002"}],
                                   scheduled_at=timezone.now())
    current_clock().advance(1.0)
    batch = adapter.fetch_batch(batch_id)
    by_job = {r.fields["provider_job_id"]: r for r in batch["reports"]}
    assert len(by_job) == 2
    done = [r for r in batch["reports"] if r.status == "completed"][0]
    failed = [r for r in batch["reports"] if r.status == "failed"][0]
    assert done.provider_call_id.startswith("ch_") and done.provider_call_id != done.fields["provider_job_id"]
    assert (failed.raw_status, failed.reason) == ("failed", "Invalid phone number")
    assert done.fields["duration_seconds"] > 0
    cancelled = adapter.stop_batch(batch_id)
    assert cancelled["status"] == "cancelled" and cancelled["details"]["totalCalls"] == 2


def test_trillet_batch_cancel_drops_waiting_jobs(emulators, make_agent):
    emu = emulators("trillet", speed=1)
    adapter = adapter_for(make_agent("trillet", emu).provider_account)
    batch_id = adapter.place_batch("agent_1", [{"phone_number": "+14155550001"}])
    result = adapter.stop_batch(batch_id)
    assert result["details"]["cancelledCalls"] == 1
    report = adapter.fetch_batch(batch_id)["reports"][0]
    assert report.status == "canceled" and report.raw_status == "cancelled"


def test_trillet_429_reset_at_becomes_retry_after(emulators, make_agent):
    emu = emulators("trillet")
    emu.faults.retry_after = 7
    call = place(make_agent("trillet", emu), NUMBER)
    emu.faults.force("429", "read")
    assert sync_call(call.pk) == "error:rate_limited"
    call = Call.objects.get(pk=call.pk)
    assert call.sync_failures == 1
    assert call.next_sync_at >= timezone.now() + timedelta(seconds=5)


@pytest.mark.parametrize("id_kind", ["trigger", "workflow"])
def test_dograh_both_trigger_id_kinds(id_kind, emulators, make_agent):
    emu = emulators("dograh")
    uuid = TRIGGER_UUID if id_kind == "trigger" else WORKFLOW_UUID
    agent = make_agent("dograh", emu, agent_id=f"{id_kind}:{uuid}:42")
    call = place(agent, NUMBER)
    assert call.provider_call_id.isdigit() and call.provider_job_id == "42"
    assert call.provider_status == "initiated" and call.status == "queued"
    call, _ = _sync_until(call.pk, lambda c: c.is_terminal)
    assert call.status == "completed" and call.provider_status == "completed:user_hangup"
    assert call.duration_seconds == 30 and call.provider_result["call_disposition"] == "user_hangup"


def test_dograh_wrong_id_kind_is_permanent(emulators, make_agent):
    emu = emulators("dograh")
    # a trigger uuid used as a workflow uuid is unknown: 404, fail now
    call = place(make_agent("dograh", emu, agent_id=f"workflow:{TRIGGER_UUID}:42"), NUMBER)
    assert call.status == "failed" and call.error_code == "not_found"


def test_dograh_errors(emulators, make_agent):
    emu = emulators("dograh", quota_exceeded=True)
    call = place(make_agent("dograh", emu), NUMBER)
    assert call.status == "failed" and call.error_code == "insufficient_funds" and "QUOTA_EXCEEDED" in \
        call.error_message
    emu.quota_exceeded = False
    with pytest.raises(ProviderError) as missing:
        transport.send("dograh", "POST", f"{emu.url}/api/v1/public/agent/{TRIGGER_UUID}",
                         headers={"X-API-Key": emu.api_key}, json={})
    assert missing.value.http_status == 422 and "body.phone_number: Field required" in missing.value.message


def test_dograh_pre_dial_error(emulators, make_agent):
    emu = emulators("dograh")
    emu.script(NUMBER, "error")
    call = place(make_agent("dograh", emu), NUMBER)
    call, _ = _sync_until(call.pk, lambda c: c.is_terminal)
    assert call.status == "failed" and call.provider_reason == "PHONE_NUMBER_NOT_CONFIGURED"


def test_callingbox_voicemail_and_502(emulators, make_agent):
    emu = emulators("callingbox")
    emu.script("+14155550001", "voicemail")
    agent = make_agent("callingbox", emu)
    vm = place(agent, "+14155550001")
    vm, _ = _sync_until(vm.pk, lambda c: c.is_terminal)
    assert vm.status == "no_answer" and vm.answered_by == "machine"
    bad = place(agent, "+15005550001")  # telephony cannot place it: 502 on the API path fails the call
    assert bad.status == "failed" and bad.error_code == "provider_unavailable"
    foreign = place(agent, "+442071234567")
    assert foreign.status == "failed" and foreign.error_code == "invalid_request"


# --- error classification ---------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "code"), [("500", "provider_unavailable"), ("timeout", "timeout")])
def test_read_faults_are_transient_and_backed_off(fault, code, emulators, make_agent):
    emu = emulators("callingbox")
    call = place(make_agent("callingbox", emu), NUMBER)
    emu.faults.force(fault, "read")
    assert sync_call(call.pk) == f"error:{code}"
    after = Call.objects.get(pk=call.pk)
    assert after.sync_failures == 1 and after.status == call.status
    # the next poll works and resets the failure count
    assert sync_call(call.pk) == "queued"  # the test clock has not moved
    assert Call.objects.get(pk=call.pk).sync_failures == 0


def test_read_429_backs_off_for_its_retry_after(emulators, make_agent):
    emu = emulators("callingbox")
    emu.faults.retry_after = 3
    call = place(make_agent("callingbox", emu), NUMBER)
    emu.faults.force("429", "read")
    assert sync_call(call.pk) == "error:rate_limited"
    after = Call.objects.get(pk=call.pk)
    assert after.sync_failures == 1 and after.next_sync_at >= timezone.now() + timedelta(seconds=2)
    # The account is paused for everyone until then: an early poll sends nothing.
    before = sum(emu.requests.values())
    assert sync_call(call.pk) == "rate_limited"
    assert sum(emu.requests.values()) == before


def test_permanent_errors(emulators, make_agent):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu, credentials={"api_key": "wrong"})
    call = place(agent, NUMBER)
    assert call.status == "failed" and call.error_code == "auth_failed" and "Access denied" in call.error_message
    with pytest.raises(ProviderError) as e:
        transport.send("bolna", "POST", f"{emu.url}/call", headers={"Authorization": f"Bearer {emu.api_key}"},
                         json={"agent_id": "a"})
    assert e.value.permanent and e.value.http_status == 400


def test_connect_error_is_transient():
    with pytest.raises(ProviderError) as e:
        transport.send("bolna", "GET", "http://127.0.0.1:9/executions/x")
    assert e.value.code == "connect_error" and not e.value.permanent


def test_retry_after_http_date():
    r = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert transport.retry_after_seconds(r) > 1e6


def test_background_placement_retries_5xx_and_dials_once(emulators, make_agent, run_jobs, transactional_db):
    from callops.calls.jobs import place_call_job

    emu = emulators("polyai")
    emu.faults.retry_after = 0
    emu.faults.force("500", "create")
    call = new_call(make_agent("polyai", emu), NUMBER)
    place_call_job(call.pk)
    call = Call.objects.get(pk=call.pk)
    assert call.status == "queued" and call.dial_claimed_at is None and emu.creates[NUMBER] == 0
    assert CallEvent.objects.filter(call=call, note__startswith="provider unavailable").exists()
    Call.objects.filter(pk=call.pk).update(scheduled_at=timezone.now())
    place_call_job(call.pk)
    place_call_job(call.pk)  # a duplicate job is a no-op
    assert emu.creates[NUMBER] == 1


@pytest.mark.parametrize("kind", ["callingbox", "bolna", "polyai", "trillet", "dograh"])
def test_connection_check(kind, emulators, make_agent):
    emu = emulators(kind)
    good = adapter_for(make_agent(kind, emu).provider_account)
    assert "reachable" in good.test_connection()
    creds = {"api_key": "wrong", "workspace_id": "wrong"}
    bad = adapter_for(make_agent(kind, emu, credentials=creds).provider_account)
    with pytest.raises(ProviderError) as e:
        bad.test_connection()
    assert e.value.permanent and e.value.code == "auth_failed"
