"""Organizations, memberships and switching between them; org-scoped lookups 404 outsiders."""

import pytest
from django.http import Http404
from django.test import Client

from callops.accounts import services as accounts
from callops.accounts.active_org import SESSION_KEY
from callops.accounts.models import Role
from callops.accounts.tenancy import get_for_org
from callops.calls.models import Agent


def test_get_for_org_hides_other_orgs_rows(personas, sandbox_agent):
    assert get_for_org(Agent, personas.org, sandbox_agent.public_id) == sandbox_agent
    with pytest.raises(Http404):
        get_for_org(Agent, personas.other_org, sandbox_agent.public_id)
    with pytest.raises(Http404):
        get_for_org(Agent, personas.org, "not-a-uuid")


def test_role_ordering(personas):
    owner = personas.owner.user.memberships.get()
    viewer = personas.viewer.user.memberships.get()
    assert owner.allows(Role.ADMIN) and owner.allows(Role.VIEWER)
    assert viewer.allows(Role.VIEWER) and not viewer.allows(Role.MEMBER)


def test_login_page_and_login(personas):
    client = Client()
    page = client.get("/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post("/login/", {"username": "owner@acme.test", "password": personas.owner.password})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_dashboard_requires_login():
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_user_in_two_orgs_switches_between_them(personas):
    user = personas.member.user
    accounts.add_member(personas.other_org, user, Role.VIEWER)
    client = personas.member.client()
    client.post("/orgs/switch/", {"org": str(personas.other_org.public_id), "next": "/"})
    assert client.session[SESSION_KEY] == str(personas.other_org.public_id)
    page = client.get("/")
    assert page.context["current_org"] == personas.other_org


def test_switching_to_an_org_you_do_not_belong_to_does_nothing(personas):
    client = personas.outsider.client()
    client.post("/orgs/switch/", {"org": str(personas.org.public_id)})
    assert client.session.get(SESSION_KEY) != str(personas.org.public_id)
    assert client.get("/").context["current_org"] == personas.other_org


def test_user_without_org_is_told_so(db):
    user = accounts.ensure_user("lonely@x.test", "pw-for-tests-only-123")
    client = Client()
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/orgs/none/"


def test_healthz_reports_database_and_redis(db):
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok" and body["database"]["ok"] and body["redis"]["ok"]


def test_healthz_degrades_when_redis_is_unreachable(db, settings, monkeypatch):
    from callops.lib import redisconn

    class Dead:
        def ping(self):
            raise ConnectionError("refused")

    monkeypatch.setattr(redisconn, "client", lambda: Dead())
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"] == {"ok": False, "error": "ConnectionError"}
