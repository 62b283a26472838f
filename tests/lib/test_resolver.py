"""Name resolution for customer URLs: a hanging DNS name cannot hold up anyone else's deliveries."""

import ipaddress
import threading

import pytest

from callops.lib import http, netguard
from tests.helpers import wait_for


@pytest.fixture
def dns(monkeypatch, settings):
    """`hang*.test` never answers (until the test ends); `ok*.test` answers 127.0.0.1 at once."""
    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.0/8"]
    http.reset_clients()
    release = threading.Event()
    calls = []

    def resolve(host, port):
        calls.append(host)
        if host.startswith("hang"):
            release.wait(30)
            raise OSError("resolver gave up")
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(netguard, "resolve", resolve)
    yield calls
    release.set()


def test_hanging_name_holds_one_thread_and_blocks_no_one(sink, dns):
    errors = []

    def hang():
        try:
            http.customer_request("POST", f"http://hang.test:{sink.port}/", content=b"{}", timeout=2)
        except http.OutboundTimeout as exc:
            errors.append(exc)

    # Many deliveries to the same hanging name at once (the old shared pool had 4 threads).
    threads = [threading.Thread(target=hang) for _ in range(12)]
    for t in threads:
        t.start()
    wait_for(lambda: dns.count("hang.test"), "the hanging lookup to start")
    # Meanwhile other customers' names resolve and deliver without waiting: all eight are done
    # while every caller of the hanging name is still waiting for it.
    for i in range(8):
        resp = http.customer_request("POST", f"http://ok{i}.test:{sink.port}/", content=b"{}", timeout=2)
        assert resp.status_code == 200
    assert errors == [] and all(t.is_alive() for t in threads)
    assert dns.count("hang.test") == 1  # one lookup in flight, every caller waits on it
    for t in threads:
        t.join()
    # Each caller was released by its own deadline (the lookup itself hangs for 30 s).
    assert len(errors) == 12 and dns.count("hang.test") == 1
    assert len(sink.requests) == 8


def test_distinct_hanging_names_are_capped_and_fail_fast(sink, dns, monkeypatch):
    monkeypatch.setattr(http._Resolver, "MAX_IN_FLIGHT", 2)
    http._resolver = None

    def hang(name):
        try:
            http.customer_request("POST", f"http://{name}:{sink.port}/", content=b"{}", timeout=3)
        except http.OutboundError:
            pass

    threads = [threading.Thread(target=hang, args=(f"hang{i}.test",)) for i in range(2)]
    for t in threads:
        t.start()
    wait_for(lambda: len(dns) == 2, "both hanging lookups to be in flight")
    with pytest.raises(http.OutboundConnectError) as exc:
        http.customer_request("POST", f"http://hang9.test:{sink.port}/", content=b"{}", timeout=1.5)
    # Refused at once: both lookups still hang, and the third never started.
    assert "too many DNS lookups in flight" in str(exc.value)
    assert all(t.is_alive() for t in threads) and "hang9.test" not in dns
    for t in threads:
        t.join()
    http._resolver = None
