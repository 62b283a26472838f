"""Batch pages at the tenant boundary: upload with preview, start, live progress, exports, redial."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from callops.calls import batches
from callops.calls.models import Batch, BatchStatus

pytestmark = pytest.mark.django_db

FORM = {"calls_per_minute": "60", "max_concurrency": "5", "max_attempts": "2", "retry_intervals": "60",
        "timezone": "UTC", "retry_on": ["busy", "no_answer"]}


def _upload(client, agent, content: bytes, **extra):
    data = {**FORM, "agent_id": str(agent.public_id), "file": SimpleUploadedFile("l.csv", content), **extra}
    return client.post(reverse("dashboard:batch_new"), data)


def test_upload_preview_start_and_pages(personas, sandbox_agent):
    client = personas.member.client()
    body = "name,phone\nAda,+14155550123\nBob,12\nCy,+14155550123\nDee,=HYPERLINK(1)\n".encode("utf-16")
    r = _upload(client, sandbox_agent, body, name="Renewals")
    assert r.status_code == 302, r.content.decode()[:2000]
    batch = Batch.objects.get()
    assert batch.status == BatchStatus.CREATED and (batch.recipient_count, batch.rejected_count) == (1, 3)
    page = client.get(r["Location"]).content.decode()
    assert "Start batch" in page and "duplicate of an earlier row" in page and "Download rejected rows" in page
    rejected = client.get(reverse("dashboard:batch_rejected", args=[batch.public_id]))
    rows = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode())))
    assert rows[0] == ["row", "reason", "name", "phone"]
    assert [r[0] for r in rows[1:]] == ["2", "3", "4"] and rows[3][3] == "'=HYPERLINK(1)"
    r = client.post(reverse("dashboard:batch_action", args=[batch.public_id, "start"]))
    assert r.status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING
    live = client.get(reverse("dashboard:batch_live", args=[batch.public_id]))
    assert live.status_code == 200 and 'hx-trigger="every 2s"' in live.content.decode()
    assert "Renewals" in client.get(reverse("dashboard:batches")).content.decode()
    client.post(reverse("dashboard:batch_action", args=[batch.public_id, "stop"]))
    batch.refresh_from_db()
    assert batch.status == BatchStatus.STOPPED
    from callops.calls.batch_jobs import tick_batch

    tick_batch(batch.pk)  # nothing in flight: the stopped batch finishes draining
    assert client.get(reverse("dashboard:batch_live", args=[batch.public_id])).status_code == 286
    export = client.get(reverse("dashboard:batch_export", args=[batch.public_id]))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:5] == ["row", "phone", "state", "outcome", "attempts"] and "name" in rows[0]
    assert rows[1][1] == "+14155550123" and rows[1][3] == "canceled"
    r = client.post(reverse("dashboard:batch_action", args=[batch.public_id, "redial"]), {"outcomes": ["canceled"]})
    again = Batch.objects.exclude(pk=batch.pk).get()
    assert r["Location"].endswith(f"/batches/{again.public_id}/") and again.recipient_count == 1


def test_pasted_list_and_errors(personas, sandbox_agent):
    client = personas.member.client()
    r = client.post(reverse("dashboard:batch_new"), {**FORM, "agent_id": str(sandbox_agent.public_id),
                                                     "pasted": "+14155550123\n+14155550124\n"})
    assert r.status_code == 302 and Batch.objects.get().recipient_count == 2
    r = _upload(client, sandbox_agent, b"", window_start_hour="18", window_end_hour="9")
    page = r.content.decode()
    assert r.status_code == 200 and "the file is empty" in page and "must end after it starts" in page
    r = _upload(client, sandbox_agent, b"name\nAda\n")
    assert "no phone column" in r.content.decode()
    assert Batch.objects.count() == 1


def test_roles_and_tenancy(personas, sandbox_agent):
    from callops.calls import batch_csv

    batch = batches.create_batch(org=personas.org, agent=sandbox_agent, settings=batches.clean_settings({}),
                                 rows=batch_csv.rows_from_json(["+14155550123"]), columns=["phone"], start=False)
    detail = reverse("dashboard:batch_detail", args=[batch.public_id])
    viewer = personas.viewer.client()
    assert viewer.get(detail).status_code == 200
    assert "Start batch" not in viewer.get(detail).content.decode()
    assert viewer.get(reverse("dashboard:batch_new")).status_code == 403
    assert viewer.post(reverse("dashboard:batch_action", args=[batch.public_id, "start"])).status_code == 403
    outsider = personas.outsider.client()
    for name in ("batch_detail", "batch_live", "batch_export", "batch_rejected"):
        assert outsider.get(reverse(f"dashboard:{name}", args=[batch.public_id])).status_code == 404
    assert outsider.post(reverse("dashboard:batch_action", args=[batch.public_id, "start"])).status_code == 404
    assert str(batch.public_id) not in outsider.get(reverse("dashboard:batches")).content.decode()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CREATED
