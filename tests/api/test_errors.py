"""Every error under /v1/ is JSON {"error": ...} with the documented status."""

import json

from callops.calls.models import Call


def test_unknown_route_is_json_404(api):
    response = api.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json() == {"error": "no such route: /v1/nothing-here"}


def test_wrong_method_is_json_405(api):
    response = api.delete("/v1/calls")
    assert response.status_code == 405 and response.json() == {"error": "method DELETE is not allowed on /v1/calls"}


def test_oversized_body_is_413_and_creates_nothing(api, sandbox_agent, settings):
    settings.API_MAX_BODY_BYTES = 1000
    payload = {"agent_id": str(sandbox_agent.public_id), "to": "+12025550100", "instructions": "x" * 2000}
    response = api.post("/v1/calls", payload)
    assert response.status_code == 413
    assert response.json() == {"error": "request body is 2094 bytes; the limit is 1000"}
    assert not Call.objects.exists()


def test_rate_limit_429_with_retry_after(api, settings, clock):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    codes = [api.get("/v1/calls").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200]
    response = api.get("/v1/calls")
    assert response.status_code == 429
    # The test clock stands at the start of a minute: the whole window, plus the second it rounds up.
    assert response["Retry-After"] == "61"
    assert response.json() == {
        "error": "rate limit of 3 requests per minute exceeded for this API key; retry after 61 seconds"}


def test_rate_limit_is_per_key(api, api_readonly, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    assert api.get("/v1/calls").status_code == 200
    assert api.get("/v1/calls").status_code == 429
    assert api_readonly.get("/v1/calls").status_code == 200


def test_unexpected_error_is_json_500(api, sandbox_agent, monkeypatch):
    from callops.calls import services

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "submit_call", explode)
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+12025550100"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error; the request may be retried"}
    assert "boom" not in response.content.decode()


def test_openapi_document_is_3_1_and_lists_routes(client, db):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    doc = json.loads(response.content)
    assert doc["openapi"].startswith("3.1")
    assert {"/v1/calls", "/v1/calls/{call_id}", "/v1/calls/{call_id}/cancel", "/v1/agents"} <= set(doc["paths"])
    post = doc["paths"]["/v1/calls"]["post"]
    assert {"201", "400", "401", "403", "409", "413", "429", "502"} <= set(post["responses"])


def test_reference_page_lists_every_operation_without_inline_script(client, db):
    response = client.get("/docs/api/")
    assert response.status_code == 200
    html = response.content.decode()
    for route in ("/v1/calls", "/v1/calls/{call_id}/cancel", "/v1/agents"):
        assert f"<code>{route}</code>" in html
    assert "Idempotency-Key" in html and "CallOut" in html
    assert "<script>" not in html and "cdn" not in html.lower()
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_nul_characters_are_refused_before_any_write(api, sandbox_agent):
    body = {"agent_id": str(sandbox_agent.public_id), "to": "+12025550100", "instructions": "hi\u0000there"}
    response = api.post("/v1/calls", body)
    nul = {"error": "request body contains a NUL character (\\u0000), which is not allowed"}
    assert response.status_code == 400 and response.json() == nul
    response = api.post("/v1/calls", {**body, "instructions": "ok", "context": {"k\u0000": 1}})
    assert response.status_code == 400 and response.json() == nul
    response = api.get("/v1/calls", {"to": "+1202\x00555"})
    assert response.status_code == 400 and response.json() == {"error": "query parameters must not contain NUL characters"}
    assert not Call.objects.exists()


def test_multipart_without_boundary_is_400(api, sandbox_agent):
    response = api.client.post("/v1/batches", b"phone\n+12025550100\n", content_type="multipart/form-data",
                               headers={"Authorization": f"Bearer {api.secret}"})
    assert response.status_code == 400
    assert response.json() == {"error": "the multipart body cannot be read: Invalid boundary in multipart: None"}


def test_csv_with_nul_bytes_is_not_a_crash(api, sandbox_agent, clock):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("list.csv", b"phone,name\n+1415\x00555\x000123,A\x00nn\n+12025550100,Bo\n",
                                content_type="text/csv")
    response = api.client.post("/v1/batches", {"agent_id": str(sandbox_agent.public_id), "hold": "true",
                                               "file": upload}, headers={"Authorization": f"Bearer {api.secret}"})
    # The NUL bytes are replaced (U+FFFD), so the row is an invalid number, rejected with its reason;
    # the other row is stored. The batch is held, not started.
    assert response.status_code == 201, response.content
    body = response.json()
    bad = "+1415\ufffd555\ufffd0123"
    assert body == {
        "id": body["id"], "object": "batch", "name": None, "status": "created",
        "agent_id": str(sandbox_agent.public_id), "routing_profile_id": None, "mode": "fanout", "pause_reason": None,
        "recipients": 1, "rejected": 1, "duplicates": 0, "total_rows": 2, "start_at": None, "timezone": "UTC",
        "window": None, "max_concurrency": 10, "calls_per_minute": 60,
        "retry": {"max_attempts": 1, "intervals": [300], "on": ["no_answer", "busy", "failed"]},
        "circuit_breaker": None, "created_at": "2026-03-10T15:00:00Z", "started_at": None, "finished_at": None,
        "progress": {
            "recipients": 1, "finished": 0, "percent": 0.0,
            "states": {"pending": 1, "dialing": 0, "done": 0, "canceled": 0},
            "outcomes": {"canceled": 0, "failed": 0, "no_answer": 0, "completed": 0, "busy": 0},
            "calls": {"queued": 0, "initiated": 0, "ringing": 0, "in_progress": 0, "completed": 0, "no_answer": 0,
                      "busy": 0, "canceled": 0, "failed": 0},
            "attempts": 0, "rate_per_minute": None, "eta": None, "average_duration_seconds": None},
        "rejected_rows": [{"row_number": 1, "phone": bad, "reason": f"'{bad}' is not a phone number (the string "
                                                                    "supplied did not seem to be a phone number)"}],
    }


def test_read_only_key_cannot_cancel_or_extract(api_readonly, personas, sandbox_agent):
    from callops.calls import services

    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100")
    for action in ("cancel", "extract"):
        response = api_readonly.post(f"/v1/calls/{call.public_id}/{action}")
        assert response.status_code == 403 and "read-only" in response.json()["error"]
    call.refresh_from_db()
    assert call.status == "queued" and call.dial_claimed_at is None


def test_outsiders_get_the_not_found_body_on_actions(api_outsider, personas, sandbox_agent):
    from callops.calls import services

    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100")
    for action in ("cancel", "extract"):
        response = api_outsider.post(f"/v1/calls/{call.public_id}/{action}")
        assert response.status_code == 404
        assert response.json() == {"error": f"call {call.public_id} not found"}
