"""Which network addresses a customer-supplied URL may reach (the SSRF guard).

Used in two places:
- at connect time by the customer HTTP client in `callops.lib.http` (the real control): the host
  is resolved once, every answer is vetted, and the socket connects only to a vetted address, so
  DNS rebinding between a check and the connect cannot slip through;
- when a URL is saved (`check_url`), for quick feedback only.

IP literals are never parsed here: `getaddrinfo` turns `2130706433`, `0x7f.1` and `0177.0.0.1`
into 127.0.0.1, so we vet what the resolver returns. The allow-list
(`settings.OUTBOUND_ALLOW_PRIVATE`, CIDRs and host names) exists for tests and self-hosters; it
is empty in production.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges that are not public unicast. `is_global` alone misses several of them (CGNAT is caught,
# but multicast, 6to4, NAT64, 192.0.0.0/24, fec0::/10 and 3fff::/20 report is_global=True on some
# CPython releases), so every range is listed explicitly with a name for the error message.
BLOCKED_RANGES: list[tuple[IPNetwork, str]] = [
    (ipaddress.ip_network(cidr), label)
    for cidr, label in [
        ("0.0.0.0/8", "this-network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local/metadata"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b::/96", "NAT64"),
        ("64:ff9b:1::/48", "NAT64 local"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("2002::/16", "6to4"),
        ("5f00::/16", "SRv6"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
        ("::/8", "reserved"),  # last: the narrower forms above sit inside it and name themselves
    ]
]

ALLOWED_SCHEMES = ("http", "https")


class DestinationBlocked(Exception):
    """A customer URL points at an address we refuse to connect to. The message says why."""

    kind = "blocked"


def normalize_host(host: str) -> str:
    """Lower-case, strip brackets, a trailing dot and an IPv6 zone id (`%eth0`)."""
    host = (host or "").strip().lower().strip("[]").rstrip(".")
    return host.split("%", 1)[0]


# IPv6 forms that carry an IPv4 address in their low 32 bits (the error names it too).
_EMBEDS_V4 = {"::/96", "::ffff:0:0:0/96", "64:ff9b::/96"}


def _embedded_v4(ip: IPAddress, net: IPNetwork) -> str:
    if str(net) in _EMBEDS_V4:
        return f", embeds {ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)}"
    if ip.version == 6 and ip.sixtofour is not None:
        return f", embeds {ip.sixtofour}"
    return ""


def _python_range(ip: IPAddress) -> str:
    """The special-purpose range Python's own tables put `ip` in (for addresses our list misses)."""
    constants = getattr(type(ip), "_constants", None)
    for attr in ("_private_networks", "_reserved_networks", "_reserved_network", "_multicast_network",
                 "_linklocal_network", "_sitelocal_network", "_public_network"):
        nets = getattr(constants, attr, None)
        if nets is None:
            continue
        for net in nets if isinstance(nets, list | tuple) else [nets]:
            if ip in net:
                return str(net)
    # Nothing names it: the address itself is the range that was refused.
    return f"{ip}/{ip.max_prefixlen}"


def blocked_range(ip: IPAddress) -> str | None:
    """The name and CIDR of the blocked range `ip` falls in, or None if it is public unicast.

    Embedded IPv4 addresses are named too (`NAT64 64:ff9b::/96, embeds 127.0.0.1`), so an error
    about an unfamiliar IPv6 form says what it points at.
    """
    if ip.version == 6 and ip.ipv4_mapped is not None:
        # ::ffff:a.b.c.d is the IPv4 address a.b.c.d on a dual-stack socket.
        inner = blocked_range(ip.ipv4_mapped)
        return f"IPv4-mapped ::ffff:0:0/96 of {ip.ipv4_mapped}: {inner}" if inner else None
    for net, label in BLOCKED_RANGES:
        if ip.version == net.version and ip in net:
            return f"{label} {net}{_embedded_v4(ip, net)}"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return f"non-global {_python_range(ip)}"
    return None


def _allow_list() -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    hosts: set[str] = set()
    nets: list[IPNetwork] = []
    for entry in getattr(settings, "OUTBOUND_ALLOW_PRIVATE", []) or []:
        entry = str(entry).strip()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(normalize_host(entry))
    return frozenset(hosts), tuple(nets)


def _allowed_ip(ip: IPAddress, nets: Iterable[IPNetwork]) -> bool:
    candidates: list[IPAddress] = [ip]
    if ip.version == 6 and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c.version == n.version and c in n for c in candidates for n in nets)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in resolver order, duplicates removed.

    Module-level so tests can substitute a resolver (a hostname that resolves to loopback).
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: set[IPAddress] = set()
    out: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(normalize_host(str(sockaddr[0])))
        if ip not in seen:
            seen.add(ip)
            out.append(ip)
    return out


def vet(host: str, ips: list[IPAddress]) -> list[IPAddress]:
    """Raise DestinationBlocked unless every address is public or allow-listed; return them.

    One bad answer refuses the whole host (stricter than dropping it) so a name that mixes a
    public and a private answer cannot be used to reach the private one on a later connect.
    """
    host = normalize_host(host)
    allowed_hosts, allowed_nets = _allow_list()
    if host in allowed_hosts:
        return list(ips)
    if not ips:
        raise DestinationBlocked(f"{host} did not resolve to any address")
    for ip in ips:
        reason = blocked_range(ip)
        if reason and not _allowed_ip(ip, allowed_nets):
            # Operators read this under the URL field and in delivery attempts: it names what was
            # refused and why, not the setting a self-hoster would change (the README does).
            raise DestinationBlocked(
                f"{host} resolved to {ip} ({reason}), a private address; callops sends only to public "
                f"addresses, so use a public URL"
            )
    return list(ips)


def check_url(url: str, *, resolve_host: bool = True) -> str | None:
    """Save-time check of a customer URL. Returns an error message, or None when it looks fine.

    This is feedback for the user, not the control: the connect-time guard decides.
    """
    if not url or len(url) > 2048:
        return "URL is required and must be at most 2048 characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "URL is not valid"
    if parts.scheme not in ALLOWED_SCHEMES:
        return "URL must start with https:// or http://"
    if not parts.hostname:
        return "URL must include a host"
    if parts.username or parts.password:
        return "URL must not contain credentials"
    if not resolve_host:
        return None
    host = normalize_host(parts.hostname)
    try:
        vet(host, resolve(host, port or (443 if parts.scheme == "https" else 80)))
    except DestinationBlocked as exc:
        return str(exc)
    except (OSError, UnicodeError, ValueError):
        # Unresolvable now may resolve later (DNS not set up yet); the connect-time guard decides.
        return None
    return None
