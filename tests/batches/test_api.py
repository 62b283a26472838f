"""/v1/batches: create from JSON and CSV, preview, validation errors, tenancy, actions, calls."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from callops.batches.models import Batch, BatchRecipient, BatchRejection
from callops.calls.models import Call

pytestmark = pytest.mark.django_db


def _create(api, agent, **body):
    return api.post("/v1/batches", {"agent_id": str(agent.public_id), **body})


def test_create_from_json_with_nested_settings(api, sandbox_agent):
    r = _create(api, sandbox_agent, name="Renewals", default_country="US",
                recipients=[{"phone": "(415) 555-0123", "context": {"first_name": "Ada"}},
                            {"phone": "+14155550123"}, {"phone": "nope"}, "+14155550124"],
                window={"start_hour": 9, "end_hour": 18, "days": [1, 2, 3, 4, 5]},
                retry={"max_attempts": 3, "intervals": [60, 600], "on": ["busy", "no_answer"]},
                circuit_breaker={"threshold": 0.4, "min_calls": 10, "window_seconds": 120},
                max_concurrency=5, calls_per_minute=30, start_at="2099-01-01T09:00:00+02:00")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "scheduled" and body["start_at"] == "2099-01-01T07:00:00Z"
    assert (body["recipients"], body["rejected"], body["duplicates"]) == (2, 2, 1)
    assert body["window"] == {"start_hour": 9, "end_hour": 18, "days": [1, 2, 3, 4, 5]}
    assert body["retry"] == {"max_attempts": 3, "intervals": [60, 600], "on": ["busy", "no_answer"]}
    assert body["circuit_breaker"]["threshold"] == 0.4
    assert [r["reason"][:9] for r in body["rejected_rows"]] == ["duplicate", "'nope' is"]
    batch = Batch.objects.get(public_id=body["id"])
    assert BatchRecipient.objects.get(batch=batch, row_number=1).context == {"first_name": "Ada"}


def test_create_from_multipart_csv_and_dry_run(api, sandbox_agent):
    csv = b"\xef\xbb\xbfName,Phone Number\nAda,+14155550123\nBob,555\n"
    for dry in ("true", ""):
        upload = SimpleUploadedFile("list.csv", csv, content_type="text/csv")
        r = api.client.post("/v1/batches", {"agent_id": str(sandbox_agent.public_id), "file": upload,
                                            "phone_column": "phone number", "dry_run": dry,
                                            "calls_per_minute": "10"}, headers=api._headers({}))
        body = r.json()
        if dry:
            assert r.status_code == 200 and body["object"] == "batch_preview"
            assert (body["valid"], body["rejected"]) == (1, 1)
            assert body["valid_rows"][0] == {"row": 1, "phone": "+14155550123", "context": {"Name": "Ada"},
                                             "timezone": "America/Los_Angeles"}
            assert not Batch.objects.exists()
        else:
            assert r.status_code == 201, body
            assert body["status"] == "running" and body["calls_per_minute"] == 10


@pytest.mark.parametrize("body,field", [
    ({"recipients": []}, "recipients"),
    ({"recipients": ["garbage"]}, "recipients"),
    ({"recipients": ["+14155550123"], "max_concurrency": 0}, "max_concurrency"),
    ({"recipients": ["+14155550123"], "window": {"start_hour": 18, "end_hour": 9}}, "window"),
    ({"recipients": ["+14155550123"], "start_at": "2099-01-01T09:00:00"}, "start_at"),
    ({"recipients": ["+14155550123"], "retry": {"on": ["completed"]}}, "retry_on"),
    ({"recipients": ["+14155550123"], "timezone": "Mars/Olympus"}, "timezone"),
    ({"recipients": ["+14155550123"], "mode": "provider"}, "mode"),
])
def test_bad_input_is_400_and_writes_nothing(api, sandbox_agent, body, field):
    r = _create(api, sandbox_agent, **body)
    assert r.status_code == 400, r.json()
    assert r.json()["error"] and field in r.json()["fields"]
    assert not Batch.objects.exists() and not BatchRejection.objects.exists() and not Call.objects.exists()


def test_csv_errors_are_400(api, sandbox_agent):
    for content, message in ((b"", "empty"), (b"name\nAda\n", "no phone column")):
        upload = SimpleUploadedFile("x.csv", content, content_type="text/csv")
        r = api.client.post("/v1/batches", {"agent_id": str(sandbox_agent.public_id), "file": upload},
                            headers=api._headers({}))
        assert r.status_code == 400 and message in r.json()["error"]
    assert not Batch.objects.exists()


def test_tenancy_read_only_and_actions(api, api_readonly, api_outsider, sandbox_agent):
    assert _create(api_outsider, sandbox_agent, recipients=["+14155550123"]).status_code == 400
    assert _create(api_readonly, sandbox_agent, recipients=["+14155550123"]).status_code == 403
    body = _create(api, sandbox_agent, recipients=["+14155550123", "+14155550124"],
                   start_at="2099-01-01T00:00:00Z").json()
    url = f"/v1/batches/{body['id']}"
    assert api_outsider.get(url).status_code == 404
    assert api_outsider.post(url + "/pause").status_code == 404
    assert api_readonly.post(url + "/pause").status_code == 403
    assert [b["id"] for b in api.get("/v1/batches").json()["data"]] == [body["id"]]
    assert api_outsider.get("/v1/batches").json()["data"] == []
    r = api.post(url + "/pause")
    assert r.status_code == 200 and r.json()["status"] == "paused"
    assert api.post(url + "/pause").status_code == 409
    # Paused while waiting for its start time: resuming puts it back to waiting, not running.
    resumed = api.post(url + "/resume").json()
    assert resumed["status"] == "scheduled" and resumed["started_at"] is None
    assert resumed["start_at"] == "2099-01-01T00:00:00Z"
    from callops.webhooks.models import WebhookEvent

    assert not WebhookEvent.objects.filter(type="batch.started").exists()
    from callops.batches.jobs import tick_batch

    tick_batch(Batch.objects.get(public_id=body["id"]).pk)
    assert not Call.objects.exists()  # still waiting for 2099
    detail = api.get(url).json()
    assert detail["progress"]["recipients"] == 2 and "states" in detail["progress"]
    assert api.post(url + "/stop").json()["status"] == "stopped"
    assert api.post(url + "/stop").status_code == 409
    assert api.get(url + "/calls").json()["data"] == []
    assert api.get("/v1/batches/not-a-uuid").status_code == 404


def test_batch_calls_listing(api, sandbox_agent, run_jobs, clock):
    from callops.batches import jobs

    body = _create(api, sandbox_agent, recipients=["+14155550123", "+14155550124"], calls_per_minute=1000).json()
    pk = Batch.objects.get(public_id=body["id"]).pk
    # Pacing starts with one token and earns one every 60 ms: the first tick dispatches the first
    # recipient only, a tick 60 ms later the second.
    jobs.tick_batch(pk)
    run_jobs()
    assert Call.objects.filter(batch_id=pk).count() == 1
    clock.advance(0.06)
    jobs.tick_batch(pk)
    run_jobs()
    assert Call.objects.filter(batch_id=pk).count() == 2
    calls = api.get(f"/v1/batches/{body['id']}/calls").json()["data"]
    assert len(calls) == 2 and {c["batch_id"] for c in calls} == {body["id"]}
    assert api.get("/v1/calls", {"batch_id": body["id"]}).json()["data"][0]["batch_id"] == body["id"]


def test_idempotency_key_creates_one_batch_for_json_and_for_a_reuploaded_csv(api, sandbox_agent):
    body = {"agent_id": str(sandbox_agent.public_id), "recipients": ["+14155550123", "+14155550124"], "hold": True}
    first = api.post("/v1/batches", body, headers={"Idempotency-Key": "campaign-7"})
    again = api.post("/v1/batches", body, headers={"Idempotency-Key": "campaign-7"})
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and Batch.objects.count() == 1
    other = api.post("/v1/batches", {**body, "recipients": ["+14155550125"]}, headers={"Idempotency-Key": "campaign-7"})
    assert other.status_code == 409 and Batch.objects.count() == 1

    # A multipart retry carries a new boundary; the same fields and file are the same request.
    from django.test.client import encode_multipart

    csv = b"phone\n+14155550126\n"
    answers = []
    for boundary in ("BoUnDaRy-one", "another-boundary-2"):
        upload = SimpleUploadedFile("list.csv", csv, content_type="text/csv")
        raw = encode_multipart(boundary, {"agent_id": str(sandbox_agent.public_id), "file": upload, "hold": "true"})
        answers.append(api.client.generic("POST", "/v1/batches", raw,
                                          content_type=f"multipart/form-data; boundary={boundary}",
                                          headers=api._headers({"Idempotency-Key": "upload-1"})))
    assert [a.status_code for a in answers] == [201, 201] and answers[1]["Idempotent-Replayed"] == "true"
    assert Batch.objects.count() == 2
    changed = SimpleUploadedFile("list.csv", b"phone\n+14155550127\n", content_type="text/csv")
    conflict = api.client.post("/v1/batches", {"agent_id": str(sandbox_agent.public_id), "file": changed,
                                               "hold": "true"}, headers=api._headers({"Idempotency-Key": "upload-1"}))
    assert conflict.status_code == 409 and Batch.objects.count() == 2
