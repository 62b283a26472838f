"""Dashboard pages across personas: tenancy (404), roles (403 and hidden actions), live fragments."""

import re

import pytest
from django.urls import reverse

from callops.calls.models import Call, CallStatus

pytestmark = pytest.mark.django_db


def detail_url(call, name="dashboard:call_detail"):
    return reverse(name, args=[call.public_id])


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_every_page_renders_for_every_member_role(personas, make_call, role):
    call = make_call(CallStatus.COMPLETED, to="+14155550177")
    client = getattr(personas, role).client()
    # (url, expected status, text the response must contain). A completed call's live fragments
    # answer 286 (htmx stops polling) with their final content.
    expected = [
        (reverse("dashboard:overview"), 200, "Open problems, last 7 days"),
        (reverse("dashboard:calls"), 200, call.to_number),
        (detail_url(call), 200, str(call.public_id)),
        (detail_url(call, "dashboard:call_live"), 286, 'data-status="completed"'),
        (detail_url(call, "dashboard:call_row"), 286, call.to_number),
        (detail_url(call, "dashboard:call_payloads"), 200, f'"call_id": "{call.public_id}"'),
        (reverse("dashboard:calls_export"), 200, str(call.public_id)),
    ]
    for url, status, text in expected:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code == status, (url, response.status_code)
        assert text in body.decode(), (url, text)
    live = client.get(detail_url(call, "dashboard:call_live")).content.decode()
    assert "hx-trigger" not in live and "Timeline" in live


def test_pages_need_sign_in(client, make_call):
    call = make_call()
    for url in [reverse("dashboard:overview"), reverse("dashboard:calls"), detail_url(call),
                reverse("dashboard:call_new")]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("name", ["dashboard:call_detail", "dashboard:call_live", "dashboard:call_row",
                                  "dashboard:call_payloads"])
def test_outsider_gets_404_on_another_orgs_call(personas, make_call, name):
    call = make_call()
    assert personas.outsider.client().get(detail_url(call, name)).status_code == 404


@pytest.mark.parametrize("name", ["dashboard:call_cancel", "dashboard:call_rerun_extraction"])
def test_outsider_gets_404_on_actions(personas, make_call, name):
    call = make_call(CallStatus.QUEUED)
    assert personas.outsider.client().post(detail_url(call, name)).status_code == 404
    assert Call.objects.get(pk=call.pk).status == CallStatus.QUEUED


def test_outsider_lists_and_exports_only_their_own_calls(personas, make_call, outsider_agent):
    ours = make_call(to="+14155550111")
    theirs = make_call(agent=outsider_agent, to="+14155550999")
    client = personas.outsider.client()
    page = client.get(reverse("dashboard:calls")).content.decode()
    assert theirs.to_number in page and ours.to_number not in page
    csv_body = b"".join(client.get(reverse("dashboard:calls_export")).streaming_content).decode()
    assert str(theirs.public_id) in csv_body and str(ours.public_id) not in csv_body
    overview = client.get(reverse("dashboard:overview")).content.decode()
    assert "Globex agent" in overview and "Sandbox agent" not in overview


def test_malformed_id_is_404(personas):
    assert personas.owner.client().get("/calls/not-a-uuid/").status_code == 404


def test_viewer_sees_no_action_forms_and_gets_403_on_actions(personas, make_call):
    call = make_call(CallStatus.RINGING)
    viewer = personas.viewer.client()
    page = viewer.get(detail_url(call)).content.decode()
    assert "Cancel call" not in page
    assert reverse("dashboard:call_cancel", args=[call.public_id]) not in page
    assert reverse("dashboard:call_new") not in page
    assert viewer.post(detail_url(call, "dashboard:call_cancel")).status_code == 403
    assert viewer.post(detail_url(call, "dashboard:call_rerun_extraction")).status_code == 403
    assert viewer.get(reverse("dashboard:call_new")).status_code == 403
    assert viewer.post(reverse("dashboard:call_new"), {"to": "+14155550123"}).status_code == 403
    assert Call.objects.get(pk=call.pk).status == CallStatus.RINGING
    assert Call.objects.count() == 1


def test_member_sees_and_uses_the_cancel_button(personas, make_call):
    call = make_call(CallStatus.QUEUED)
    member = personas.member.client()
    page = member.get(detail_url(call)).content.decode()
    assert reverse("dashboard:call_cancel", args=[call.public_id]) in page
    response = member.post(detail_url(call, "dashboard:call_cancel"), follow=True)
    assert response.status_code == 200
    call.refresh_from_db()
    assert call.status == CallStatus.CANCELED
    assert "Call canceled." in response.content.decode()
    assert call.events.filter(source="user", status=CallStatus.CANCELED).exists()


def test_cancel_too_late_is_a_message_not_an_error(personas, make_call):
    call = make_call(CallStatus.COMPLETED)
    response = personas.member.client().post(detail_url(call, "dashboard:call_cancel"), follow=True)
    assert response.status_code == 200
    assert "can no longer be canceled" in response.content.decode()
    assert Call.objects.get(pk=call.pk).status == CallStatus.COMPLETED


def test_actions_refuse_get(personas, make_call):
    call = make_call(CallStatus.QUEUED)
    assert personas.owner.client().get(detail_url(call, "dashboard:call_cancel")).status_code == 405


def test_live_fragments_poll_until_terminal_then_286(personas, make_call):
    live = make_call(CallStatus.RINGING)
    done = make_call(CallStatus.COMPLETED)
    client = personas.viewer.client()
    r = client.get(detail_url(live, "dashboard:call_live"))
    assert r.status_code == 200 and 'hx-trigger="every 2s"' in r.content.decode()
    r = client.get(detail_url(done, "dashboard:call_live"))
    assert r.status_code == 286 and "hx-trigger" not in r.content.decode()
    r = client.get(detail_url(live, "dashboard:call_row"))
    assert r.status_code == 200 and "hx-trigger" in r.content.decode()
    r = client.get(detail_url(done, "dashboard:call_row"))
    assert r.status_code == 286 and "hx-trigger" not in r.content.decode()
    assert r.content.decode().strip().startswith("<tr")


def test_detail_keeps_polling_while_extraction_is_pending(personas, make_call):
    call = make_call(CallStatus.COMPLETED, result_status="pending", returns={"confirmed": "boolean"})
    r = personas.viewer.client().get(detail_url(call, "dashboard:call_live"))
    assert r.status_code == 200
    Call.objects.filter(pk=call.pk).update(result_status="completed", result={"confirmed": True})
    r = personas.viewer.client().get(detail_url(call, "dashboard:call_live"))
    assert r.status_code == 286
    assert "confirmed" in r.content.decode()


def test_detail_shows_timeline_with_raw_words_sources_and_ignored_reports(personas, make_call):
    from callops.calls import services

    call = make_call(CallStatus.COMPLETED)
    services.apply_status(call, CallStatus.RINGING, source="callback", raw_status="late-ringing")
    page = personas.viewer.client().get(detail_url(call)).content.decode()
    timeline = page[page.index('data-testid="timeline"'):page.index("</ol>", page.index('data-testid="timeline"'))]
    assert timeline.count('class="tl-item') == 6  # created, initiated, ringing, in_progress, completed, stale
    assert "raw-in_progress" in timeline and "Provider poll" in timeline and "Provider callback" in timeline
    assert 'tl-item tl-ignored' in timeline and "ignored: call already completed" in timeline


def test_payloads_json_view_and_download(personas, make_call):
    call = make_call(CallStatus.COMPLETED)
    client = personas.viewer.client()
    r = client.get(detail_url(call, "dashboard:call_payloads"))
    body = r.json()
    assert body["call_id"] == str(call.public_id)
    assert [e["payload"]["status"] for e in body["events"]] == [
        "raw-initiated", "raw-ringing", "raw-in_progress", "raw-completed"]
    assert "Content-Disposition" not in r
    r = client.get(detail_url(call, "dashboard:call_payloads") + "?download=1")
    assert r["Content-Disposition"].startswith("attachment;")


def test_nav_renders_only_routes_that_exist(personas):
    page = personas.owner.client().get(reverse("dashboard:overview")).content.decode()
    nav = page[page.index('class="sidenav"'):page.index("</nav>", page.index('class="sidenav"'))]
    assert reverse("dashboard:calls") in nav
    hrefs = re.findall(r'href="([^"]+)"', nav)
    for href in hrefs:
        assert personas.owner.client().get(href).status_code == 200, href


def test_org_switcher_and_sign_out_forms_post(personas):
    from callops.accounts import services as accounts

    accounts.add_member(personas.other_org, personas.owner.user, "viewer")
    client = personas.owner.client()
    page = client.get(reverse("dashboard:overview")).content.decode()
    assert f'action="{reverse("switch_org")}"' in page and f'action="{reverse("logout")}"' in page
    assert "Globex" in page
    client.post(reverse("switch_org"), {"org": str(personas.other_org.public_id), "next": "/calls/"})
    page = client.get(reverse("dashboard:calls")).content.decode()
    assert 'selected>Globex' in page


def test_member_reruns_extraction_and_viewer_sees_no_button(personas, make_call):
    call = make_call(CallStatus.COMPLETED, returns={"confirmed": "boolean"}, result_status="failed",
                     result_error="confirmed: could not parse")
    rerun_url = detail_url(call, "dashboard:call_rerun_extraction")
    assert rerun_url not in personas.viewer.client().get(detail_url(call)).content.decode()
    member = personas.member.client()
    assert rerun_url in member.get(detail_url(call)).content.decode()
    r = member.post(rerun_url, follow=True)
    assert r.status_code == 200 and "Extraction re-run started." in r.content.decode()
    call.refresh_from_db()
    assert call.result_status == "pending"
    assert call.events.filter(kind="extraction", source="user").exists()


def test_rerun_refused_with_a_message_when_not_possible(personas, make_call):
    call = make_call(CallStatus.FAILED, returns={"confirmed": "boolean"})
    r = personas.member.client().post(detail_url(call, "dashboard:call_rerun_extraction"), follow=True)
    assert r.status_code == 200 and "extraction runs only for completed calls" in r.content.decode()


def test_status_badge_has_one_tone_per_status():
    from callops.calls.models import CallStatus
    from callops.dashboard.templatetags.dashboard import TONES, status_badge

    assert set(CallStatus.values) <= set(TONES)
    html = status_badge("no_answer")
    assert 'class="badge badge-warning status-no_answer"' in html and ">No answer<" in html
    assert "badge-empty" in status_badge("")


def test_times_render_as_utc_time_elements(personas, make_call):
    call = make_call()
    page = personas.viewer.client().get(detail_url(call)).content.decode()
    iso = call.created_at.isoformat()
    assert f'<time datetime="{iso}"' in page
    assert f'title="{call.created_at:%Y-%m-%d %H:%M:%S} UTC"' in page


def test_overview_days_follow_the_readers_timezone_cookie(personas, make_call):
    from datetime import timedelta

    from django.utils import timezone

    make_call()
    client = personas.viewer.client()
    client.cookies["tz"] = "Pacific%2FKiritimati"  # UTC+14: set by app.js, URL-encoded
    page = client.get(reverse("dashboard:overview")).content.decode()
    local_today = (timezone.now() + timedelta(hours=14)).strftime("%a %d")
    assert local_today in page
    client.cookies["tz"] = "Not/AZone"
    assert client.get(reverse("dashboard:overview")).status_code == 200


def element(html: str, element_id: str) -> str:
    """The outer HTML of the element with this id (a small parser: tags nest in our templates)."""
    from html.parser import HTMLParser

    class Finder(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=False)
            self.depth, self.start, self.end, self.tag = 0, None, None, None

        def handle_starttag(self, tag, attrs):
            if self.start is None and dict(attrs).get("id") == element_id:
                self.start, self.tag, self.depth = self.getpos(), tag, 1
            elif self.start is not None and self.end is None and tag == self.tag:
                self.depth += 1

        def handle_endtag(self, tag):
            if self.start is not None and self.end is None and tag == self.tag:
                self.depth -= 1
                if self.depth == 0:
                    self.end = self.getpos()

    f = Finder()
    f.feed(html)
    lines = html.splitlines(keepends=True)
    offset = lambda pos: sum(len(x) for x in lines[:pos[0] - 1]) + pos[1]  # noqa: E731
    return html[offset(f.start):offset(f.end)]


def test_detail_links_to_its_batch_page(personas, make_call, sandbox_agent):
    from callops.batches import recipient_lists
    from callops.batches import services as batch_services
    from callops.batches.batch_settings import clean_settings

    batch = batch_services.create_batch(org=personas.org, agent=sandbox_agent, settings=clean_settings(
        {"name": "Renewals"}), rows=recipient_lists.rows_from_json(["+14155550123"]), columns=["phone"], start=False)
    call = make_call(CallStatus.COMPLETED)
    Call.objects.filter(pk=call.pk).update(batch=batch)
    page = personas.viewer.client().get(detail_url(call)).content.decode()
    link = reverse("dashboard:batch_detail", args=[batch.public_id])
    assert f'<a href="{link}" data-testid="batch-link">Renewals</a>' in page


def test_live_poll_leaves_payload_panels_alone_and_appends_new_ones(personas, make_call):
    from callops.calls import services

    call = make_call(CallStatus.RINGING)
    client = personas.viewer.client()
    page = client.get(detail_url(call)).content.decode()
    polled = element(page, "call-live")
    payloads = list(call.events.filter(payload__isnull=False).order_by("id"))
    last = payloads[-1].id
    # The polled element holds the timeline, summary and result, not the payload panels (an
    # opened panel would close on every swap).
    assert "Timeline" in polled and "Summary" in polled and 'class="payload"' not in polled
    assert f'payloads_after={last}"' in polled
    assert all(f'id="payload-{e.id}"' in element(page, "payload-list") for e in payloads)
    live = client.get(detail_url(call, "dashboard:call_live") + f"?payloads_after={last}").content.decode()
    assert 'class="payload"' not in live  # nothing new: no panel is sent again
    assert 'id="call-title" hx-swap-oob="true"' in live  # the status and actions up top follow along
    assert 'id="call-actions" hx-swap-oob="true"' in live and "data-copy" not in live
    services.apply_status(call, CallStatus.IN_PROGRESS, source="callback", raw_status="answered",
                          payload={"status": "answered", "id": "prov-1"})
    new = call.events.latest("id")
    live = client.get(detail_url(call, "dashboard:call_live") + f"?payloads_after={last}").content.decode()
    appended = live[live.index('hx-swap-oob="beforeend:#payload-list"'):]
    assert f'id="payload-{new.id}"' in appended and f'id="payload-{last}"' not in live
    assert f'payloads_after={new.id}"' in live
    assert 'data-testid="call-status"><span class="badge badge-live status-in_progress">' in live


def test_payload_bodies_load_when_their_panel_opens(personas, make_call, outsider_agent):
    call = make_call(CallStatus.COMPLETED)
    event = call.events.filter(payload__isnull=False).order_by("id").first()
    client = personas.viewer.client()
    page = client.get(detail_url(call)).content.decode()
    url = reverse("dashboard:call_payload", args=[call.public_id, event.id])
    # The page carries each panel's summary and where to fetch its body, not the payloads.
    assert f'hx-get="{url}" hx-trigger="toggle once"' in page and "raw-initiated" not in page.split("Timeline")[0]
    assert '&quot;id&quot;: &quot;prov-1&quot;' not in page
    body = client.get(url)
    assert body.status_code == 200
    assert '<pre class="code">{\n  &quot;id&quot;: &quot;prov-1&quot;,\n  &quot;status&quot;: &quot;raw-initiated&quot;\n}</pre>' == \
        body.content.decode().strip()
    assert personas.outsider.client().get(url).status_code == 404
    other = make_call(CallStatus.COMPLETED, agent=outsider_agent)
    assert client.get(reverse("dashboard:call_payload", args=[other.public_id, event.id])).status_code == 404
    created = call.events.filter(payload__isnull=True).first()
    assert client.get(reverse("dashboard:call_payload", args=[call.public_id, created.id])).status_code == 404


def test_overview_defines_its_rates_and_guides_a_first_run(personas, sandbox_agent, make_call):
    from callops.accounts import services as accounts

    client = personas.viewer.client()
    page = client.get(reverse("dashboard:overview")).content.decode()
    assert 'data-testid="def-answer">Answered ÷ calls that ended (completed, no answer, busy, failed; not canceled).<' in page
    assert 'data-testid="def-completion">Completed ÷ the same calls that ended.<' in page
    assert 'data-testid="first-run"' in page
    assert '<li class="step-done" data-testid="step-agent">' in page  # the sandbox agent exists
    assert '<li class="" data-testid="step-key">' in page and '<li class="" data-testid="step-endpoint">' in page
    accounts.create_api_key(personas.org, "backend")
    assert '<li class="step-done" data-testid="step-key">' in client.get(reverse("dashboard:overview")).content.decode()
    make_call()
    assert 'data-testid="first-run"' not in client.get(reverse("dashboard:overview")).content.decode()
