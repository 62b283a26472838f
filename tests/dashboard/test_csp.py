"""Every dashboard page keeps the strict Content-Security-Policy: no inline script or style."""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from callops.calls.models import Agent, CallStatus

pytestmark = pytest.mark.django_db


class InlineFinder(HTMLParser):
    """Collects anything a `script-src 'self'; style-src 'self'` policy would block."""

    def __init__(self):
        super().__init__()
        self.problems = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if not attrs.get("src"):
                self.problems.append("inline <script>")
            self._in_script = True
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs.items():
            if name == "style":
                self.problems.append(f"style= on <{tag}>")
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"{name}= on <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append("script body")


def pages(make_call, personas):
    live = make_call(CallStatus.RINGING)
    done = make_call(CallStatus.COMPLETED, returns={"confirmed": "boolean"}, result={"confirmed": True},
                     result_status="completed", transcript=[{"role": "agent", "text": "Hello"}])
    return [reverse("dashboard:overview"), reverse("dashboard:calls"), reverse("dashboard:calls") + "?status=failed",
            reverse("dashboard:call_detail", args=[live.public_id]),
            reverse("dashboard:call_detail", args=[done.public_id]),
            reverse("dashboard:call_live", args=[live.public_id]),
            reverse("dashboard:call_row", args=[live.public_id]),
            reverse("dashboard:overview_live"), reverse("dashboard:call_new")]


def test_pages_send_strict_csp_and_have_no_inline_code(personas, make_call):
    client = personas.owner.client()
    for url in pages(make_call, personas):
        r = client.get(url)
        assert r.status_code == 200, url  # the polled call is ringing: its fragments keep polling
        policy = r["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
        finder = InlineFinder()
        finder.feed(r.content.decode())
        assert finder.problems == [], (url, finder.problems)


def test_login_page_has_no_inline_code(client):
    r = client.get(reverse("login"))
    finder = InlineFinder()
    finder.feed(r.content.decode())
    assert r.status_code == 200 and finder.problems == []
    assert "Content-Security-Policy" in r


def test_htmx_is_configured_not_to_inject_styles_or_eval(personas):
    page = personas.viewer.client().get(reverse("dashboard:overview")).content.decode()
    meta = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', page).group(1)
    import json

    config = json.loads(meta)
    assert config["includeIndicatorStyles"] is False and config["allowEval"] is False
    assert re.search(r'hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'', page)


def test_settings_triage_and_webhook_pages_have_no_inline_code(personas, failed_call, failing_delivery,
                                                               unreachable_endpoint, sandbox_agent):
    failed_call("balance_low")
    d = failing_delivery("http", 503)
    agent = Agent.objects.get()
    urls = [reverse(f"dashboard:{n}") for n in ("triage", "webhooks", "api_keys", "providers", "endpoints",
                                                 "members", "audit_log", "notifications", "provider_new",
                                                 "agent_new", "endpoint_new")]
    urls += [reverse("dashboard:endpoint_edit", args=[unreachable_endpoint.public_id]),
             reverse("dashboard:provider_edit", args=[sandbox_agent.provider_account.public_id]),
             reverse("dashboard:agent_edit", args=[agent.public_id]),
             reverse("dashboard:delivery_attempts", args=[d.public_id]),
             reverse("dashboard:webhooks") + "?preview=1&window=7d"]
    client = personas.owner.client()
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        assert "unsafe-inline" not in r["Content-Security-Policy"]
        finder = InlineFinder()
        finder.feed(r.content.decode())
        assert finder.problems == [], (url, finder.problems)
    # The pages a create redirects to, which carry its secret, are checked too.
    for url, data in ((reverse("dashboard:api_keys"), {"name": "k"}),
                      (reverse("dashboard:endpoint_new"), {"url": "http://127.0.0.1:9/x", "events": ["*"]})):
        created = client.post(url, data)
        assert created.status_code == 302, url
        page = client.get(created["Location"]).content.decode()
        assert "data-testid=\"secret-value\"" in page
        finder = InlineFinder()
        finder.feed(page)
        assert finder.problems == []
