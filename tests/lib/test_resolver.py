"""Name resolution for customer URLs: a hanging DNS name cannot hold up anyone else's deliveries."""

import ipaddress
import threading
import time

import pytest

from callops.lib import http, netguard


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
        started = time.monotonic()
        try:
            http.customer_request("POST", f"http://hang.test:{sink.port}/", content=b"{}", timeout=0.5)
        except http.OutboundTimeout:
            errors.append(time.monotonic() - started)

    # Many deliveries to the same hanging name at once (the old shared pool had 4 threads).
    threads = [threading.Thread(target=hang) for _ in range(12)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert dns.count("hang.test") == 1  # one lookup in flight, every caller waits on it
    # Meanwhile other customers' names resolve and deliver without waiting.
    for i in range(8):
        started = time.monotonic()
        resp = http.customer_request("POST", f"http://ok{i}.test:{sink.port}/", content=b"{}", timeout=2)
        assert resp.status_code == 200 and time.monotonic() - started < 0.3
    for t in threads:
        t.join()
    assert len(errors) == 12 and max(errors) < 1.0  # each bounded by its own deadline
    assert len(sink.requests) == 8


def test_distinct_hanging_names_are_capped_and_fail_fast(sink, dns, monkeypatch):
    monkeypatch.setattr(http._Resolver, "MAX_IN_FLIGHT", 2)
    http._resolver = None

    def hang(name):
        try:
            http.customer_request("POST", f"http://{name}:{sink.port}/", content=b"{}", timeout=1.5)
        except http.OutboundError:
            pass

    threads = [threading.Thread(target=hang, args=(f"hang{i}.test",)) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    started = time.monotonic()
    with pytest.raises(http.OutboundConnectError) as exc:
        http.customer_request("POST", f"http://hang9.test:{sink.port}/", content=b"{}", timeout=1.5)
    assert "too many DNS lookups in flight" in str(exc.value) and time.monotonic() - started < 0.2
    for t in threads:
        t.join()
    http._resolver = None
