"""Hostile text (markup, quotes, ampersands) stored on a call comes out of the dashboard escaped:
timeline rows, transcript rows, payload panels and webhook delivery rows are template markup, so
autoescaping covers every value they print."""

from types import SimpleNamespace

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from callops.calls.models import CallEvent, CallStatus, EventSource

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert('x')</script> & \"quoted\""
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;"


def _detail(personas, call) -> str:
    return personas.viewer.client().get(reverse("dashboard:call_detail", args=[call.public_id])).content.decode()


def _between(page: str, start: str, end: str) -> str:
    at = page.index(start)
    return page[at:page.index(end, at)]


def test_timeline_rows_escape_what_they_print(personas, make_call):
    call = make_call(CallStatus.COMPLETED)
    CallEvent.objects.create(call=call, source=EventSource.CALLBACK, kind=CallEvent.Kind.NOTE, ignored=True,
                             raw_status=HOSTILE, reason=HOSTILE, note=HOSTILE, payload={"x": HOSTILE})
    timeline = _between(_detail(personas, call), 'data-testid="timeline"', "</ol>")
    assert "<script>" not in timeline and timeline.count(ESCAPED) == 3
    assert 'class="tl-item tl-ignored tl-note"' in timeline and "Provider callback" in timeline


def test_a_timeline_row_on_its_own_escapes_too():
    event = SimpleNamespace(id=7, status="", kind="note", from_status="", ignored=True, source="callback",
                            raw_status=HOSTILE, reason=HOSTILE, note=HOSTILE, has_payload=True,
                            created_at=timezone.now(), get_kind_display="Note",
                            get_source_display="Provider callback")
    html = render_to_string("dashboard/calls/detail.html#timeline_item", {"e": event})
    assert "<script>" not in html and html.count(ESCAPED) == 3
    assert 'class="tl-item tl-ignored tl-note"' in html and 'href="#payload-7"' in html


def test_transcript_rows_escape_role_and_text(personas, make_call):
    call = make_call(CallStatus.COMPLETED, transcript=[{"role": '"><b>', "text": HOSTILE}, {"text": "hello"}])
    transcript = _between(_detail(personas, call), '<ol class="transcript">', "</ol>")
    assert "<script>" not in transcript and "<b>" not in transcript and ESCAPED in transcript
    assert 'class="turn turn-&quot;&gt;&lt;b&gt;"' in transcript
    assert '<li class="turn turn-agent"><span class="turn-role">Agent</span><p>hello</p></li>' in transcript


def test_payload_panels_escape_the_raw_status(personas, make_call):
    call = make_call(CallStatus.COMPLETED)
    event = CallEvent.objects.create(call=call, source=EventSource.POLL, status="", raw_status=HOSTILE,
                                     payload={"status": HOSTILE})
    panels = _between(_detail(personas, call), 'id="payload-list"', 'id="input-h"')
    assert "<script>" not in panels and ESCAPED in panels
    assert f'hx-get="{reverse("dashboard:call_payload", args=[call.public_id, event.id])}"' in panels
    body = personas.viewer.client().get(reverse("dashboard:call_payload", args=[call.public_id, event.id]))
    assert "<script>" not in body.content.decode() and "&lt;script&gt;" in body.content.decode()


@pytest.fixture
def hostile_delivery(sandbox_agent):
    from callops.calls import services
    from callops.webhooks.models import WebhookAttempt, WebhookDelivery

    call = services.create_call(org=sandbox_agent.organization, agent=sandbox_agent, to_number="+14155550123",
                                source=EventSource.API, webhook_url="http://127.0.0.1:9/hook")
    delivery = WebhookDelivery.objects.get(call=call)
    WebhookAttempt.objects.create(delivery=delivery, number=1, url=delivery.url, request_body=HOSTILE,
                                  response_status=500, response_body=HOSTILE, duration_ms=12, error_kind="http",
                                  error=HOSTILE)
    return call, delivery


def test_webhook_delivery_rows_escape_errors_and_bodies(personas, hostile_delivery):
    call, delivery = hostile_delivery
    rows = _between(_detail(personas, call), 'class="deliveries"', "</ul>")
    assert "<script>" not in rows and ESCAPED in rows  # the attempt's error
    attempts = personas.viewer.client().get(reverse("dashboard:delivery_attempts", args=[delivery.public_id]))
    page = attempts.content.decode()
    assert attempts.status_code == 200 and "<script>" not in page
    assert page.count(ESCAPED) == 3  # the error, the request body and the response body
