"""Part-2 pages keep the strict Content-Security-Policy: no inline script, style or handlers."""

import pytest
from django.urls import reverse

from callops.calls.models import Agent
from tests.dashboard.test_csp import InlineFinder

pytestmark = pytest.mark.django_db


def test_part2_pages_have_no_inline_code(personas, failed_call, failing_delivery, endpoint, sandbox_agent):
    failed_call("balance_low")
    d = failing_delivery("http", 503)
    agent = Agent.objects.get()
    urls = [reverse(f"dashboard:{n}") for n in ("triage", "webhooks", "api_keys", "providers", "endpoints",
                                                 "members", "audit_log", "notifications", "provider_new",
                                                 "agent_new", "endpoint_new")]
    urls += [reverse("dashboard:endpoint_edit", args=[endpoint.public_id]),
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
    # The create responses that carry a secret are checked too.
    for url, data in ((reverse("dashboard:api_keys"), {"name": "k"}),
                      (reverse("dashboard:endpoint_new"), {"url": "http://127.0.0.1:9/x", "events": ["*"]})):
        finder = InlineFinder()
        finder.feed(client.post(url, data).content.decode())
        assert finder.problems == []
