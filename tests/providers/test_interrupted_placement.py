"""A worker killed between claiming a call and recording the provider's answer: the call is looked
up at the provider, adopted if it is there, placed again if it certainly is not (background calls),
or failed without dialing (calls placed inline for an API caller who saw the error)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callops.calls import services
from callops.calls.jobs import sweep_interrupted_placements
from callops.calls.models import Call, CallStatus

from .conftest import new_call

pytestmark = pytest.mark.django_db


def _claimed_long_ago(call, seconds=120):
    """What a dead worker leaves: the dial claim, no provider id."""
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=timezone.now() - timedelta(seconds=seconds))
    call.refresh_from_db()
    return call


def test_a_call_the_provider_received_is_adopted_not_dialed_again(emulators, make_agent, run_jobs):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu)
    call = new_call(agent, "+14155550131", scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    from callops.providers.registry import adapter_for

    placement = adapter_for(agent.provider_account).place_call(call)  # reached the provider ...
    _claimed_long_ago(call)  # ... and the worker died before writing the answer
    assert sweep_interrupted_placements() == 1
    run_jobs()
    call.refresh_from_db()
    assert call.provider_call_id == placement.provider_call_id
    assert emu.creates["+14155550131"] == 1
    assert call.events.filter(note__startswith="accepted by the provider (found after").count() == 1


def test_a_background_call_the_provider_never_received_is_placed_again_once(emulators, make_agent, run_jobs):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu)
    other = new_call(agent, "+14155550132")
    services.place_call(other)  # the account has other calls in its list
    call = new_call(agent, "+14155550133", scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    _claimed_long_ago(call)  # killed before the request left
    assert sweep_interrupted_placements() == 1
    run_jobs()
    call.refresh_from_db()
    assert call.provider_call_id and emu.creates["+14155550133"] == 1
    assert call.events.filter(note__contains="placing it again").count() == 1
    assert sweep_interrupted_placements() == 0  # settled


def test_an_inline_api_call_that_never_reached_the_provider_fails_without_dialing(emulators, make_agent, run_jobs):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu)
    call = services.create_call(org=agent.organization, agent=agent, to_number="+14155550134", claim=True)
    _claimed_long_ago(call)
    sweep_interrupted_placements()
    run_jobs()
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED and call.error_code == "placement_interrupted"
    assert emu.creates["+14155550134"] == 0


def test_recent_claims_and_providers_that_cannot_look_up_are_left_alone(emulators, make_agent):
    emu = emulators("callingbox")
    fresh = new_call(make_agent("callingbox", emu), "+14155550135", scheduled_at=timezone.now())
    assert services.claim_for_dialing(fresh)  # a placement may still be running
    polyai = new_call(make_agent("polyai", emulators("polyai")), "+14155550136", scheduled_at=timezone.now())
    assert services.claim_for_dialing(polyai)
    _claimed_long_ago(polyai)  # PolyAI has no list to look in: the stale check ends it instead
    assert sweep_interrupted_placements() == 0


def test_a_late_answer_after_the_claim_was_given_up_does_not_overwrite(personas, sandbox_agent):
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550137",
                                scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    stale_claim = call.dial_claimed_at
    # The sweep gave the claim up (the sandbox certainly has nothing) and the call was placed again.
    assert services.reconcile_placement(call.pk) == "replaced"
    assert services.claim_for_dialing(Call.objects.get(pk=call.pk))
    placed = services._dial(Call.objects.select_related("agent", "provider_account", "organization").get(pk=call.pk),
                            source="system")
    # The first worker wakes up and records its own answer under its old claim: ignored.
    late = Call.objects.select_related("agent", "provider_account", "organization").get(pk=call.pk)
    late.dial_claimed_at, late.provider_call_id = stale_claim, ""
    returned = services._dial(late, source="system")
    assert Call.objects.get(pk=call.pk).provider_call_id == placed.provider_call_id == returned.provider_call_id
    assert call.events.filter(note="accepted by the provider").count() == 1


def test_the_lookup_reads_the_whole_list_when_the_provider_ignores_the_number_filter(emulators, make_agent,
                                                                                    run_jobs):
    emu = emulators("callingbox")
    unfiltered = emu.list_calls
    emu.list_calls = lambda req: (req.query.pop("to", None), unfiltered(req))[1]
    agent = make_agent("callingbox", emu)
    for i in range(3):
        services.place_call(new_call(agent, f"+1415555014{i}"))
    call = new_call(agent, "+14155550149", scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    from callops.providers.registry import adapter_for

    adapter = adapter_for(agent.provider_account)
    # Every listed call is newer than the claim and the list says it has no more: not there.
    assert adapter.find_placement(call, since=call.dial_claimed_at) is None
    placement = adapter.place_call(call)
    assert adapter.find_placement(call, since=call.dial_claimed_at).provider_call_id == placement.provider_call_id


def test_a_provider_that_cannot_look_up_leaves_the_call_to_the_stale_check(emulators, make_agent):
    call = new_call(make_agent("polyai", emulators("polyai")), "+14155550138", scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    claim = _claimed_long_ago(call).dial_claimed_at
    assert services.reconcile_placement(call.pk) == "unknown"
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.dial_claimed_at == claim  # the stale clock is untouched


def test_a_failed_lookup_is_tried_again_later_and_changes_nothing(emulators, make_agent):
    from callops.providers.emulators.core import Faults

    emu = emulators("callingbox", faults=Faults(p500=1.0))
    call = new_call(make_agent("callingbox", emu), "+14155550139", scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    claim = _claimed_long_ago(call).dial_claimed_at
    assert services.reconcile_placement(call.pk) == "error"
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.dial_claimed_at == claim and not call.provider_call_id
    assert emu.creates["+14155550139"] == 0


def test_a_prompt_based_callingbox_call_is_found_by_its_webhook_url(emulators, make_agent, run_jobs):
    """The SDK's prompt-based create carries no metadata; its webhook_url names the callops call."""
    from callops.providers.base import PlacementUnknown
    from callops.providers.registry import adapter_for

    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu, agent_id="")  # no CallingBox agent: the prompt-based create
    services.place_call(new_call(agent, "+14155550141", instructions="Confirm the visit."))  # another call, same number
    call = new_call(agent, "+14155550141", instructions="Confirm the visit.", scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    adapter = adapter_for(agent.provider_account)
    # Same number, same prompt, same account: still not this call.
    assert adapter.find_placement(call, since=call.dial_claimed_at) is None
    # A list whose calls do not echo webhook_url proves nothing either way.
    render = emu.render
    emu.render = lambda c, step=-1: {k: v for k, v in render(c, step).items() if k != "webhook_url"}
    with pytest.raises(PlacementUnknown, match="names no callops call id"):
        adapter.find_placement(call, since=call.dial_claimed_at)
    emu.render = render

    placement = adapter.place_call(call)  # reached the provider, and the worker died
    sent = emu.calls[placement.provider_call_id].request
    assert sent["webhook_url"] == f"{agent.provider_account.callback_url}?callops_call_id={call.public_id}"
    assert "metadata" not in sent and "agent_id" not in sent
    _claimed_long_ago(call)
    assert sweep_interrupted_placements() == 1
    run_jobs()
    call.refresh_from_db()
    assert call.provider_call_id == placement.provider_call_id
    assert emu.creates["+14155550141"] == 2  # the other call and this one: never a second dial of it
    assert call.events.filter(note__startswith="accepted by the provider (found after").count() == 1
