"""Fallback agents over the loopback emulators: each refusal that proves nobody was dialed moves the
call (same row, same id) to the next agent; a timeout after the request was sent never does."""

import json
import threading

import pytest
from django.utils import timezone

from callops.calls import routing, services
from callops.calls.models import Call, CallStatus, EventSource
from callops.providers import circuits, ratelimit

from .conftest import new_call

pytestmark = pytest.mark.django_db

TO = "+14155550171"


@pytest.fixture
def pair(emulators, make_agent):
    """A CallingBox agent whose fallback is a Bolna agent, each on its own emulator."""
    first_emu, second_emu = emulators("callingbox"), emulators("bolna")
    first, second = make_agent("callingbox", first_emu), make_agent("bolna", second_emu)
    routing.set_fallbacks(first, [second])
    return first_emu, second_emu, first, second


def _inline(agent, number=TO) -> Call:
    """What POST /v1/calls does: a call created holding its claim, dialed at once."""
    call = services.create_call(org=agent.organization, agent=agent, to_number=number, claim=True)
    return services._dial(Call.objects.select_related("agent", "provider_account", "organization").get(pk=call.pk),
                          source=EventSource.API)


def _assert_failed_over(call, first_emu, second_emu, first, second, outcome, *, first_asked=True):
    call.refresh_from_db()
    # Bolna answers a create with `queued`: accepted, not a status change.
    assert call.status == CallStatus.QUEUED and call.provider_status == "queued"
    assert call.agent_id == second.pk and call.provider == "bolna" and call.provider_account_id == second.provider_account_id
    assert call.provider_call_id
    assert [(e["agent_id"], e["provider"], e["outcome"]) for e in call.routing] == [
        (str(first.public_id), "callingbox", outcome), (str(second.public_id), "bolna", "placed")]
    assert first_emu.creates[TO] == 0 and second_emu.creates[TO] == 1
    assert sum(first_emu.requests.values()) > 0 if first_asked else sum(first_emu.requests.values()) == 0
    notes = list(call.events.filter(note__startswith="routing:").values_list("note", flat=True))
    assert notes == [f"routing: {first.name} (CallingBox) refused: {outcome}; trying {second.name}",
                     f"routing: placed on {second.name} (Bolna)"]


def test_a_5xx_fails_over_to_the_next_agent(pair):
    first_emu, second_emu, first, second = pair
    first_emu.faults.force("500", "create")
    call = _inline(first)
    _assert_failed_over(call, first_emu, second_emu, first, second, "provider_unavailable")


def test_a_refused_connection_fails_over(emulators, make_agent):
    second_emu = emulators("bolna")
    first = make_agent("callingbox", None, credentials={"api_key": "k"})
    first.provider_account.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    first.provider_account.save()
    second = make_agent("bolna", second_emu)
    routing.set_fallbacks(first, [second])
    call = _inline(first)
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.provider_call_id and call.agent_id == second.pk
    assert [e["outcome"] for e in call.routing] == ["connection_refused", "placed"]
    assert second_emu.creates[TO] == 1


def test_a_provider_429_fails_over(pair):
    first_emu, second_emu, first, second = pair
    first_emu.faults.force("429", "create")
    call = _inline(first)
    _assert_failed_over(call, first_emu, second_emu, first, second, "rate_limited")


def test_an_account_paused_past_the_budget_wait_fails_over_without_a_request(pair, settings):
    first_emu, second_emu, first, second = pair
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT_SECONDS = 0.5
    ratelimit.pause(first.provider_account.pk, 30)  # an earlier 429 paused the account for 30 s
    call = _inline(first)
    _assert_failed_over(call, first_emu, second_emu, first, second, "rate_limited", first_asked=False)


def test_quota_exceeded_fails_over(emulators, make_agent):
    first_emu = emulators("dograh", quota_exceeded=True)
    second_emu = emulators("bolna")
    first, second = make_agent("dograh", first_emu), make_agent("bolna", second_emu)
    routing.set_fallbacks(first, [second])
    call = _inline(first)
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.provider_call_id and call.agent_id == second.pk
    assert [(e["provider"], e["outcome"], e.get("error_code")) for e in call.routing] == [
        ("dograh", "balance_low", "insufficient_funds"), ("bolna", "placed", None)]
    assert first_emu.creates[TO] == 0 and second_emu.creates[TO] == 1


def test_a_disabled_account_is_skipped_without_a_request(pair):
    first_emu, second_emu, first, second = pair
    first.provider_account.is_active = False
    first.provider_account.save()
    call = _inline(first)
    _assert_failed_over(call, first_emu, second_emu, first, second, "account_disabled", first_asked=False)


def test_credentials_the_provider_refuses_fail_over(emulators, make_agent):
    first_emu, second_emu = emulators("callingbox"), emulators("bolna")
    first = make_agent("callingbox", first_emu, credentials={"api_key": "revoked"})
    second = make_agent("bolna", second_emu)
    routing.set_fallbacks(first, [second])
    call = _inline(first)
    call.refresh_from_db()
    assert [e["outcome"] for e in call.routing] == ["account_refused", "placed"] and call.agent_id == second.pk


def test_an_open_circuit_is_skipped_without_a_request(pair):
    first_emu, second_emu, first, second = pair
    for _ in range(circuits.min_samples()):
        circuits.record(first.provider_account.pk, circuits.ERROR, 0.1)
    assert circuits.health(first.provider_account.pk).state == circuits.OPEN
    call = _inline(first)
    _assert_failed_over(call, first_emu, second_emu, first, second, "circuit_open", first_asked=False)


def test_a_timeout_after_sending_with_nothing_at_the_provider_fails_without_a_second_dial(pair):
    first_emu, second_emu, first, second = pair
    first_emu.faults.force("timeout", "create")
    call = _inline(first)
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED and call.error_code == "timeout"
    assert call.agent_id == first.pk and not call.provider_call_id
    assert [(e["agent_id"], e["outcome"]) for e in call.routing] == [(str(first.public_id), "timeout")]
    assert second_emu.creates[TO] == 0 and sum(second_emu.requests.values()) == 0
    assert call.events.filter(note__contains="the provider may have dialed, so no other agent is tried").count() == 1


def test_a_timeout_after_the_provider_created_the_call_adopts_it(pair, clock):
    first_emu, second_emu, first, second = pair
    create = first_emu.create
    gave_up = threading.Event()

    def slow_create(req):
        answer = create(req)  # the provider dials ...
        gave_up.wait(60)      # ... and answers only once the client has given up (a bound, not a pace)
        return answer

    first_emu.create = slow_create
    try:
        call = _inline(first)
    finally:
        gave_up.set()
    call.refresh_from_db()
    assert first_emu.creates[TO] == 1 and second_emu.creates[TO] == 0
    assert call.agent_id == first.pk and call.provider_call_id == next(iter(first_emu.calls))
    # The test clock stands still, so the provider's call is still where it started: queued.
    assert call.status == CallStatus.QUEUED and call.provider_status == "queued"
    assert [(e["outcome"], e.get("note")) for e in call.routing] == [("placed", "found at the provider after timeout")]


def test_a_permanent_refusal_does_not_fail_over(pair):
    first_emu, second_emu, first, second = pair
    call = _inline(first, "+1415555")  # CallingBox refuses the number itself: every provider would
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED and call.agent_id == first.pk
    assert [e["outcome"] for e in call.routing] == ["invalid_request"]
    assert sum(second_emu.creates.values()) == 0


def test_every_agent_refusing_fails_the_call_with_the_last_refusal(pair):
    first_emu, second_emu, first, second = pair
    first_emu.faults.force("500", "create")
    second_emu.faults.force("500", "create")
    call = _inline(first)
    call.refresh_from_db()
    assert call.status == CallStatus.FAILED and call.error_code == "provider_unavailable"
    assert [e["outcome"] for e in call.routing] == ["provider_unavailable", "provider_unavailable"]
    assert "bolna answered 500" in call.error_message


def test_a_background_call_every_agent_refused_retries_from_its_first_agent(pair):
    first_emu, second_emu, first, second = pair
    first_emu.faults.force("500", "create")
    second_emu.faults.force("500", "create")
    call = new_call(first, TO, scheduled_at=timezone.now())
    services.place_call(call, retry_transient=True)
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.dial_claimed_at is None and call.scheduled_at is not None
    assert call.agent_id == first.pk and call.provider == "callingbox"
    services.place_call(call, retry_transient=True)  # the retry: the first agent answers now
    call.refresh_from_db()
    assert call.agent_id == first.pk and first_emu.creates[TO] == 1 and second_emu.creates[TO] == 0
    assert [e["outcome"] for e in call.routing] == ["provider_unavailable", "provider_unavailable", "placed"]


def test_the_api_call_keeps_one_id_and_the_idempotency_key_covers_the_routed_placement(pair, api):
    first_emu, second_emu, first, second = pair
    first_emu.faults.force("500", "create")
    body = {"to": TO, "agent_id": str(first.public_id)}
    created = api.post("/v1/calls", body, headers={"Idempotency-Key": "route-1"})
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["agent_id"] == str(second.public_id) and data["provider"] == "bolna"
    assert [(s["agent_id"], s["provider"], s["outcome"]) for s in data["routing"]] == [
        (str(first.public_id), "callingbox", "provider_unavailable"), (str(second.public_id), "bolna", "placed")]
    assert [e["note"] for e in data["timeline"] if (e["note"] or "").startswith("routing:")] == [
        f"routing: {first.name} (CallingBox) refused: provider_unavailable; trying {second.name}",
        f"routing: placed on {second.name} (Bolna)"]
    replay = api.post("/v1/calls", body, headers={"Idempotency-Key": "route-1"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert json.loads(replay.content)["id"] == data["id"]
    assert first_emu.creates[TO] == 0 and second_emu.creates[TO] == 1
    assert Call.objects.filter(to_number=TO).count() == 1
    read = api.get(f"/v1/calls/{data['id']}").json()
    assert read["routing"] == data["routing"]


def test_fallbacks_are_checked(make_agent, emulators, personas, outsider_agent):
    agent = make_agent("callingbox", emulators("callingbox"))
    with pytest.raises(routing.RoutingConfigError, match="own fallback"):
        routing.set_fallbacks(agent, [agent])
    with pytest.raises(routing.RoutingConfigError, match="in this organization"):
        routing.set_fallbacks(agent, [outsider_agent])
    assert routing.fallbacks_of(agent) == []


def test_bolnas_balance_low_after_accepting_moves_the_call_to_the_fallback(emulators, make_agent, drive, api):
    """Bolna queues a create, then ends it `balance-low` (the wallet cannot pay for the dial): nobody
    was dialed, so the same call is placed on the fallback instead of failing."""
    bolna_emu, cb_emu = emulators("bolna"), emulators("callingbox")
    bolna_emu.script(TO, bolna_emu.outcomes["balance_low"])
    first, second = make_agent("bolna", bolna_emu), make_agent("callingbox", cb_emu)
    routing.set_fallbacks(first, [second])
    created = api.post("/v1/calls", {"to": TO, "agent_id": str(first.public_id)})
    assert created.status_code == 201 and created.json()["status"] == "queued"
    call = Call.objects.get(public_id=created.json()["id"])
    execution = call.provider_call_id
    assert drive([call.pk])
    call.refresh_from_db()
    assert (call.status, call.agent_id, call.provider) == (cb_emu.expected_final(TO), second.pk, "callingbox")
    assert call.provider_call_id in cb_emu.calls
    assert bolna_emu.creates[TO] == 1 and cb_emu.creates[TO] == 1  # Bolna never dialed: one dial in all
    assert [(e["agent_id"], e["provider"], e["outcome"], e.get("error_code")) for e in call.routing] == [
        (str(first.public_id), "bolna", "balance_low", "balance_low"),
        (str(second.public_id), "callingbox", "placed", None)]
    notes = list(call.events.filter(note__startswith="routing: ").order_by("id"))
    assert [n.note for n in notes] == [
        f"routing: {first.name} (Bolna) reported balance-low before dialing anyone; trying {second.name}",
        f"routing: placed on {second.name} (CallingBox)"]
    assert notes[0].payload["provider_call_id"] == execution
    assert not call.events.filter(status=CallStatus.FAILED).exists()  # never failed on the way
    body = api.get(f"/v1/calls/{call.public_id}").json()
    assert body["id"] == created.json()["id"] and [s["outcome"] for s in body["routing"]] == ["balance_low", "placed"]


def test_bolnas_balance_low_without_a_fallback_fails_the_call(emulators, make_agent, drive):
    emu = emulators("bolna")
    emu.script(TO, emu.outcomes["balance_low"])
    call = services.place_call(new_call(make_agent("bolna", emu), TO))
    assert drive([call.pk])
    call.refresh_from_db()
    assert (call.status, call.error_code) == (CallStatus.FAILED, "balance_low") and emu.creates[TO] == 1


def test_a_replayed_key_after_every_agent_refused_answers_the_same_502_and_asks_no_one(pair, api):
    """The key covers the whole routed placement, failed ones too: the replay neither dials nor
    asks either provider again, and names the same call."""
    first_emu, second_emu, first, second = pair
    first_emu.faults.force("500", "create")
    second_emu.faults.force("500", "create")
    body = {"to": TO, "agent_id": str(first.public_id)}
    failed = api.post("/v1/calls", body, headers={"Idempotency-Key": "route-502"})
    assert failed.status_code == 502, failed.content
    asked = (sum(first_emu.requests.values()), sum(second_emu.requests.values()))
    assert asked == (1, 1)
    replay = api.post("/v1/calls", body, headers={"Idempotency-Key": "route-502"})
    assert (replay.status_code, replay["Idempotent-Replayed"], replay.json()) == (502, "true", failed.json())
    assert (sum(first_emu.requests.values()), sum(second_emu.requests.values())) == asked
    call = Call.objects.get(to_number=TO)
    assert failed.json()["call_id"] == str(call.public_id) and call.status == CallStatus.FAILED
    assert [e["outcome"] for e in call.routing] == ["provider_unavailable", "provider_unavailable"]


def test_the_call_page_shows_each_routing_step_and_its_timeline_lines(pair, personas):
    from django.urls import reverse
    from django.utils.html import escape

    first_emu, second_emu, first, second = pair
    first_emu.faults.force("500", "create")
    call = _inline(first)
    page = personas.viewer.client().get(reverse("dashboard:call_detail", args=[call.public_id])).content.decode()
    assert (f'<dd data-testid="routing">{first.name} (callingbox): provider_unavailable → '
            f'{second.name} (bolna): placed</dd>') in page
    for note in (f"routing: {first.name} (CallingBox) refused: provider_unavailable; trying {second.name}",
                 f"routing: placed on {second.name} (Bolna)"):
        assert escape(note) in page
