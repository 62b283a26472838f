"""Settings → Calling rules and /v1/calling_policy: read by anyone in the organization, changed by
admins (read-write keys in the API), every change audited with before and after values."""

from datetime import time

import pytest
from django.test import Client
from django.urls import reverse

from callops.accounts.models import AuditEntry
from callops.rules import policy
from callops.rules.models import CallingPolicy

URL = reverse("dashboard:calling_rules")
FORM = {"max_calls_per_day": "3", "max_calls_per_week": "7", "max_answered_per_week": "",
        "hours_start": "09:00", "hours_end": "20:00", "time_zone": "America/New_York"}
DEFAULTS = {"object": "calling_policy", "max_calls_per_day": None, "max_calls_per_week": None,
            "max_answered_per_week": None, "hours_start": None, "hours_end": None, "time_zone": "UTC",
            "opt_out_detection": True}


def test_an_admin_sets_caps_and_hours_and_the_change_is_audited(personas):
    client = personas.admin.client()
    response = client.post(URL, FORM)
    assert response.status_code == 302 and response["Location"] == URL
    row = CallingPolicy.objects.get(organization=personas.org)
    assert (row.max_calls_per_day, row.max_calls_per_week, row.max_answered_per_week) == (3, 7, None)
    assert (row.hours_start, row.hours_end, row.time_zone) == (time(9), time(20), "America/New_York")
    entry = AuditEntry.objects.get(action="calling_policy.changed")
    assert entry.actor == personas.admin.user
    assert entry.detail == {"changes": {
        "max_calls_per_day": {"before": None, "after": 3}, "max_calls_per_week": {"before": None, "after": 7},
        "hours_start": {"before": None, "after": "09:00"}, "hours_end": {"before": None, "after": "20:00"},
        "time_zone": {"before": "UTC", "after": "America/New_York"}}}
    page = client.get(URL)
    assert "Calling rules saved." in page.content.decode()
    assert page.context["v"]["max_calls_per_day"] == 3 and page.context["v"]["hours_start"] == "09:00"


def test_saving_the_same_values_writes_no_audit_entry(personas):
    client = personas.admin.client()
    client.post(URL, FORM)
    client.post(URL, FORM)
    assert AuditEntry.objects.filter(action="calling_policy.changed").count() == 1


@pytest.mark.parametrize("field,value,message", [
    ("max_calls_per_day", "0", "must be between 1 and 1000, or null for no cap"),
    ("max_calls_per_week", "lots", "must be a whole number or null"),
    ("hours_start", "9am", "must be a time of day as HH:MM (00:00-23:59), or null"),
    ("time_zone", "Mars/Olympus", "'Mars/Olympus' is not an IANA time zone such as America/New_York"),
])
def test_bad_values_are_shown_on_the_form_and_change_nothing(personas, field, value, message):
    response = personas.admin.client().post(URL, {**FORM, field: value})
    assert response.status_code == 400
    assert response.context["errors"] == {field: message}
    assert not CallingPolicy.objects.exists() and not AuditEntry.objects.filter(action="calling_policy.changed")


def test_hours_must_be_given_together_and_in_order(personas):
    client = personas.admin.client()
    response = client.post(URL, {**FORM, "hours_end": ""})
    assert response.context["errors"] == {"hours": "give both the start and the end of the calling hours, or neither"}
    response = client.post(URL, {**FORM, "hours_start": "20:00", "hours_end": "09:00"})
    assert response.context["errors"] == {"hours": "the calling hours must end after they start, on the same day"}


def test_members_read_but_cannot_change(personas):
    client = personas.member.client()
    page = client.get(URL)
    assert page.status_code == 200 and page.context["is_admin"] is False
    assert "Only admins can change the calling rules." in page.content.decode()
    assert client.post(URL, FORM).status_code == 403
    assert not CallingPolicy.objects.exists()


def test_the_form_needs_its_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.admin.user)
    assert client.post(URL, FORM).status_code == 403
    assert not CallingPolicy.objects.exists()


def test_the_page_shows_only_the_organizations_own_rules(personas):
    policy.update(personas.other_org, {"max_calls_per_day": 9})
    page = personas.member.client().get(URL)
    assert page.context["v"]["max_calls_per_day"] == ""


def test_api_reads_the_defaults_then_patches_part_of_the_policy(api, personas):
    assert api.get("/v1/calling_policy").json() == DEFAULTS
    response = api.patch("/v1/calling_policy", {"max_calls_per_day": 3, "hours_start": "09:00", "hours_end": "20:00"})
    assert response.status_code == 200, response.content
    assert response.json() == {**DEFAULTS, "max_calls_per_day": 3, "hours_start": "09:00", "hours_end": "20:00"}
    entry = AuditEntry.objects.get(action="calling_policy.changed")
    assert entry.actor_label == "API key tests"
    assert entry.detail["changes"]["max_calls_per_day"] == {"before": None, "after": 3}
    # Only the fields given change; null clears.
    response = api.patch("/v1/calling_policy", {"max_calls_per_day": None})
    assert response.json() == {**DEFAULTS, "hours_start": "09:00", "hours_end": "20:00"}


@pytest.mark.parametrize("body,field", [
    ({"max_calls_per_day": 0}, "max_calls_per_day"),
    ({"hours_start": "25:00", "hours_end": "26:00"}, "hours_start"),
    ({"hours_start": "09:00"}, "hours"),
    ({"opt_out_detection": "yes"}, "opt_out_detection"),
    ({"caps": 3}, "caps"),
])
def test_api_bad_values_are_400_in_the_error_shape(api, body, field):
    response = api.patch("/v1/calling_policy", body)
    assert response.status_code == 400
    assert set(response.json()) == {"error", "fields"} and field in response.json()["fields"]
    assert response.json()["error"].startswith("invalid calling policy: ")
    assert not CallingPolicy.objects.exists()


def test_api_takes_a_numeric_string_as_the_number(api):
    response = api.patch("/v1/calling_policy", {"max_calls_per_week": "7"})
    assert response.status_code == 200 and response.json()["max_calls_per_week"] == 7


def test_api_patch_without_a_body_is_a_400_and_changes_nothing(api):
    response = api.client.patch("/v1/calling_policy", b"", content_type="application/json",
                                headers=api._headers(None))
    assert response.status_code == 400
    assert response.json() == {"error": "request body is required: a JSON object of the fields to change",
                               "fields": {"body": "is required"}}
    assert not CallingPolicy.objects.exists()
    assert not AuditEntry.objects.filter(action="calling_policy.changed").exists()


def test_api_read_only_keys_cannot_change(api_readonly):
    response = api_readonly.patch("/v1/calling_policy", {"max_calls_per_day": 3})
    assert response.status_code == 403
    assert not CallingPolicy.objects.exists()


def test_api_keys_see_only_their_organization(api_outsider, personas):
    policy.update(personas.org, {"max_calls_per_day": 3})
    assert api_outsider.get("/v1/calling_policy").json()["max_calls_per_day"] is None


def test_the_openapi_document_has_the_calling_policy():
    from callops.api.base import api as ninja_api

    paths = ninja_api.get_openapi_schema()["paths"]
    assert {"get", "patch"} <= set(paths["/v1/calling_policy"])
    create = paths["/v1/calls"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["properties"]["outside_hours"]["anyOf"][0] == {"enum": ["schedule", "reject"], "type": "string"}
