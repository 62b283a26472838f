"""Which custom header names an endpoint may set.

Refused: headers that describe the body or the connection (a wrong Content-Length or
Content-Encoding corrupts the request, Transfer-Encoding/Connection/Upgrade/TE/Trailer/Keep-Alive/
Expect change how it is framed or sent), Host (it picks the virtual host the vetted connection
reaches), Proxy-* (for proxies, never for the receiver), and every `webhook-*` and `callingbox-*`
name, which the Standard Webhooks and CallingBox signatures own. Checked when an endpoint is saved and again at send time, so a
header stored before a rule existed is dropped rather than sent.
"""

from __future__ import annotations

import re

RESERVED = frozenset({
    "content-type", "content-length", "content-encoding", "transfer-encoding", "host", "user-agent",
    "connection", "keep-alive", "upgrade", "te", "trailer", "expect",
})
RESERVED_PREFIXES = ("proxy-", "webhook-", "callingbox-")
NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")


def allowed(name) -> bool:
    name = str(name)
    if not NAME.match(name):
        return False
    lower = name.lower()
    return lower not in RESERVED and not lower.startswith(RESERVED_PREFIXES)


def usable(headers: dict | None) -> dict:
    """The stored custom headers that may be sent (see the module docstring)."""
    return {k: v for k, v in (headers or {}).items()
            if allowed(k) and isinstance(v, str) and "\r" not in v and "\n" not in v}
