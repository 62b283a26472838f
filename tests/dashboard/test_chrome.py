"""The dashboard chrome built in Python (top bar) and the memoised URL helpers behind every page."""

import re

import pytest
from django.templatetags.static import static
from django.test import Client
from django.urls import reverse

from callops.accounts import services as accounts
from callops.calls.models import CallStatus
from callops.dashboard.templatetags.dashboard import asset, route, route_url

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


def test_route_with_arguments_is_reverse(make_call):
    call = make_call(CallStatus.COMPLETED)
    assert route("dashboard:call_cancel", call.public_id) == reverse("dashboard:call_cancel", args=[call.public_id])
    assert route_url("dashboard:call_payload", call.public_id, 12) == \
        reverse("dashboard:call_payload", args=[call.public_id, 12])
    assert route("dashboard:calls") == reverse("dashboard:calls")
    other = make_call(CallStatus.COMPLETED)  # the memo is keyed by the arguments
    assert route("dashboard:call_live", other.public_id) == reverse("dashboard:call_live", args=[other.public_id])


def test_asset_is_static_and_follows_a_changed_storage(settings):
    assert asset("css/app.css") == static("css/app.css")
    settings.STATIC_URL = "/assets/"
    assert asset("css/app.css") == static("css/app.css") and asset("css/app.css").startswith("/assets/")
