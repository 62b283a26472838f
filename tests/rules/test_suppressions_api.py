"""/v1/suppressions: the documented responses, E.164 matching and tenancy."""

import pytest

from callops.accounts.models import AuditEntry
from callops.rules.models import Suppression


@pytest.mark.parametrize("spelling", ["+1 (415) 555-0123", "+1.415.555.0123", "+14155550123", " +1 415 555 0123 "])
def test_check_matches_any_spelling(api, spelling):
    created = api.post("/v1/suppressions", {"number": "+1-415-555-0123", "reason": "asked by email"})
    assert created.status_code == 201
    row = created.json()
    response = api.get("/v1/suppressions/check", {"number": spelling})
    assert response.status_code == 200
    assert response.json() == {"object": "suppression_check", "number": "+14155550123", "suppressed": True,
                               "suppression": row}


def test_create_answers_the_full_object_and_audits(api, clock):
    response = api.post("/v1/suppressions", {"number": "+1 415 555 0123", "reason": "asked by email"})
    assert response.status_code == 201
    row = Suppression.objects.get()
    assert response.json() == {"id": str(row.public_id), "object": "suppression", "number": "+14155550123",
                               "reason": "asked by email", "source": "api", "added_by": "API key tests",
                               "call_id": None, "created_at": "2026-03-10T15:00:00Z"}
    entry = AuditEntry.objects.get(action="suppression.added")
    assert entry.target == "+14155550123" and entry.detail["source"] == "api"
    again = api.post("/v1/suppressions", {"number": "+14155550123"})
    assert again.status_code == 200 and again.json() == response.json()


@pytest.mark.parametrize("body,error", [
    ({"number": "hello"}, "'hello' is not a phone number; write it with + and the country code"),
    ({}, "a phone number is required, e.g. +14155550123"),
    ({"number": "+14155550123", "colour": "red"}, "unknown field colour"),
    ({"number": "+14155550123", "reason": 5}, "reason must be text of at most 200 characters"),
])
def test_bad_input_is_a_400_in_the_error_shape(api, body, error):
    response = api.post("/v1/suppressions", body)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert not Suppression.objects.exists()


def test_check_of_an_unlisted_number(api):
    response = api.get("/v1/suppressions/check", {"number": "+14155550199"})
    assert response.json() == {"object": "suppression_check", "number": "+14155550199", "suppressed": False,
                               "suppression": None}


def test_list_pages_newest_first(api, clock):
    for i in range(3):
        api.post("/v1/suppressions", {"number": f"+1415555010{i}"})
        clock.advance(1)
    first = api.get("/v1/suppressions", {"limit": 2}).json()
    assert [r["number"] for r in first["data"]] == ["+14155550102", "+14155550101"]
    assert first["object"] == "list" and first["has_more"] is True
    rest = api.get("/v1/suppressions", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["number"] for r in rest["data"]] == ["+14155550100"]
    assert rest["has_more"] is False and rest["next_cursor"] is None


def test_delete_removes_and_audits(api):
    row_id = api.post("/v1/suppressions", {"number": "+14155550123"}).json()["id"]
    response = api.delete(f"/v1/suppressions/{row_id}")
    assert response.status_code == 200
    assert response.json() == {"id": row_id, "object": "suppression", "deleted": True}
    assert not Suppression.objects.exists()
    assert AuditEntry.objects.filter(action="suppression.removed", target="+14155550123").exists()


def test_outsiders_get_404_and_see_nothing(api, api_outsider):
    row_id = api.post("/v1/suppressions", {"number": "+14155550123"}).json()["id"]
    response = api_outsider.delete(f"/v1/suppressions/{row_id}")
    assert response.status_code == 404
    assert response.json() == {"error": f"suppression {row_id} not found"}
    assert Suppression.objects.filter(public_id=row_id).exists()
    assert api_outsider.get("/v1/suppressions").json()["data"] == []
    assert api_outsider.get("/v1/suppressions/check", {"number": "+14155550123"}).json()["suppressed"] is False


def test_read_only_keys_cannot_write(api_readonly):
    assert api_readonly.post("/v1/suppressions", {"number": "+14155550123"}).status_code == 403


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/v1/openapi.json").json()["paths"]
    assert set(paths["/v1/suppressions"]) == {"get", "post"}
    assert "get" in paths["/v1/suppressions/check"]
    assert "delete" in paths["/v1/suppressions/{suppression_id}"]
