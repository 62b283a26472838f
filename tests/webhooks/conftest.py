"""Fixtures for webhook tests: loopback sinks with programmable replies, endpoints and calls."""

import pytest


@pytest.fixture
def endpoint(personas, sink):
    from callops.webhooks import services

    ep, secret = services.create_endpoint(personas.org, {"url": sink.url, "description": "tests"})
    ep.plain_secret = secret
    return ep


@pytest.fixture
def make_call(personas, sandbox_agent):
    """A queued call in Acme (its call.queued event is emitted as in production)."""
    from callops.calls import services as calls

    def _make(webhook_url: str = ""):
        return calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100",
                                 webhook_url=webhook_url)

    return _make
