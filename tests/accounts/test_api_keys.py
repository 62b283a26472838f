"""API keys: shown once, stored as prefix + SHA-256, last-used tracked, revocable, scoped."""

import hashlib
from datetime import timedelta

from django.utils import timezone

from callops.accounts import services as accounts
from callops.accounts.models import ApiKey, AuditEntry
from tests.conftest import ApiClient


def test_secret_is_shown_once_and_only_a_digest_is_stored(personas):
    key, secret = accounts.create_api_key(personas.org, "ci", created_by=personas.admin.user)
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret.startswith("ck_") and stored.prefix in secret
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {getattr(stored, f.attname) for f in ApiKey._meta.fields if f.attname != "id"}
    assert AuditEntry.objects.filter(organization=personas.org, action="api_key.created",
                                     actor=personas.admin.user).exists()


def test_key_authenticates_and_updates_last_used(personas, sandbox_agent):
    key, secret = accounts.create_api_key(personas.org, "ci")
    assert key.last_used_at is None
    response = ApiClient(secret).get("/v1/agents")
    assert response.status_code == 200
    assert [a["name"] for a in response.json()["data"]] == ["Sandbox agent"]
    key.refresh_from_db()
    assert key.last_used_at is not None and timezone.now() - key.last_used_at < timedelta(seconds=5)


def test_wrong_secret_with_a_real_prefix_is_refused(personas):
    key, secret = accounts.create_api_key(personas.org, "ci")
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    response = ApiClient(forged).get("/v1/calls")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or revoked API key"}


def test_missing_and_malformed_keys_get_401_json(personas):
    assert ApiClient(None).get("/v1/calls").json()["error"].startswith("missing API key")
    response = ApiClient(None).get("/v1/calls", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401 and "Bearer" in response.json()["error"]


def test_revocation_takes_effect_on_the_next_request(personas):
    key, secret = accounts.create_api_key(personas.org, "ci")
    client = ApiClient(secret)
    assert client.get("/v1/calls").status_code == 200
    accounts.revoke_api_key(key, actor=personas.owner.user)
    response = client.get("/v1/calls")
    assert response.status_code == 401
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1


def test_read_only_key_reads_but_cannot_write(api_readonly, sandbox_agent):
    assert api_readonly.get("/v1/calls").status_code == 200
    response = api_readonly.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+14155550100"})
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]
    from callops.calls.models import Call

    assert not Call.objects.exists()


def test_createapikey_style_scope_validation(personas):
    import pytest

    with pytest.raises(ValueError):
        accounts.create_api_key(personas.org, "x", scope="admin")
    with pytest.raises(ValueError):
        accounts.create_api_key(personas.org, "  ")


def test_a_revocation_committed_by_another_process_is_seen_on_the_next_request(personas):
    key, secret = accounts.create_api_key(personas.org, "ci")
    client = ApiClient(secret)
    assert client.get("/v1/agents").status_code == 200
    # What revoke_api_key does in another web process: the row.
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert client.get("/v1/agents").status_code == 401


def test_without_redis_every_request_checks_the_database(personas, monkeypatch):
    from callops.lib import redisconn

    key, secret = accounts.create_api_key(personas.org, "ci")
    client = ApiClient(secret)
    assert client.get("/v1/agents").status_code == 200

    def down():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(redisconn, "client", down)
    assert client.get("/v1/agents").status_code == 200  # served, unlimited
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert client.get("/v1/agents").status_code == 401


def test_admin_cannot_add_keys_and_revokes_through_the_service(admin_client, personas):
    key, secret = accounts.create_api_key(personas.org, "ci")
    assert admin_client.get("/admin/accounts/apikey/add/").status_code == 403
    page = admin_client.get(f"/admin/accounts/apikey/{key.pk}/change/")
    assert page.status_code == 200 and key.digest.encode() not in page.content
    response = admin_client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    assert ApiClient(secret).get("/v1/calls").status_code == 401
    assert AuditEntry.objects.filter(action="api_key.revoked", target="ci").exists()


def test_admin_lists_calls_agents_and_provider_accounts_without_secrets(admin_client, personas, sandbox_agent):
    from callops.calls import services as calls

    call = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    account = sandbox_agent.provider_account
    account.set_credentials({"api_key": "sk_live_do_not_show"})
    account.save()
    for path in ("/admin/calls/call/", f"/admin/calls/call/{call.pk}/change/", "/admin/calls/agent/",
                 "/admin/providers/provideraccount/", f"/admin/providers/provideraccount/{account.pk}/change/"):
        page = admin_client.get(path)
        assert page.status_code == 200, path
        assert b"sk_live_do_not_show" not in page.content and account.credentials_encrypted.encode() not in page.content
    assert str(call.public_id).encode() in admin_client.get("/admin/calls/call/").content


def test_wrong_secrets_under_a_real_prefix_spend_none_of_the_keys_budget(personas, settings):
    key, secret = accounts.create_api_key(personas.org, "ci")
    client = ApiClient(secret)
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    assert client.get("/v1/agents").status_code == 200
    forged = ApiClient(secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB"))
    for _ in range(5):
        assert forged.get("/v1/agents").status_code == 401
    assert client.get("/v1/agents").status_code == 200  # 2 of 2: the guesses counted for nothing
    assert client.get("/v1/agents").status_code == 429


def test_a_deleted_key_stops_working_on_the_next_request(personas):
    key, secret = accounts.create_api_key(personas.org, "ci")
    client = ApiClient(secret)
    assert client.get("/v1/agents").status_code == 200
    key.delete()
    assert client.get("/v1/agents").status_code == 401
