"""The CallingBox emulator checked by the official SDK (callingbox 0.1.0) over loopback: it accepts
every request the SDK sends and answers in the shapes the SDK parses, and its errors reach the SDK
as the SDK's own exceptions with the emulator's message."""

from __future__ import annotations

import pytest
from callingbox import Callingbox
from callingbox._exceptions import AuthenticationError, BadRequestError, NotFoundError
from callingbox.types.call import Call
from callingbox.types.pagination import Page

from .conftest import EMU_SPEED

NUMBER = "+14155550171"
RETURNS = {"confirmed": "boolean"}
TOOLS = [{"type": "end_call", "description": "hang up once confirmed"}]


@pytest.fixture(params=["prompt", "both"])
def emu(request, emulators):
    return emulators("callingbox", api=request.param)


@pytest.fixture
def cb(emu):
    with Callingbox(api_key=emu.api_key, base_url=emu.url) as client:
        yield client


def test_create_with_every_sdk_argument_and_read_it_back(cb, emu):
    created = cb.calls.create(NUMBER, prompt="Confirm Tuesday.", context={"name": "Ada"}, returns=RETURNS,
                              language="es", from_="+15550000000", webhook_url="https://example.com/hook?x=1",
                              voicemail_action="leave_message", tools=TOOLS)
    assert isinstance(created, Call)
    assert emu.calls[created.id].request == {
        "to": NUMBER, "prompt": "Confirm Tuesday.", "context": {"name": "Ada"}, "returns": RETURNS, "language": "es",
        "from_number": "+15550000000", "webhook_url": "https://example.com/hook?x=1",
        "voicemail_action": "leave_message", "tools": TOOLS}
    assert (created.to_number, created.from_number, created.status, created.direction) == (
        NUMBER, "+15550000000", "queued", "outbound")
    assert (created.prompt, created.context, created.returns, created.tools) == (
        "Confirm Tuesday.", {"name": "Ada"}, RETURNS, TOOLS)
    # The SDK reads the language from CallingBox's own metadata; no caller keys are there.
    assert (created.language, created.metadata) == ("es", {"language": "es"})
    assert created.webhook_url == "https://example.com/hook?x=1" and created.webhook_status == "pending"
    assert created.created_at.endswith("Z") and created.updated_at and created.reservation_status == "reserved"
    assert created.result_status is None and created.result is None

    got = cb.calls.retrieve(created.id)
    assert (got.id, got.to_number, got.prompt, got.language) == (created.id, NUMBER, "Confirm Tuesday.", "es")


def test_a_completed_call_reads_as_the_sdk_expects(cb, emu, clock):
    created = cb.calls.create(NUMBER, prompt="Confirm.", returns=RETURNS)
    clock.advance(60 / EMU_SPEED)
    done = cb.calls.retrieve(created.id)
    assert (done.status, done.result_status, done.result) == ("completed", "completed",
                                                              {"appointment_confirmed": True, "party_size": 2})
    assert done.duration_seconds == done.billed_duration_seconds and done.duration_seconds > 0
    assert done.billing_amount_milli_cents == done.duration_seconds * 150 and done.reservation_status == "settled"
    assert done.started_at and done.answered_at and done.ended_at and done.hangup_cause is None
    segments = cb.calls.retrieve_transcript(created.id)
    assert [(s.sequence_no, s.role) for s in segments] == [(1, "agent"), (2, "user")]
    assert all(s.text and s.started_at and s.duration_ms == 1500 for s in segments)


def test_list_pages_forward_and_backward_as_the_sdk_does(cb, emu):
    ids = [cb.calls.create(f"+1415555{n:04d}").id for n in range(200, 205)]
    newest_first = list(reversed(ids))
    first = cb.calls.list(limit=2)
    assert isinstance(first, Page) and [c.id for c in first] == newest_first[:2] and first.has_more is True
    second = cb.calls.list(limit=2, starting_after=first[-1].id)
    assert [c.id for c in second] == newest_first[2:4] and second.has_more is True
    last = cb.calls.list(limit=2, starting_after=second[-1].id)
    assert [c.id for c in last] == newest_first[4:] and last.has_more is False
    # iter_calls follows starting_after to the end; with ending_before it walks back to the newest.
    assert [c.id for c in cb.calls.iter_calls(limit=2)] == newest_first
    assert [c.id for c in cb.calls.iter_calls(limit=2, ending_before=ids[0])] == newest_first[:4]
    assert [c.id for c in cb.calls.list()] == newest_first  # the default limit (20)


def test_numbers_through_the_sdk(cb):
    owned = cb.numbers.list()
    assert [n.e164 for n in owned] == ["+15550000000"]
    available = cb.numbers.search_available(area_code="415", limit=2)
    assert [a.phone_number for a in available] == ["+14155550100", "+14155550101"]
    bought = cb.numbers.purchase(available[0].phone_number)
    assert (bought.e164, bought.number_type, bought.status) == ("+14155550100", "local", "active")
    assert [n.e164 for n in cb.numbers.list()] == ["+14155550100", "+15550000000"]


def test_errors_reach_the_sdk_as_its_exceptions(cb, emu):
    with pytest.raises(BadRequestError, match="to must be a US number in E.164 format"):
        cb.calls.create("+442071234567")
    with pytest.raises(BadRequestError, match="voicemail_action must be hangup or leave_message"):
        cb.calls.create(NUMBER, voicemail_action="beep")
    with pytest.raises(NotFoundError, match="call nope not found"):
        cb.calls.retrieve("nope")
    with pytest.raises(BadRequestError, match="no such call nope"):
        cb.calls.list(starting_after="nope")
    with Callingbox(api_key="wrong", base_url=emu.url) as bad, pytest.raises(AuthenticationError,
                                                                             match="invalid API key"):
        bad.calls.list()
    assert emu.calls == {}


def _receiver(answer):
    """A loopback receiver answering `answer(headers)`; returns (url, what it saw, stop)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append({"body": self.rfile.read(int(self.headers["Content-Length"])), **dict(self.headers)})
            self.send_response(answer(seen[-1]))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/hook", seen, server.shutdown


def test_events_verify_with_the_sdk_and_are_retried_until_a_2xx(emulators):
    from callingbox.resources.webhooks import Webhooks

    from tests.helpers import wait_for

    queued = iter([503, 400, 200])
    url, seen, stop = _receiver(lambda h: next(queued) if h["CallingBox-Event-Type"] == "call.queued" else 200)
    try:
        emu = emulators("callingbox", api="prompt", secret="whsec_sdk", speed=1e6)  # the schedule in microseconds
        emu.script(NUMBER, "busy")
        with Callingbox(api_key=emu.api_key, base_url=emu.url) as cb:
            created = cb.calls.create(NUMBER, webhook_url=url)
        # call.queued, call.ringing and call.busy: the first one is answered 503, then 400, then 200.
        wait_for(lambda: len(seen) == 5 and emu.pending_callbacks() == 0, "the deliveries and the retries")
    finally:
        stop()
    by_type: dict[str, list] = {}
    for h in seen:
        by_type.setdefault(h["CallingBox-Event-Type"], []).append(h["CallingBox-Event-Id"])
    assert sorted(by_type) == ["call.busy", "call.queued", "call.ringing"]
    assert len(by_type["call.queued"]) == 3 and len(set(by_type["call.queued"])) == 1  # one event id, three tries
    assert len(by_type["call.ringing"]) == len(by_type["call.busy"]) == 1
    queued_id = by_type["call.queued"][0]
    assert [(a, st) for e, a, st in emu.deliveries if e == queued_id] == [(1, 503), (2, 400), (3, 200)]
    for h in seen:
        assert (h["X-CallingBox-Event"], h["X-CallingBox-Call-Id"]) == (h["CallingBox-Event-Type"], created.id)
        event = Webhooks.construct_event(h["body"], h["CallingBox-Signature"], "whsec_sdk", tolerance=0)
        assert (event.id, event.type, event.api_version) == (h["CallingBox-Event-Id"], h["CallingBox-Event-Type"],
                                                              "2026-04")
        assert event.data["call"]["id"] == created.id and isinstance(event.created, int)


def test_a_delivery_is_exhausted_after_eight_attempts(emulators):
    from tests.helpers import wait_for

    url, seen, stop = _receiver(lambda h: 500)
    try:
        emu = emulators("callingbox", api="prompt", speed=1e6)
        emu.script(NUMBER, "canceled")  # two events: call.queued and call.canceled
        emu.new_call("c-1", NUMBER, callback_url=url, request={"to": NUMBER})
        wait_for(lambda: emu.pending_callbacks() == 0 and len(seen) >= 16, "eight attempts of each event")
    finally:
        stop()
    events = sorted({e for e, _, _ in emu.deliveries})
    assert len(events) == 2 and len(seen) == 16
    for event in events:
        assert [(a, st) for e, a, st in emu.deliveries if e == event] == [(n, 500) for n in range(1, 9)]
