"""Settings pages across personas: API keys, providers and agents, endpoints, members, audit log.

Every secret is checked against every page that could show it after the response that created it.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from callops.accounts.models import ApiKey, AuditEntry, Membership, Role
from callops.calls.models import Agent
from callops.providers.models import ProviderAccount
from callops.webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

PAGES = ["triage", "webhooks", "api_keys", "providers", "endpoints", "members", "audit_log", "notifications"]


def every_page(client, extra=()):
    out = []
    for name in PAGES:
        r = client.get(reverse(f"dashboard:{name}"))
        assert r.status_code == 200, name
        out.append(r.content.decode())
    for url in extra:
        out.append(client.get(url).content.decode())
    return "\n".join(out)


@pytest.mark.parametrize("who", ["owner", "admin", "member", "viewer", "outsider"])
def test_every_page_renders_for_every_persona(personas, who):
    page = every_page(getattr(personas, who).client())
    assert "Acme" in page if who != "outsider" else "Globex" in page


def test_anonymous_is_sent_to_login(client):
    for name in PAGES:
        r = client.get(reverse(f"dashboard:{name}"))
        assert r.status_code == 302 and "/login/" in r["Location"]


# --- API keys ------------------------------------------------------------------------------------
def test_admin_creates_key_secret_shown_once(personas):
    client = personas.admin.client()
    r = client.post(reverse("dashboard:api_keys"), {"name": "backend", "scope": "ro"})
    key = ApiKey.objects.get(name="backend")
    # Post/redirect/get: the key's own page shows the secret, once.
    assert r.status_code == 302 and r["Location"] == reverse("dashboard:api_key", args=[key.public_id])
    r = client.get(r["Location"])
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    secret = re.search(r"ck_[0-9a-f]{12}_[A-Za-z0-9_-]+", r.content.decode()).group(0)
    assert secret not in client.get(reverse("dashboard:api_key", args=[key.public_id])).content.decode()
    assert key.scope == "ro" and key.created_by == personas.admin.user
    assert secret not in every_page(client) and secret not in every_page(personas.owner.client())
    listing = client.get(reverse("dashboard:api_keys")).content.decode()
    assert f"ck_{key.prefix}_…" in listing and "admin@acme.test" in listing
    entry = AuditEntry.objects.get(action="api_key.created")
    assert entry.ip_address == "127.0.0.1" and secret not in str(entry.detail)


def test_key_input_errors_change_nothing(personas):
    r = personas.admin.client().post(reverse("dashboard:api_keys"), {"name": "  ", "scope": "rw"})
    assert r.status_code == 400 and "a key needs a name" in r.content.decode()
    r = personas.admin.client().post(reverse("dashboard:api_keys"), {"name": "x", "scope": "all"})
    assert r.status_code == 400
    assert not ApiKey.objects.exists()


def test_key_roles_and_revoke(personas):
    for who in ("member", "viewer"):
        assert getattr(personas, who).client().post(reverse("dashboard:api_keys"), {"name": "x"}).status_code == 403
    from callops.accounts.services import create_api_key

    key, _ = create_api_key(personas.org, "k")
    url = reverse("dashboard:api_key_revoke", args=[key.public_id])
    assert personas.member.client().post(url).status_code == 403
    assert personas.outsider.client().post(url).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert 'data-confirm="Revoke' in personas.admin.client().get(reverse("dashboard:api_keys")).content.decode()
    personas.admin.client().post(url)
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEntry.objects.filter(action="api_key.revoked", ip_address="127.0.0.1").exists()


# --- providers and agents --------------------------------------------------------------------------
CREDS = {"kind": "trillet", "name": "Trillet prod", "api_key": "tr-very-secret-key-987",
         "workspace_id": "ws-hidden-555", "callback_secret": "cb-secret-321", "rate_limit_per_minute": "60",
         "is_active": "on"}


def test_provider_credentials_are_write_only(personas):
    client = personas.admin.client()
    r = client.post(reverse("dashboard:provider_new"), CREDS)
    assert r.status_code == 302
    account = ProviderAccount.objects.get(name="Trillet prod")
    assert account.credentials == {"api_key": "tr-very-secret-key-987", "workspace_id": "ws-hidden-555"}
    assert account.callback_secret == "cb-secret-321"
    assert "tr-very-secret" not in account.credentials_encrypted
    edit = reverse("dashboard:provider_edit", args=[account.public_id])
    pages = every_page(client, [edit]) + every_page(personas.owner.client(), [edit])
    for secret in ("tr-very-secret-key-987", "ws-hidden-555", "cb-secret-321"):
        assert secret not in pages
    assert "stored" in client.get(edit).content.decode()
    # Saving with blank credential fields keeps them; filling one changes only that one and is audited.
    client.post(edit, {"name": "Trillet main", "rate_limit_per_minute": "60", "is_active": "on"})
    account.refresh_from_db()
    assert account.name == "Trillet main" and account.credentials["api_key"] == "tr-very-secret-key-987"
    assert not AuditEntry.objects.filter(action="provider_account.credentials_changed").exists()
    client.post(edit, {"name": "Trillet main", "api_key": "tr-new-key", "rate_limit_per_minute": "60"})
    account.refresh_from_db()
    assert account.credentials == {"api_key": "tr-new-key", "workspace_id": "ws-hidden-555"}
    changed = AuditEntry.objects.get(action="provider_account.credentials_changed")
    assert changed.detail["fields"] == ["api_key"] and "tr-new-key" not in str(changed.detail)
    # Every entry of the page's writes says where the request came from.
    assert set(AuditEntry.objects.filter(action__startswith="provider_account.").values_list("action", "ip_address")) \
        == {("provider_account.created", "127.0.0.1"), ("provider_account.updated", "127.0.0.1"),
            ("provider_account.credentials_changed", "127.0.0.1")}


def test_provider_form_error_does_not_echo_credentials(personas):
    r = personas.admin.client().post(reverse("dashboard:provider_new"), {**CREDS, "name": ""})
    page = r.content.decode()
    assert r.status_code == 400 and "name" in page and "tr-very-secret-key-987" not in page
    assert not ProviderAccount.objects.filter(kind="trillet").exists()


def test_provider_roles_and_tenancy(personas, sandbox_agent):
    account = sandbox_agent.provider_account
    for who in ("member", "viewer"):
        c = getattr(personas, who).client()
        assert c.post(reverse("dashboard:provider_new"), CREDS).status_code == 403
        assert c.get(reverse("dashboard:provider_edit", args=[account.public_id])).status_code == 403
        assert c.post(reverse("dashboard:provider_test", args=[account.public_id])).status_code == 403
    out = personas.outsider.client()
    for name in ("provider_edit", "provider_test"):
        assert out.post(reverse(f"dashboard:{name}", args=[account.public_id]), {"name": "x"}).status_code == 404
    assert out.get(reverse("dashboard:agent_edit", args=[sandbox_agent.public_id])).status_code == 404
    account.refresh_from_db()
    assert account.name == "Sandbox" and not ProviderAccount.objects.filter(kind="trillet").exists()


def test_test_connection(personas, sandbox_agent):
    client = personas.admin.client()
    r = client.post(reverse("dashboard:provider_test", args=[sandbox_agent.provider_account.public_id]), follow=True)
    assert "Connection works: Sandbox ready" in r.content.decode()
    bad = ProviderAccount.objects.create(organization=personas.org, kind="callingbox", name="CB",
                                         base_url="http://127.0.0.1:9")
    r = client.post(reverse("dashboard:provider_test", args=[bad.public_id]), follow=True)
    assert "Connection failed" in r.content.decode() and "connect_error" in r.content.decode()
    assert list(AuditEntry.objects.filter(action="provider_account.tested").values_list("ip_address", flat=True)) \
        == ["127.0.0.1", "127.0.0.1"]


def test_agents_create_and_edit(personas, sandbox_agent):
    client = personas.admin.client()
    data = {"name": "Reminders", "provider_account": str(sandbox_agent.provider_account.public_id),
            "from_number": "+14155550100", "instructions": "Remind.", "is_active": "on"}
    assert client.post(reverse("dashboard:agent_new"), data).status_code == 302
    agent = Agent.objects.get(name="Reminders")
    assert agent.from_number == "+14155550100" and agent.is_active
    r = client.post(reverse("dashboard:agent_edit", args=[agent.public_id]), {**data, "from_number": "12"})
    assert r.status_code == 400 and "from_number" in r.content.decode()
    client.post(reverse("dashboard:agent_edit", args=[agent.public_id]), {**data, "name": "Reminders 2"})
    agent.refresh_from_db()
    assert agent.name == "Reminders 2" and agent.is_active
    assert set(AuditEntry.objects.filter(action__startswith="agent.").values_list("action", "ip_address")) == {
        ("agent.created", "127.0.0.1"), ("agent.updated", "127.0.0.1")}
    # Another org's provider account cannot be attached.
    foreign = ProviderAccount.objects.create(organization=personas.other_org, kind="sandbox", name="G")
    r = client.post(reverse("dashboard:agent_new"), {**data, "name": "X", "provider_account": str(foreign.public_id)})
    assert r.status_code == 400 and not Agent.objects.filter(name="X").exists()


# --- webhook endpoints -----------------------------------------------------------------------------
def test_endpoint_secret_revealed_once_and_rotated(personas):
    client = personas.admin.client()
    r = client.post(reverse("dashboard:endpoint_new"), {"url": "http://127.0.0.1:9/hook", "events": ["call.failed"],
                                                        "header_name": ["X-Token"], "header_value": ["tok-abc-999"]})
    endpoint = WebhookEndpoint.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("dashboard:endpoint_edit", args=[endpoint.public_id])
    r = client.get(r["Location"])
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    secret = endpoint.secret
    assert secret in r.content.decode() and endpoint.enabled_events == ["call.failed"]
    assert endpoint.headers == {"X-Token": "tok-abc-999"}
    edit = reverse("dashboard:endpoint_edit", args=[endpoint.public_id])
    pages = every_page(client, [edit]) + every_page(personas.viewer.client(), [edit])
    assert secret not in pages and "tok-abc-999" not in pages and "X-Token" in pages
    # Saving without touching the header value keeps it.
    client.post(edit, {"url": "http://127.0.0.1:9/hook2", "events": ["*"], "header_name": ["X-Token"],
                       "header_value": [""]})
    endpoint.refresh_from_db()
    assert endpoint.url.endswith("/hook2") and endpoint.headers == {"X-Token": "tok-abc-999"}
    r = client.post(reverse("dashboard:endpoint_rotate", args=[endpoint.public_id]))
    endpoint.refresh_from_db()
    assert r.status_code == 302 and r["Location"] == edit
    assert endpoint.secret != secret and endpoint.secret in client.get(edit).content.decode()
    assert endpoint.secret not in client.get(edit).content.decode()
    assert AuditEntry.objects.filter(action="webhook_endpoint.secret_rotated", ip_address="127.0.0.1").exists()


def test_endpoint_bad_input_and_roles(personas, unreachable_endpoint):
    client = personas.admin.client()
    r = client.post(reverse("dashboard:endpoint_new"), {"url": "ftp://x", "events": ["*"]})
    assert r.status_code == 400 and WebhookEndpoint.objects.count() == 1
    for who in ("member", "viewer"):
        c = getattr(personas, who).client()
        assert c.post(reverse("dashboard:endpoint_new"), {"url": "http://127.0.0.1:9/x"}).status_code == 403
        for name in ("endpoint_edit", "endpoint_rotate", "endpoint_test", "endpoint_delete"):
            assert c.post(reverse(f"dashboard:{name}", args=[unreachable_endpoint.public_id]), {"url": "http://a"}).status_code == 403
    for name in ("endpoint_edit", "endpoint_rotate", "endpoint_test", "endpoint_delete"):
        r = personas.outsider.client().post(reverse(f"dashboard:{name}", args=[unreachable_endpoint.public_id]))
        assert r.status_code == 404
    assert personas.outsider.client().get(reverse("dashboard:endpoint_edit", args=[unreachable_endpoint.public_id])).status_code == 404
    unreachable_endpoint.refresh_from_db()
    assert unreachable_endpoint.url == "http://127.0.0.1:9/hook" and WebhookEndpoint.objects.count() == 1


def test_send_test_event_and_see_the_attempt(personas, run_jobs):
    from tests.lib.sink import Reply, Sink

    sink = Sink()
    try:
        sink.respond(default=Reply(200, body=b"thanks"))
        from callops.webhooks import services as webhooks

        endpoint, _ = webhooks.create_endpoint(personas.org, {"url": sink.url})
        client = personas.admin.client()
        r = client.post(reverse("dashboard:endpoint_test", args=[endpoint.public_id]))
        assert "?test=" in r["Location"]
        page = client.get(r["Location"]).content.decode()
        assert "Sending…" in page and "every 1s" in page
        run_jobs()
        assert sink.wait_for(1)
        test_id = r["Location"].split("test=")[1].split("#")[0]
        frag = client.get(reverse("dashboard:endpoint_test_result", args=[endpoint.public_id, test_id]))
        assert frag.status_code == 286 and "Delivered" in frag.content.decode() and "thanks" in frag.content.decode()
    finally:
        sink.close()


# --- members and audit log ---------------------------------------------------------------------------
def test_owner_invites_new_user_with_one_time_link(personas, client):
    owner = personas.owner.client()
    r = owner.post(reverse("dashboard:members"), {"identifier": "new@acme.test", "role": "viewer"})
    assert r.status_code == 302
    r = owner.get(r["Location"])
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    link = re.search(r"http://testserver(/join/[^\"<\s]+)", r.content.decode()).group(1)
    user = get_user_model().objects.get(username="new@acme.test")
    assert not user.has_usable_password() and Membership.objects.get(user=user).role == "viewer"
    assert link not in every_page(owner)
    assert client.get(link).status_code == 200
    r = client.post(link, {"new_password1": "a-long-password-4321", "new_password2": "a-long-password-4321"})
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-long-password-4321")
    assert client.get(link).status_code == 404  # one time only
    assert AuditEntry.objects.filter(action="member.invited", ip_address="127.0.0.1").exists()


def test_invite_existing_user_change_role_remove(personas):
    owner = personas.owner.client()
    r = owner.post(reverse("dashboard:members"), {"identifier": "outsider@globex.test", "role": "member"})
    assert r.status_code == 302
    m = Membership.objects.get(organization=personas.org, user=personas.outsider.user)
    r = owner.post(reverse("dashboard:members"), {"identifier": "outsider@globex.test", "role": "member"})
    assert r.status_code == 400 and "already a member" in r.content.decode()
    owner.post(reverse("dashboard:member_role", args=[m.public_id]), {"role": "admin"})
    m.refresh_from_db()
    assert m.role == "admin"
    owner.post(reverse("dashboard:member_remove", args=[m.public_id]))
    assert not Membership.objects.filter(pk=m.pk).exists()
    actions = set(AuditEntry.objects.filter(organization=personas.org).values_list("action", flat=True))
    assert {"member.invited", "member.role_changed", "member.removed"} <= actions


def test_only_owners_manage_members_and_last_owner_stays(personas):
    target = Membership.objects.get(organization=personas.org, user=personas.viewer.user)
    for who in ("admin", "member", "viewer"):
        c = getattr(personas, who).client()
        assert c.post(reverse("dashboard:members"), {"identifier": "x@y.z", "role": "owner"}).status_code == 403
        assert c.post(reverse("dashboard:member_role", args=[target.public_id]), {"role": "owner"}).status_code == 403
        assert c.post(reverse("dashboard:member_remove", args=[target.public_id])).status_code == 403
    out = personas.outsider.client()
    assert out.post(reverse("dashboard:member_role", args=[target.public_id]), {"role": "owner"}).status_code == 404
    assert out.post(reverse("dashboard:member_remove", args=[target.public_id])).status_code == 404
    target.refresh_from_db()
    assert target.role == Role.VIEWER
    me = Membership.objects.get(organization=personas.org, user=personas.owner.user)
    r = personas.owner.client().post(reverse("dashboard:member_role", args=[me.public_id]), {"role": "viewer"}, follow=True)
    assert "at least one owner" in r.content.decode()
    r = personas.owner.client().post(reverse("dashboard:member_remove", args=[me.public_id]), follow=True)
    assert "last owner" in r.content.decode()
    me.refresh_from_db()
    assert me.role == Role.OWNER
    assert not get_user_model().objects.filter(username="x@y.z").exists()


def test_audit_log_lists_who_when_where(personas):
    from callops.accounts.services import create_api_key

    create_api_key(personas.org, "ci", created_by=personas.owner.user, ip="10.1.2.3")
    create_api_key(personas.other_org, "globex-secret-name", created_by=personas.outsider.user)
    page = personas.viewer.client().get(reverse("dashboard:audit_log")).content.decode()
    assert "api_key.created" in page and "10.1.2.3" in page and "owner@acme.test" in page
    assert "globex-secret-name" not in page
    filtered = personas.viewer.client().get(reverse("dashboard:audit_log"), {"action": "member."}).content.decode()
    assert "api_key.created" not in filtered and "member.added" in filtered
