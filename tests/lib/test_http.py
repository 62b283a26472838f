"""The outbound HTTP seam: hard deadline, size cap, no redirects, no env proxy, shared clients."""

import time

import pytest

from callops.lib import http
from tests.lib.sink import Reply, Sink


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def test_clients_are_shared_and_pinned_backend_installed():
    assert http.customer_client() is http.customer_client()
    assert http.provider_client() is http.provider_client()
    assert http.customer_client() is not http.provider_client()
    pool = http.customer_client()._transport._pool
    assert isinstance(pool._network_backend, http._Backend) and pool._network_backend.guard
    assert not http.provider_client()._transport._pool._network_backend.guard
    assert http.customer_client().trust_env is False and http.customer_client().follow_redirects is False


def test_provider_request_reads_body(sink):
    sink.respond(Reply(status=201, body=b'{"id": "x"}', headers={"Content-Type": "application/json"}))
    resp = http.provider_request("POST", sink.url, json={"a": 1}, timeout=2)
    assert resp.status_code == 201 and resp.json() == {"id": "x"}
    assert sink.requests[0].body == b'{"a":1}'


def test_slow_drip_bounded_by_total_deadline(sink):
    sink.respond(Reply(body=b"z" * 100, drip_interval=0.05))  # 5 s of drip, each read well under timeout
    started = time.monotonic()
    with pytest.raises(http.OutboundTimeout):
        http.provider_request("GET", sink.url, timeout=0.6)
    assert 0.55 <= time.monotonic() - started < 1.2  # slack for a busy machine


def test_slow_headers_bounded(sink):
    sink.respond(Reply(delay=2))
    started = time.monotonic()
    with pytest.raises(http.OutboundTimeout):
        http.customer_request("POST", sink.url, content=b"x", timeout=0.5)
    assert time.monotonic() - started < 1.2


def test_size_cap_provider_raises_customer_truncates(sink):
    sink.respond(Reply(body=b"a" * 10_000), Reply(body=b"a" * 10_000))
    with pytest.raises(http.ResponseTooLarge):
        http.provider_request("GET", sink.url, max_bytes=1000)
    resp = http.customer_request("POST", sink.url, max_bytes=1000)
    assert resp.content == b"a" * 1000 and http.was_truncated(resp)


def test_redirect_not_followed(sink):
    sink.respond(Reply(status=301, headers={"Location": "http://127.0.0.1:1/"}))
    resp = http.provider_request("GET", sink.url)
    assert resp.status_code == 301 and len(sink.requests) == 1


def test_env_proxy_ignored(sink, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:1")
    assert http.provider_request("GET", sink.url).status_code == 200


def test_connection_refused_and_bad_scheme():
    with pytest.raises(http.OutboundConnectError):
        http.provider_request("GET", "http://127.0.0.1:1/")
    with pytest.raises(http.DestinationBlocked):
        http.customer_request("POST", "file:///etc/passwd")
    with pytest.raises(http.OutboundError):
        http.customer_request("POST", "ftp://127.0.0.1/")


def test_request_sent_flag_tells_whether_a_retry_is_safe(sink):
    with pytest.raises(http.OutboundConnectError) as refused:
        http.provider_request("POST", "http://127.0.0.1:1/")
    assert refused.value.request_sent is False and refused.value.kind == "network"
    sink.respond(Reply(delay=1))
    with pytest.raises(http.OutboundTimeout) as slow:
        http.provider_request("POST", sink.url, json={}, timeout=0.3)
    assert slow.value.request_sent is True


def test_multipart_files(sink):
    http.provider_request("POST", sink.url, files={"file": ("a.csv", b"x,y\n")}, data={"k": "v"})
    assert b'filename="a.csv"' in sink.requests[0].body and b"x,y" in sink.requests[0].body
