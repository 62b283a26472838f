"""Batch pages at the tenant boundary: upload, preview (columns, valid and rejected rows), settings
with inline errors, start, live progress, exports, redial, badges, and the strict CSP."""

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callops.batches import services as batch_services
from callops.batches.batch_settings import clean_settings
from callops.batches.models import Batch, BatchStatus
from callops.calls.models import Call

pytestmark = pytest.mark.django_db

SETTINGS = {"max_attempts": "2", "retry_intervals": "60", "timezone": "UTC", "retry_on": ["busy", "no_answer"],
            "start_tz": "UTC"}


def upload(client, content: bytes, name="list.csv"):
    """Step 1; returns the preview URL it redirects to."""
    r = client.post(reverse("dashboard:batch_new"), {"file": SimpleUploadedFile(name, content)})
    assert r.status_code == 302, r.content.decode()[:2000]
    return r["Location"]


def confirm(client, preview_url, agent, action="start", **fields):
    return client.post(preview_url, {**SETTINGS, "agent_id": str(agent.public_id), "action": action, **fields})


def test_upload_pick_the_column_preview_then_start(personas, sandbox_agent):
    client = personas.member.client()
    body = "name,contact,city\nAda,+14155550123,SF\nBob,12,NYC\nCy,+14155550123,LA\nDee,=HYPERLINK(1),X\n"
    preview_url = upload(client, body.encode("utf-16"))
    assert not Batch.objects.exists()
    # No column is called phone: the page asks which one it is, offering the file's own columns.
    page = client.get(preview_url)
    html = page.content.decode()
    assert page.status_code == 400 and 'id="err-phone_column"' in html and "no phone column found" in html
    assert re.findall(r'<option value="(\w+)"', html[html.index('id="id_phone_column"'):])[:3] == [
        "name", "contact", "city"]
    # Picked: valid rows and rejected rows with their reasons, before anything is stored or dialed.
    page = client.post(preview_url, {**SETTINGS, "phone_column": "contact", "action": "preview"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "4 rows · 1 valid · 3 rejected (1 duplicates)" in html
    valid = html[html.index('data-testid="valid-rows"'):html.index('data-testid="rejected-rows"')]
    assert "+14155550123" in valid and "America/Los_Angeles" in valid and "name: Ada" in valid
    rejected = html[html.index('data-testid="rejected-rows"'):]
    assert "duplicate of an earlier row" in rejected and "&#x27;12&#x27;" in rejected
    link = re.search(r'href="([^"]+)" data-testid="rejected-download"', html).group(1).replace("&amp;", "&")
    download = client.get(link)
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[0] == ["row", "reason", "name", "contact", "city"]
    assert [r[0] for r in rows[1:]] == ["2", "3", "4"] and rows[3][3] == "'=HYPERLINK(1)"
    assert not Batch.objects.exists() and not Call.objects.exists()
    # Confirmed with a start time typed in a chosen zone: stored and scheduled, not dialed.
    r = confirm(client, preview_url, sandbox_agent, phone_column="contact", name="Renewals",
                start_at="2099-03-01T09:30", start_tz="Asia/Kolkata")
    batch = Batch.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("dashboard:batch_detail", args=[batch.public_id])
    assert batch.status == BatchStatus.SCHEDULED and batch.name == "Renewals" and batch.phone_column == "contact"
    assert batch.start_at == datetime(2099, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert (batch.recipient_count, batch.rejected_count, batch.duplicate_count) == (1, 3, 1)
    assert not Call.objects.exists()
    page = client.get(r["Location"]).content.decode()
    assert "Batch of 1 recipients scheduled." in page and "duplicate of an earlier row" in page
    # The draft is gone once used.
    assert client.get(preview_url).status_code == 404


def test_start_now_and_save_without_starting(personas, sandbox_agent):
    client = personas.member.client()
    url = upload(client, b"phone\n+14155550123\n+14155550124\n")
    page = client.get(url).content.decode()
    assert 'value="phone" selected' in page  # guessed from the header
    assert confirm(client, url, sandbox_agent, action="hold").status_code == 302
    assert Batch.objects.get().status == BatchStatus.CREATED
    url = upload(client, b"phone\n+14155550125\n")
    assert confirm(client, url, sandbox_agent).status_code == 302
    assert Batch.objects.order_by("-id").first().status == BatchStatus.RUNNING


def test_pasted_list(personas, sandbox_agent):
    client = personas.member.client()
    r = client.post(reverse("dashboard:batch_new"), {"pasted": "+14155550123\n+14155550124\n"})
    assert r.status_code == 302
    assert confirm(client, r["Location"], sandbox_agent).status_code == 302
    assert Batch.objects.get().recipient_count == 2


def test_step_one_errors(personas):
    client = personas.member.client()
    r = client.post(reverse("dashboard:batch_new"), {})
    assert r.status_code == 400 and 'id="err-file"' in r.content.decode()
    # A list that can make no batch is refused at step 1, before a step 2 offering Start.
    for content, words in ((b"", "the file is empty"), (b"name,phone\n", "a header but no rows")):
        r = client.post(reverse("dashboard:batch_new"), {"file": SimpleUploadedFile("list.csv", content)})
        assert r.status_code == 400 and words in r.content.decode()


BAD = {
    "breaker_min_calls": ("0", "between 1 and"),
    "breaker_window_seconds": ("5", "between 10 and"),
    "breaker_threshold": ("2", "failure rate above 0"),
    "max_concurrency": ("0", "between 1 and"),
    "calls_per_minute": ("many", "whole number"),
    "max_attempts": ("11", "between 1 and 10"),
    "retry_intervals": ("soon", "seconds between attempts"),
    "default_country": ("ZZ", "two-letter country code"),
    "timezone": ("Mars/Olympus", "IANA time zone"),
    "mode": ("provider", "no batch API"),
}


def test_every_field_shows_its_error_inline(personas, sandbox_agent):
    client = personas.member.client()
    url = upload(client, b"phone\n+14155550123\n")
    fields = {k: v for k, (v, _) in BAD.items()}
    r = confirm(client, url, sandbox_agent, window_start_hour="18", window_end_hour="9", window_days=["9"],
                start_at="2001-01-01T10:00", **{**fields, "retry_on": ["completed"]})
    html = r.content.decode()
    assert r.status_code == 400
    for field, (_, words) in {**BAD, "window": (None, "must end after it starts"),
                              "window_days": (None, "ISO weekdays"), "retry_on": (None, "no_answer, busy, failed"),
                              "start_at": (None, "in the past")}.items():
        error = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', html)
        assert error, field
        assert words in error.group(1).replace("&#x27;", "'"), (field, error.group(1))
        assert f'aria-describedby="err-{field}"' in html or f"err-{field}" in html
    # What was typed stays in the form.
    assert 'value="many"' in html and 'value="soon"' in html
    assert not Batch.objects.exists() and not Call.objects.exists()


def test_provider_mode_is_offered_for_agents_whose_provider_has_a_batch_api(personas, sandbox_agent):
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    client = personas.member.client()
    url = upload(client, b"phone\n+14155550123\n")
    html = client.get(url).content.decode()
    assert re.search(r'<option value="provider" data-needs-batches[^>]* disabled>', html)  # sandbox only
    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    bolna = Agent.objects.create(organization=personas.org, provider_account=account, name="Bolna agent",
                                 provider_agent_id="3c1f0a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
    html = client.get(url).content.decode()
    assert re.search(r'<option value="provider" data-needs-batches>', html)
    assert f'value="{bolna.public_id}" data-batches="1"' in html
    assert f'value="{sandbox_agent.public_id}" data-batches="0"' in html
    # A provider batch refuses what the provider cannot honour, next to the field.
    r = confirm(client, url, bolna, mode="provider", calls_per_minute="30")
    assert r.status_code == 400 and re.search(r'id="err-calls_per_minute">bolna dials a provider batch',
                                              r.content.decode())
    r = confirm(client, url, bolna, mode="provider", action="hold")
    assert r.status_code == 302 and Batch.objects.get().mode == "provider"


def test_roles_tenancy_and_drafts(personas, sandbox_agent):
    from callops.batches import recipient_lists

    member = personas.member.client()
    url = upload(member, b"phone\n+14155550123\n")
    # A draft is its uploader's: another member of the org, or another org, cannot see it.
    assert personas.owner.client().get(url).status_code == 404
    assert personas.outsider.client().get(url).status_code == 404
    assert personas.viewer.client().get(url).status_code == 403
    batch = batch_services.create_batch(org=personas.org, agent=sandbox_agent, settings=clean_settings({}),
                                        rows=recipient_lists.rows_from_json(["+14155550123"]), columns=["phone"], start=False)
    detail = reverse("dashboard:batch_detail", args=[batch.public_id])
    viewer = personas.viewer.client()
    assert viewer.get(detail).status_code == 200
    assert "Start batch" not in viewer.get(detail).content.decode()
    assert viewer.get(reverse("dashboard:batch_new")).status_code == 403
    assert viewer.post(reverse("dashboard:batch_action", args=[batch.public_id, "start"])).status_code == 403
    outsider = personas.outsider.client()
    for name in ("batch_detail", "batch_live", "batch_recipients", "batch_export", "batch_rejected"):
        assert outsider.get(reverse(f"dashboard:{name}", args=[batch.public_id])).status_code == 404
    assert outsider.post(reverse("dashboard:batch_action", args=[batch.public_id, "start"])).status_code == 404
    assert str(batch.public_id) not in outsider.get(reverse("dashboard:batches")).content.decode()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CREATED


def test_detail_live_exports_and_redial(personas, sandbox_agent):
    client = personas.member.client()
    url = upload(client, b"name,phone\nAda,+14155550123\nBob,12\n")
    confirm(client, url, sandbox_agent, action="hold")
    batch = Batch.objects.get()
    page = client.get(reverse("dashboard:batch_detail", args=[batch.public_id])).content.decode()
    assert "Start batch" in page and "Download rejected rows" in page
    r = client.post(reverse("dashboard:batch_action", args=[batch.public_id, "start"]))
    assert r.status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    live_url = reverse("dashboard:batch_live", args=[batch.public_id])
    # The live fragment is polled every 2 s: it reads the progress, never the recipient table or
    # the rejections.
    with CaptureQueriesContext(connection) as queries:
        live = client.get(live_url)
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.content.decode()
    sql = [q["sql"] for q in queries.captured_queries]
    assert not any('"calls_batchrejection"' in s for s in sql)
    assert not any('ORDER BY "calls_batchrecipient"."row_number"' in s for s in sql)
    client.post(reverse("dashboard:batch_action", args=[batch.public_id, "stop"]))
    from callops.batches.jobs import tick_batch

    tick_batch(batch.pk)  # nothing in flight: the stopped batch finishes draining
    assert client.get(live_url).status_code == 286
    export = client.get(reverse("dashboard:batch_export", args=[batch.public_id]))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:5] == ["row", "phone", "state", "outcome", "attempts"] and "name" in rows[0]
    assert rows[1][1] == "+14155550123" and rows[1][3] == "canceled"
    r = client.post(reverse("dashboard:batch_action", args=[batch.public_id, "redial"]), {"outcomes": ["canceled"]})
    again = Batch.objects.exclude(pk=batch.pk).get()
    assert r["Location"].endswith(f"/batches/{again.public_id}/") and again.recipient_count == 1


def test_recipient_table_is_polled_with_its_filters_and_stops_when_the_batch_ends(personas, sandbox_agent):
    from callops.batches import recipient_lists
    from callops.batches.models import BatchRecipient, RecipientState

    batch = batch_services.create_batch(org=personas.org, agent=sandbox_agent, settings=clean_settings({}),
                                        rows=recipient_lists.rows_from_json(["+14155550123", "+14155550124"]),
                                        columns=["phone"], start=False)
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    BatchRecipient.objects.filter(batch=batch, row_number=1).update(state=RecipientState.DIALING)
    client = personas.viewer.client()
    url = reverse("dashboard:batch_recipients", args=[batch.public_id])
    detail = client.get(reverse("dashboard:batch_detail", args=[batch.public_id]), {"state": "dialing"})
    page = detail.content.decode()
    assert f'id="batch-recipients" hx-get="{url}?state=dialing" hx-trigger="every 2s"' in page
    r = client.get(url, {"state": "dialing"})
    body = r.content.decode()
    assert r.status_code == 200 and body.lstrip().startswith('<div id="batch-recipients"')
    assert "+14155550123" in body and "+14155550124" not in body and "Calling" in body
    BatchRecipient.objects.filter(batch=batch).update(state=RecipientState.DONE, outcome="completed")
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.COMPLETED)
    r = client.get(url)
    body = r.content.decode()
    assert r.status_code == 286 and "hx-trigger" not in body
    assert body.count('data-testid="recipient-state">Done<') == 2


def test_batch_status_badges_have_one_distinct_colour_each(personas, sandbox_agent):
    from pathlib import Path

    from callops.batches import recipient_lists
    from callops.calls.models import CallStatus
    from callops.dashboard.templatetags.dashboard import TONES, status_badge

    tones = {status: TONES.get(status) for status in BatchStatus.values}
    assert None not in tones.values() and len(set(tones.values())) == len(BatchStatus.values) == 7
    # The same word means the same colour on a call and on a batch.
    assert tones["completed"] == TONES[CallStatus.COMPLETED] and tones["failed"] == TONES[CallStatus.FAILED]
    css = (Path(__file__).resolve().parents[2] / "static/css/app.css").read_text()
    for tone in tones.values():
        assert re.search(rf"\.badge-{tone} {{ background: var\(--{tone}-bg\); color: var\(--{tone}-fg\); }}", css)
    # And the batch list shows them.
    for status in BatchStatus.values:
        b = batch_services.create_batch(org=personas.org, agent=sandbox_agent, settings=clean_settings({}),
                                        rows=recipient_lists.rows_from_json(["+14155550123"]), columns=["phone"], start=False)
        Batch.objects.filter(pk=b.pk).update(status=status)
    page = personas.viewer.client().get(reverse("dashboard:batches")).content.decode()
    for status, tone in tones.items():
        assert str(status_badge(status)) in page and f"badge-{tone} status-{status}" in page


def test_batch_pages_keep_the_strict_csp(personas, sandbox_agent):
    from tests.dashboard.test_csp import InlineFinder

    client = personas.member.client()
    url = upload(client, b"name,phone\nAda,+14155550123\nBob,12\n")
    confirm(client, url, sandbox_agent, action="hold")
    batch = Batch.objects.get()
    draft = upload(client, b"name,phone\nAda,+14155550123\n")
    pages = [reverse("dashboard:batches"), reverse("dashboard:batch_new"), draft,
             reverse("dashboard:batch_detail", args=[batch.public_id]),
             reverse("dashboard:batch_live", args=[batch.public_id])]
    for page_url in pages:
        r = client.get(page_url)
        # The batch is held (created, not started): its live fragment says stop polling.
        live = page_url == reverse("dashboard:batch_live", args=[batch.public_id])
        assert r.status_code == (286 if live else 200), page_url
        policy = r["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        finder = InlineFinder()
        finder.feed(r.content.decode())
        assert finder.problems == [], (page_url, finder.problems)
    # The preview re-rendered with errors too.
    finder = InlineFinder()
    finder.feed(confirm(client, draft, sandbox_agent, max_attempts="99").content.decode())
    assert finder.problems == []
