"""Table-driven SSRF test: with an empty allow-list no URL form reaches the loopback sink."""

import ipaddress

import pytest

from callops.lib import http, netguard
from tests.lib.sink import Reply, Sink


@pytest.fixture(scope="module")
def module_sink():
    s = Sink()
    yield s
    s.close()


@pytest.fixture
def empty_allow_list(settings, monkeypatch):
    settings.OUTBOUND_ALLOW_PRIVATE = []
    http.reset_clients()
    real = netguard.resolve

    def fake_resolve(host, port):
        # Names that a hostile DNS server would answer with internal addresses, and the usual
        # answers for localhost (so these forms do not depend on this machine's /etc/hosts).
        fake = {"loopback.evil.test": ["127.0.0.1"], "mixed.evil.test": ["93.184.216.34", "10.1.2.3"],
                "metadata.evil.test": ["169.254.169.254"], "v6loop.evil.test": ["::1"],
                "nat64.evil.test": ["64:ff9b::7f00:1"], "mapped.evil.test": ["::ffff:127.0.0.1"],
                "localhost": ["127.0.0.1", "::1"], "localhost.": ["127.0.0.1", "::1"]}
        if host in fake:
            return [ipaddress.ip_address(a) for a in fake[host]]
        return real(host, port)

    monkeypatch.setattr(netguard, "resolve", fake_resolve)


FORMS = [
    "http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://LOCALHOST:{port}/", "http://localhost.:{port}/",
    "http://127.1:{port}/", "http://127.0.1:{port}/", "http://2130706433:{port}/", "http://0x7f000001:{port}/",
    "http://0x7f.1:{port}/", "http://017700000001:{port}/", "http://0177.0.0.1:{port}/", "http://0177.1:{port}/",
    "http://127.255.255.254:{port}/", "http://0.0.0.0:{port}/", "http://0:{port}/", "http://[::1]:{port}/",
    "http://[::]:{port}/", "http://[::ffff:127.0.0.1]:{port}/", "http://[::ffff:7f00:1]:{port}/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/", "http://[64:ff9b::7f00:1]:{port}/",
    "http://[64:ff9b::a9fe:a9fe]:{port}/", "http://[2002:7f00:1::1]:{port}/", "http://[::127.0.0.1]:{port}/",
    "http://169.254.169.254:{port}/latest/meta-data/", "http://[fd00:ec2::254]:{port}/",
    "http://100.100.100.200:{port}/", "http://10.0.0.1:{port}/", "http://172.16.0.1:{port}/",
    "http://192.168.1.1:{port}/", "http://100.64.0.1:{port}/", "http://192.0.0.8:{port}/",
    "http://198.18.0.1:{port}/", "http://224.0.0.1:{port}/", "http://255.255.255.255:{port}/",
    "http://[fe80::1]:{port}/", "http://[fec0::1]:{port}/", "http://[ff02::1]:{port}/",
    "http://loopback.evil.test:{port}/", "http://mixed.evil.test:{port}/", "http://metadata.evil.test:{port}/",
    "http://v6loop.evil.test:{port}/", "https://127.0.0.1:{port}/",
    "http://[::ffff:0:7f00:1]:{port}/", "http://[::ffff:a9fe:a9fe]:{port}/", "http://[64:ff9b:1::a00:1]:{port}/",
    "http://[2002:a9fe:a9fe::1]:{port}/", "http://nat64.evil.test:{port}/", "http://mapped.evil.test:{port}/",
]


def test_table_has_enough_forms():
    assert len(FORMS) >= 30


@pytest.mark.parametrize("form", FORMS)
def test_refused_at_connect_time(form, module_sink, empty_allow_list):
    before = len(module_sink.requests)
    with pytest.raises(http.OutboundError) as exc:
        http.customer_request("POST", form.format(port=module_sink.port), content=b"{}", timeout=2)
    # Every form resolves (literals, or names the resolver hook answers), so it is the guard that
    # refuses it, never a lookup failure. (A few, like 0177.0.0.1, are already refused as URLs.)
    assert exc.value.kind == "blocked", str(exc.value)
    message = str(exc.value)
    assert "resolved to" in message or "URL not allowed" in message, message
    if "resolved to" in message:
        assert "/" in message.split("(", 1)[1], message  # the range is named
    assert len(module_sink.requests) == before


def test_error_names_host_address_and_range(empty_allow_list, module_sink):
    with pytest.raises(http.DestinationBlocked) as exc:
        http.customer_request("POST", f"http://loopback.evil.test:{module_sink.port}/")
    assert str(exc.value) == ("loopback.evil.test resolved to 127.0.0.1 (loopback 127.0.0.0/8), a private address; "
                              "callops sends only to public addresses, so use a public URL")


@pytest.mark.parametrize("form,address,reason", [
    ("http://[::ffff:0:7f00:1]:{port}/", "::ffff:0:7f00:1", "IPv4-translated ::ffff:0:0:0/96, embeds 127.0.0.1"),
    ("http://[::ffff:7f00:1]:{port}/", "::ffff:127.0.0.1", "IPv4-mapped ::ffff:0:0/96 of 127.0.0.1: loopback 127.0.0.0/8"),
    ("http://[64:ff9b::a9fe:a9fe]:{port}/", "64:ff9b::a9fe:a9fe", "NAT64 64:ff9b::/96, embeds 169.254.169.254"),
    ("http://[2002:7f00:1::1]:{port}/", "2002:7f00:1::1", "6to4 2002::/16, embeds 127.0.0.1"),
    ("http://[::127.0.0.1]:{port}/", "::7f00:1", "IPv4-compatible (deprecated) ::/96, embeds 127.0.0.1"),
    ("http://[::ffff:1:0:0:1]:{port}/", "::ffff:1:0:0:1", "reserved ::/8"),
    ("http://[fec0::1]:{port}/", "fec0::1", "site-local fec0::/10"),
])
def test_ipv6_error_names_the_address_and_the_range(form, address, reason, module_sink, empty_allow_list):
    with pytest.raises(http.DestinationBlocked) as exc:
        http.customer_request("POST", form.format(port=module_sink.port), content=b"{}", timeout=2)
    assert f"resolved to {address} ({reason})" in str(exc.value)


def test_every_blocked_address_names_a_range():
    for text in ("::ffff:0:808:808", "100::1", "2001:2::1", "240.0.0.1", "192.0.0.9", "::ffff:1:0:0:1"):
        reason = netguard.blocked_range(ipaddress.ip_address(text))
        assert reason and "/" in reason, (text, reason)


def test_redirect_to_private_address_not_followed(settings, module_sink):
    """A redirector on an allow-listed address points at the (not allowed) sink: never reached."""
    redirector = Sink(host="127.0.0.2")
    try:
        settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.2/32"]
        redirector.respond(Reply(status=307, headers={"Location": module_sink.url}))
        before = len(module_sink.requests)
        resp = http.customer_request("POST", redirector.url, content=b"{}")
        assert resp.status_code == 307 and len(module_sink.requests) == before
        http.reset_clients()
        with pytest.raises(http.DestinationBlocked):
            http.customer_request("POST", module_sink.url, content=b"{}")
    finally:
        redirector.close()


def test_allow_list_by_host_and_cidr(settings, module_sink):
    settings.OUTBOUND_ALLOW_PRIVATE = ["localhost"]
    assert http.customer_request("POST", f"http://localhost:{module_sink.port}/").status_code == 200
    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.0/8"]
    assert http.customer_request("POST", f"http://127.0.0.1:{module_sink.port}/").status_code == 200
    settings.OUTBOUND_ALLOW_PRIVATE = ["10.0.0.0/8"]
    http.reset_clients()  # pooled connections were vetted under the old list
    with pytest.raises(http.DestinationBlocked):
        http.customer_request("POST", f"http://127.0.0.1:{module_sink.port}/")


@pytest.mark.parametrize("addr", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_pass(addr):
    assert netguard.blocked_range(ipaddress.ip_address(addr)) is None


def test_save_time_check(settings):
    settings.OUTBOUND_ALLOW_PRIVATE = []
    assert "a private address" in netguard.check_url("http://127.0.0.1/")
    assert "credentials" in netguard.check_url("https://user:pw@example.com/")
    assert "https://" in netguard.check_url("ftp://example.com/")
    assert netguard.check_url("https://unresolvable.invalid/") is None
