"""The dashboard chrome every page shares: the top bar and the side navigation."""

import re

import pytest
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse

from callops.accounts import services as accounts

pytestmark = pytest.mark.django_db


def _topbar(html: str) -> str:
    return re.search(r'<header class="topbar">.*?</header>', html, re.S).group(0)


def test_topbar_shows_the_orgs_role_and_actions_of_the_signed_in_member(personas):
    accounts.add_member(personas.other_org, personas.member.user, "viewer")
    bar = _topbar(personas.member.client().get(reverse("dashboard:calls")).content.decode())
    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]*)</option>', bar)
    assert sorted((name, bool(sel)) for _, sel, name in options) == [
        (personas.org.name, True), (personas.other_org.name, False)]
    assert f'<option value="{personas.org.public_id}" selected>' in bar
    assert f'title="Your role in {personas.org.name}">Member</span>' in bar
    assert f'href="{reverse("dashboard:call_new")}">New call</a>' in bar
    assert f'<input type="hidden" name="next" value="{reverse("dashboard:calls")}">' in bar
    assert bar.count('name="csrfmiddlewaretoken"') == 2  # the org switch and sign-out forms
    username = personas.member.user.get_username()
    assert f'<span class="avatar" aria-hidden="true">{username[0].upper()}</span>' in bar
    assert f"<strong>{username}</strong>" in bar


def test_topbar_hides_new_call_from_viewers(personas):
    bar = _topbar(personas.viewer.client().get(reverse("dashboard:calls")).content.decode())
    assert "New call" not in bar and 'title="Your role in' in bar and ">Viewer</span>" in bar


def test_topbar_csrf_fields_carry_a_token_the_switch_accepts(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.member.user)
    accounts.add_member(personas.other_org, personas.member.user, "viewer")
    bar = _topbar(client.get(reverse("dashboard:calls")).content.decode())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', bar).group(1)
    response = client.post(reverse("switch_org"), {"org": str(personas.other_org.public_id), "next": "/calls/",
                                                   "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    bar = _topbar(client.get(reverse("dashboard:calls")).content.decode())
    assert f'<option value="{personas.other_org.public_id}" selected>' in bar and "New call" not in bar
    assert client.post(reverse("switch_org"), {"org": str(personas.org.public_id)}).status_code == 403  # no token


def test_topbar_escapes_org_and_user_names(personas):
    personas.org.name = '<img src=x onerror="alert(1)"> & Co'
    personas.org.save()
    user = personas.owner.user
    user.username = "<b>boss</b>"
    user.save()
    bar = _topbar(personas.owner.client().get(reverse("dashboard:calls")).content.decode())
    assert "<img" not in bar and "<b>" not in bar
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co" in bar
    assert '<span class="avatar" aria-hidden="true">&lt;</span>' in bar and "&lt;b&gt;boss&lt;/b&gt;" in bar


def test_sidenav_marks_only_the_current_section(personas):
    page = personas.member.client().get(reverse("dashboard:calls")).content.decode()
    nav = re.search(r'<nav class="sidenav".*?</nav>', page, re.S).group(0)
    assert nav.count('aria-current="page"') == 1
    assert f'href="{reverse("dashboard:calls")}" aria-current="page"' in nav
    for name in ("overview", "batches", "triage", "webhooks", "api_keys", "providers", "endpoints", "members",
                 "audit_log"):
        assert f'href="{reverse("dashboard:" + name)}"' in nav


def test_pages_link_their_static_files(personas):
    page = personas.member.client().get(reverse("dashboard:calls")).content.decode()
    for path in ("css/app.css", "vendor/htmx.min.js", "js/app.js", "js/settings.js"):
        assert static(path) in page
