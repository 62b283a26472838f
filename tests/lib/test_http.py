"""The outbound HTTP seam: hard deadline, size cap, no redirects, no env proxy, shared clients."""

import time

import pytest

from callops.lib import http
from tests.helpers import wait_for
from tests.lib.sink import Reply, Sink


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
    assert time.monotonic() - started >= 0.55  # not before the deadline...
    # ...and at it: the client hung up mid-body, though every byte came well within a read timeout.
    wait_for(lambda: sink.cut_short, "the sink to see the client hang up before the body was complete")


def test_slow_headers_bounded(sink):
    sink.respond(Reply(delay=2))
    with pytest.raises(http.OutboundTimeout):  # rather than the reply that comes after 2 s
        http.customer_request("POST", sink.url, content=b"x", timeout=0.5)


def test_size_cap_provider_raises_customer_truncates(sink):
    sink.respond(Reply(body=b"a" * 10_000), Reply(body=b"a" * 10_000))
    with pytest.raises(http.ResponseTooLarge):
        http.provider_request("GET", sink.url, max_bytes=1000)
    resp = http.customer_request("POST", sink.url, max_bytes=1000)
    assert resp.content == b"a" * 1000 and http.was_truncated(resp)


def test_redirect_not_followed(sink):
    target = Sink()  # a live server the redirect points at: it must receive nothing
    try:
        sink.respond(Reply(status=301, headers={"Location": target.url}),
                     Reply(status=307, headers={"Location": target.url}))
        resp = http.provider_request("GET", sink.url)
        assert resp.status_code == 301 and len(sink.requests) == 1
        resp = http.customer_request("POST", sink.url, content=b"{}")
        assert resp.status_code == 307 and resp.headers["location"] == target.url
        assert target.requests == []
    finally:
        target.close()


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


def test_customer_client_keeps_no_cookies(sink):
    sink.respond(Reply(headers={"Set-Cookie": "session=abc; Path=/"}))
    http.customer_request("POST", sink.url, content=b"{}")
    http.customer_request("POST", sink.url, content=b"{}")
    assert "cookie" not in sink.requests[1].headers  # one receiver's cookie never rides along later


def test_clients_are_built_at_app_start():
    """ready() builds both clients at process start, not in the first job that needs one."""
    import subprocess
    import sys

    code = ("import django; django.setup(); from callops.lib import http; "
            "print(sorted(http._clients), http._ssl_context is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "callops.settings"})
    assert out.stdout.strip().splitlines()[-1] == "['customer', 'provider'] True", out.stderr[-2000:]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_child_reuses_the_client_but_not_the_parents_connections(sink):
    """What a forking RQ worker does: the work horse uses the client built in the parent (no
    ~30 ms rebuild per job) and opens its own connection instead of sharing the parent's socket."""
    import os

    parent_client = http.customer_client()
    http.customer_request("POST", sink.url, content=b"parent")  # a pooled keep-alive connection
    assert len(parent_client._transport._pool.connections) >= 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running any test machinery
        try:
            client = http.customer_client()
            pooled_before = len(client._transport._pool.connections)
            resp = http.customer_request("POST", sink.url, content=b"child")
            verdict = f"{client is parent_client} {pooled_before} {resp.status_code}"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            verdict = f"error {exc!r}"
        os.write(write, verdict.encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    verdict = os.read(read, 1000).decode()
    os.close(read)
    assert verdict == "True 0 200", verdict
    ports = {r.headers.get("x-client-port") for r in sink.requests}
    assert len(sink.requests) == 2 and len(ports) == 2  # the child used a connection of its own
    # ...and the parent's connection still works after the child exited.
    assert http.customer_request("POST", sink.url, content=b"again").status_code == 200
