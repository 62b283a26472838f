"""A worker killed inside a routed placement, after failing over to the second agent: recovery asks
the provider that was actually asked (the second agent's), adopts the call there or proves it
absent, settles the attempt in `routing`, and never dials anyone twice.

The kill is faithful to what a SIGKILL leaves: the adapter's create reaches the emulator (or not)
and then a BaseException unwinds the worker, so no handler on the way out writes anything; what
is in the database is only what was committed before the request. The real-process version is
`test_failover_chaos.py::test_workers_killed_inside_the_fallbacks_create_are_recovered_there`.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from callops.calls import routing, services
from callops.calls.jobs import sweep_interrupted_placements
from callops.calls.models import Call, CallStatus

from .conftest import new_call

pytestmark = pytest.mark.django_db

TO = "+14155550181"


class Killed(BaseException):
    """The worker's death: not an Exception, so nothing on the way out writes anything."""


def _kill_at_create(monkeypatch, account_pk, *, reached: bool):
    """The worker dies during the create on `account_pk`: after the provider got it (`reached`),
    or before the request left."""
    real = routing.adapter_for

    def adapter_for(account):
        adapter = real(account)
        if account.pk == account_pk:
            place = adapter.place_call

            def place_call(call):
                if reached:
                    place(call)
                raise Killed
            adapter.place_call = place_call
        return adapter

    monkeypatch.setattr(routing, "adapter_for", adapter_for)


def _pair(emulators, make_agent, *, second_emu=None, **second):
    first_emu = emulators("callingbox")
    second_emu = second_emu or emulators("callingbox")
    first, second_agent = make_agent("callingbox", first_emu), make_agent("callingbox", second_emu, **second)
    routing.set_fallbacks(first, [second_agent])
    first_emu.faults.force("500", "create")  # the first provider refuses before dialing: fail over
    return first_emu, second_emu, first, second_agent


def _die_on_the_fallback(monkeypatch, call, second, *, reached=True, **place):
    _kill_at_create(monkeypatch, second.provider_account_id, reached=reached)
    with pytest.raises(Killed):
        services.place_call(call, **place)
    monkeypatch.undo()
    left = Call.objects.get(pk=call.pk)
    # What the dead worker left, committed: the row names the fallback and its account, and the
    # attempt is recorded as sent.
    assert (left.agent_id, left.provider_account_id, left.provider) == (second.pk, second.provider_account_id,
                                                                         "callingbox")
    assert [(e["agent_id"], e["outcome"]) for e in left.routing][-2:] == [
        (str(call.agent.public_id), "provider_unavailable"), (str(second.public_id), routing.SENDING)]
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=timezone.now() - timedelta(seconds=120))


def _reads(emu) -> int:
    return sum(n for (method, _), n in emu.requests.items() if method == "GET")


def test_killed_while_the_fallback_creates_the_call_it_is_adopted_at_the_fallback(emulators, make_agent, run_jobs,
                                                                                   monkeypatch):
    first_emu, second_emu, first, second = _pair(emulators, make_agent)
    call = new_call(first, TO, scheduled_at=timezone.now())
    _die_on_the_fallback(monkeypatch, call, second, retry_transient=True)
    assert sweep_interrupted_placements() == 1
    run_jobs()
    call.refresh_from_db()
    assert call.provider_call_id == next(iter(second_emu.calls))
    assert call.agent_id == second.pk and call.status != CallStatus.FAILED
    assert first_emu.creates[TO] == 0 and second_emu.creates[TO] == 1  # 0 double dials
    assert _reads(first_emu) == 0  # recovery never asked the first provider
    assert [(e["agent_id"], e["outcome"], e.get("note")) for e in call.routing] == [
        (str(first.public_id), "provider_unavailable", None),
        (str(second.public_id), "placed", "found at the provider after an interrupted placement")]
    assert call.events.filter(note="accepted by the provider (found after an interrupted placement)").count() == 1


def test_an_api_call_killed_on_the_fallback_is_adopted_there(emulators, make_agent, run_jobs, monkeypatch):
    """An inline placement (POST /v1/calls) holds its claim from creation and is never re-placed:
    adopting it at the fallback is the only outcome that keeps the live call."""
    first_emu, second_emu, first, second = _pair(emulators, make_agent)
    call = services.create_call(org=first.organization, agent=first, to_number=TO, claim=True)
    call = Call.objects.select_related("agent", "provider_account", "organization").get(pk=call.pk)
    _kill_at_create(monkeypatch, second.provider_account_id, reached=True)
    with pytest.raises(Killed):
        services._dial(call, source="api")
    monkeypatch.undo()
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=timezone.now() - timedelta(seconds=120))
    assert services.reconcile_placement(call.pk) == "adopted"
    call.refresh_from_db()
    assert call.provider_call_id == next(iter(second_emu.calls)) and call.error_code == ""
    assert first_emu.creates[TO] == 0 and second_emu.creates[TO] == 1 and _reads(first_emu) == 0
    assert [e["outcome"] for e in call.routing] == ["provider_unavailable", "placed"]


def test_killed_before_the_fallback_received_it_a_background_call_is_placed_there_once(emulators, make_agent,
                                                                                        run_jobs, monkeypatch):
    first_emu, second_emu, first, second = _pair(emulators, make_agent)
    call = new_call(first, TO, scheduled_at=timezone.now())
    _die_on_the_fallback(monkeypatch, call, second, reached=False, retry_transient=True)
    assert services.reconcile_placement(call.pk) == "replaced"
    released = Call.objects.get(pk=call.pk)
    assert released.dial_claimed_at is None and released.agent_id == second.pk
    assert [(e["outcome"], e.get("error_code")) for e in released.routing] == [
        ("provider_unavailable", "provider_unavailable"), ("interrupted", "not_received")]
    run_jobs()  # the placement job reconcile queued
    call.refresh_from_db()
    assert call.provider_call_id == next(iter(second_emu.calls))
    assert first_emu.creates[TO] == 0 and second_emu.creates[TO] == 1
    assert [e["outcome"] for e in call.routing] == ["provider_unavailable", "interrupted", "placed"]


def test_killed_on_a_fallback_that_cannot_prove_absence_fails_without_a_second_dial(emulators, make_agent,
                                                                                    monkeypatch):
    """The fallback's account drops callops' id from its call objects (prompt-based, webhook_url
    echoed without its query): its list cannot show the call is not there, so the call fails
    placement_interrupted, and neither provider is asked to dial again."""
    second_emu = emulators("callingbox", api="prompt", echo_webhook_url="path")
    first_emu, second_emu, first, second = _pair(
        emulators, make_agent, second_emu=second_emu, agent_id="",
        credentials={"api_key": second_emu.api_key, "create_api": "prompt"})
    call = new_call(first, TO, scheduled_at=timezone.now(), instructions="Confirm the visit.")
    _die_on_the_fallback(monkeypatch, call, second, retry_transient=True)
    assert services.reconcile_placement(call.pk) == "unverified"
    call.refresh_from_db()
    assert (call.status, call.error_code, call.provider_call_id) == ("failed", "placement_interrupted", "")
    assert f"interrupted and {second.provider_account.kind} could not show" in call.error_message
    assert [(e["agent_id"], e["outcome"], e.get("error_code")) for e in call.routing] == [
        (str(first.public_id), "provider_unavailable", "provider_unavailable"),
        (str(second.public_id), "placement_interrupted", "unverified")]
    assert first_emu.creates[TO] == 0 and second_emu.creates[TO] == 1 and _reads(first_emu) == 0


def test_a_worker_that_lost_its_claim_sends_nothing_to_the_fallback(emulators, make_agent):
    """A worker slow enough that its claim was given up and the call placed again must not go on
    to the next agent: the write before each request is conditional on the claim."""
    first_emu, second_emu, first, second = _pair(emulators, make_agent)
    call = new_call(first, TO, scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    stale = Call.objects.select_related("agent", "provider_account", "organization").get(pk=call.pk)
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=timezone.now() + timedelta(seconds=1))  # another's claim
    returned = services._dial(stale, source="system")
    assert returned.dial_claimed_at != stale.dial_claimed_at
    assert second_emu.creates[TO] == 0 and sum(second_emu.requests.values()) == 0
    assert sum(first_emu.requests.values()) == 0  # not even the first agent: the claim is another's
    assert Call.objects.get(pk=call.pk).agent_id == first.pk
