"""The signing secret for per-call and agent webhook URLs: revealed and rotated through the API and
the dashboard, and up to 10 old secrets (endpoint or organization) keep signing for 24 h."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from callops.accounts.models import AuditEntry
from callops.webhooks import services
from callops.webhooks.models import OrgWebhookSecret, WebhookEndpoint

ENDPOINTS = reverse("dashboard:endpoints")


def _signatures(request) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


# --- API ------------------------------------------------------------------------------------------
def test_api_reveals_the_secret_that_signs_per_call_deliveries(api, sink, make_call, run_jobs):
    resp = api.get("/v1/webhook_secret")
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["object"] == "webhook_secret" and body["secret"].startswith("whsec_")
    assert AuditEntry.objects.filter(action="webhook_secret.revealed", actor_label="API key tests").count() == 1
    make_call(webhook_url=sink.url)
    run_jobs()
    got = sink.requests[0]
    assert Webhook(body["secret"]).verify(got.body, got.headers)["type"] == "call.queued"
    assert body["secret"] not in str(AuditEntry.objects.values_list("detail", flat=True)[:10])


def test_api_rotate_needs_write_scope_and_keeps_the_old_secret_signing(api, api_readonly, sink, make_call,
                                                                       run_jobs):
    old = api_readonly.get("/v1/webhook_secret").json()["secret"]  # reading needs only a read key
    denied = api_readonly.post("/v1/webhook_secret/rotate")
    assert denied.status_code == 403 and "error" in denied.json()
    assert services.reveal_org_secret(OrgWebhookSecret.objects.get().organization) == old
    rotated = api.post("/v1/webhook_secret/rotate")
    assert rotated.status_code == 200 and rotated["Cache-Control"] == "no-store"
    new = rotated.json()["secret"]
    assert new != old and len(rotated.json()["old_secrets_expire_at"]) == 1
    assert AuditEntry.objects.filter(action="webhook_secret.rotated").count() == 1
    make_call(webhook_url=sink.url)
    run_jobs()
    got = sink.requests[0]
    assert len(_signatures(got)) == 2
    Webhook(new).verify(got.body, got.headers)
    Webhook(old).verify(got.body, got.headers)
    assert api.get("/v1/webhook_secret").json()["secret"] == new


def test_api_secret_is_per_organization(api, api_outsider):
    ours = api.get("/v1/webhook_secret").json()["secret"]
    theirs = api_outsider.get("/v1/webhook_secret").json()["secret"]
    assert ours != theirs
    api_outsider.post("/v1/webhook_secret/rotate")
    assert api.get("/v1/webhook_secret").json()["secret"] == ours  # their rotation never touches ours


def test_api_secret_routes_are_documented(api):
    doc = api.get("/v1/openapi.json").json()
    read = doc["paths"]["/v1/webhook_secret"]["get"]["responses"]
    rotate = doc["paths"]["/v1/webhook_secret/rotate"]["post"]["responses"]
    assert {"200", "401", "429"} <= set(read) and {"200", "401", "403"} <= set(rotate)


# --- Dashboard ------------------------------------------------------------------------------------
def test_dashboard_reveal_is_admin_only_audited_and_shown_once(personas):
    viewer = personas.viewer.client()
    page = viewer.get(ENDPOINTS).content.decode()
    assert "Signing secret for per-call URLs" in page and "Reveal secret" not in page
    assert viewer.post(ENDPOINTS, {"action": "reveal_org_secret"}).status_code == 403
    assert personas.member.client().post(ENDPOINTS, {"action": "reveal_org_secret"}).status_code == 403
    assert not AuditEntry.objects.filter(action="webhook_secret.revealed").exists()

    admin = personas.admin.client()
    assert "Reveal secret" in admin.get(ENDPOINTS).content.decode()
    resp = admin.post(ENDPOINTS, {"action": "reveal_org_secret"})
    assert resp.status_code == 302 and resp["Location"] == ENDPOINTS + "#signing-secret"
    secret = services.reveal_org_secret(personas.org)
    assert secret not in resp.content.decode()
    resp = admin.get(ENDPOINTS)  # the redirect's target shows it, once
    assert resp.status_code == 200 and secret in resp.content.decode() and resp["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.get(action="webhook_secret.revealed")
    assert entry.actor == personas.admin.user and entry.ip_address == "127.0.0.1"
    # Nowhere else: not on the next GET, not for other members.
    assert secret not in admin.get(ENDPOINTS).content.decode()
    assert secret not in viewer.get(ENDPOINTS).content.decode()


def test_dashboard_rotate_shows_the_new_secret_and_old_one_keeps_signing(personas, sink, make_call, run_jobs):
    old = services.reveal_org_secret(personas.org)
    owner = personas.owner.client()
    resp = owner.post(ENDPOINTS, {"action": "rotate_org_secret"}, follow=True)
    new = services.reveal_org_secret(personas.org)
    assert new != old and new in resp.content.decode() and old not in resp.content.decode()
    assert "1 old secret still signing" in resp.content.decode()
    assert AuditEntry.objects.filter(action="webhook_secret.rotated", actor=personas.owner.user).exists()
    make_call(webhook_url=sink.url)
    run_jobs()
    got = sink.requests[0]
    Webhook(new).verify(got.body, got.headers)
    Webhook(old).verify(got.body, got.headers)


def test_dashboard_outsider_only_ever_sees_their_own_secret(personas):
    acme = services.reveal_org_secret(personas.org)
    resp = personas.outsider.client().post(ENDPOINTS, {"action": "reveal_org_secret"}, follow=True)
    page = resp.content.decode()
    assert resp.status_code == 200 and acme not in page
    assert services.reveal_org_secret(personas.other_org) in page


# --- Several old secrets ------------------------------------------------------------------------
def test_endpoint_rotations_keep_up_to_ten_old_secrets_signing(personas, endpoint, sink, make_call, run_jobs):
    secrets = [endpoint.plain_secret]
    for _ in range(11):
        secrets.append(services.rotate_secret(endpoint))
    endpoint.refresh_from_db()
    assert len(endpoint.old_secrets) == 10  # the oldest of 11 retired secrets was dropped
    make_call()
    run_jobs()
    got = sink.requests[-1]
    assert len(_signatures(got)) == 11  # the current one and ten old ones
    for secret in secrets[1:]:
        Webhook(secret).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets[0]).verify(got.body, got.headers)


def test_each_old_secret_expires_24h_after_its_own_rotation(personas, endpoint, sink, make_call, run_jobs):
    first = endpoint.plain_secret
    second = services.rotate_secret(endpoint)
    third = services.rotate_secret(endpoint)
    endpoint.refresh_from_db()
    entries = endpoint.old_secrets  # newest first: second, then first
    assert len(entries) == 2
    # The first secret was retired a day ago; the second only now.
    entries[1]["expires_at"] = (timezone.now() - timedelta(seconds=1)).isoformat()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(old_secrets=entries)
    make_call()
    run_jobs()
    got = sink.requests[-1]
    assert len(_signatures(got)) == 2
    Webhook(third).verify(got.body, got.headers)
    Webhook(second).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(first).verify(got.body, got.headers)
    expires = WebhookEndpoint.objects.get(pk=endpoint.pk).old_secrets_expire_at
    assert len(expires) == 1 and timedelta(hours=23) < expires[0] - timezone.now() <= timedelta(hours=24)
