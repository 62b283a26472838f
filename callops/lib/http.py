"""The only outbound HTTP seam of callops.

Every request to a provider API, an LLM endpoint or a customer webhook URL goes through here, so
timeouts, proxies, redirects, size caps and the private-address guard are decided in one place.

How to call it
--------------
Provider and LLM code (URLs configured by us or by an operator)::

    from callops.lib import http

    try:
        resp = http.provider_request("POST", url, headers={...}, json={...}, params=None, timeout=15)
    except http.OutboundTimeout: ...        # the whole request ran past `timeout` seconds
    except http.OutboundConnectError: ...   # DNS, refused, reset, TLS, protocol errors
    # every error has .kind ("timeout", "network", "too_large", "blocked") and .request_sent
    # (False: nothing reached the server, so even a create may be retried safely)
    except http.ResponseTooLarge: ...       # body larger than `max_bytes` (default 5 MB)
    # or simply `except http.OutboundError as exc:` and map `exc.kind` to ProviderError

    resp.status_code, resp.headers, resp.json()   # the body is already read; the connection is free

Customer URLs (webhooks) use `customer_request(...)` instead: same shape, plus the connect-time
guard (`DestinationBlocked`, see `callops.lib.netguard`), and bodies past the cap are truncated
rather than refused (`was_truncated(resp)` tells), because a 2xx with a big body is still a 2xx.

What it guarantees
------------------
- One client per kind per process, built lazily and rebuilt after a fork (a client costs ~30 ms,
  almost all of it the SSL context, so it is never built per request; connections are kept alive).
- `trust_env=False`: HTTP(S)_PROXY/NO_PROXY in a worker's environment cannot reroute requests.
- `follow_redirects=False`: a 3xx is returned as-is; callers decide (webhooks treat it as failure).
- A hard total deadline: `timeout` bounds the whole request (DNS, connect, TLS, send, headers and
  the entire body). httpx's own timeouts restart on every socket read, so a server dripping one
  byte a second would never be cut off; here every socket operation gets at most the time left.
- A response-size cap, counted on decoded bytes (so a compressed bomb is cut off too).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import ssl
import threading
import time

import httpcore
import httpx

from callops.lib import netguard

__all__ = [
    "OutboundError", "OutboundTimeout", "OutboundConnectError", "ResponseTooLarge", "DestinationBlocked",
    "provider_request", "customer_request", "was_truncated", "provider_client", "customer_client",
]

PROVIDER_MAX_BYTES = 5 * 1024 * 1024
CUSTOMER_MAX_BYTES = 64 * 1024
DEFAULT_TIMEOUT = 15.0


class OutboundError(Exception):
    """Base of every error raised here; `kind` is a short machine word for logs and attempt rows.

    `request_sent` is False when the failure happened before any byte of the request could have
    reached the server (DNS, connect, TLS, a blocked address): repeating even a create is safe then.
    """

    kind = "error"

    def __init__(self, message: str = "", *, request_sent: bool = True):
        super().__init__(message)
        self.request_sent = request_sent


class OutboundTimeout(OutboundError):
    kind = "timeout"


class OutboundConnectError(OutboundError):
    """Anything that went wrong on the wire: DNS, refused, reset, TLS, malformed response."""

    kind = "network"


class ResponseTooLarge(OutboundError):
    kind = "too_large"


class DestinationBlocked(OutboundError, netguard.DestinationBlocked):
    """The URL is not allowed: a private address, a bad scheme, a unix socket. The text says why."""

    kind = "blocked"


# --- Hard deadline --------------------------------------------------------------------------------
# The deadline of the request running on this thread. httpcore calls our stream wrapper for every
# socket operation; the wrapper clamps each one to the time left, which bounds the total.
_local = threading.local()


def _time_left(exc_class) -> float | None:
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise exc_class("total deadline exceeded")
    return remaining


def _clamp(timeout: float | None, exc_class) -> float | None:
    remaining = _time_left(exc_class)
    if remaining is None:
        return timeout
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


_resolver_pool: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None


def _resolve_bounded(host: str, port: int):
    """getaddrinfo is not bounded by socket timeouts, so run it on a helper thread with the time left."""
    global _resolver_pool
    if _resolver_pool is None or _resolver_pool[0] != os.getpid():
        _resolver_pool = (os.getpid(), concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="resolve"))
    future = _resolver_pool[1].submit(netguard.resolve, host, port)
    try:
        return future.result(timeout=_time_left(httpcore.ConnectTimeout))
    except concurrent.futures.TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host} ran past the deadline")
    except OSError as exc:
        raise httpcore.ConnectError(f"could not resolve {host}: {exc}")


class _Backend(httpcore.NetworkBackend):
    """The stock sync backend plus the deadline and, for customer URLs, connect-time vetting.

    With `guard`, the host is resolved once here, every answer is vetted, and the stock backend
    is handed a vetted IP. SNI, certificate checks, the Host header and the pool key all keep the
    host name, so keep-alive and TLS verification are unchanged.
    """

    def __init__(self, guard: bool):
        self.guard = guard
        self.stock = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if not self.guard:
            stream = self.stock.connect_tcp(host, port, _clamp(timeout, httpcore.ConnectTimeout),
                                            local_address, socket_options)
            return _DeadlineStream(stream)
        ips = netguard.vet(host, _resolve_bounded(host, port))
        for i, ip in enumerate(ips):
            try:
                stream = self.stock.connect_tcp(str(ip), port, _clamp(timeout, httpcore.ConnectTimeout),
                                                local_address, socket_options)
                return _DeadlineStream(stream)
            except httpcore.ConnectError:
                if i == len(ips) - 1:
                    raise
        raise httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise netguard.DestinationBlocked("blocked: unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# --- Clients --------------------------------------------------------------------------------------
# httpx logs every request URL at INFO; customer URLs may carry tokens in their query strings.
logging.getLogger("httpx").setLevel(logging.WARNING)

_clients: dict[str, tuple[int, httpx.Client]] = {}
_clients_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def _ssl() -> ssl.SSLContext:
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


def _build(guard: bool, max_connections: int) -> httpx.Client:
    transport = httpx.HTTPTransport(verify=_ssl(), trust_env=False)
    # httpx.HTTPTransport takes no network backend, so its pool is replaced (a private attribute;
    # httpx/httpcore are pinned and tests/lib/test_http.py covers the swap).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_ssl(), max_connections=max_connections, max_keepalive_connections=max_connections,
        keepalive_expiry=5.0, network_backend=_Backend(guard=guard),
    )
    return httpx.Client(transport=transport, trust_env=False, follow_redirects=False,
                        headers={"User-Agent": "callops/1.0"})


def _client(kind: str) -> httpx.Client:
    pid = os.getpid()
    entry = _clients.get(kind)
    if entry is None or entry[0] != pid:
        with _clients_lock:
            entry = _clients.get(kind)
            if entry is None or entry[0] != pid:
                # After a fork the parent's pooled sockets must not be shared, so build anew.
                entry = (pid, _build(guard=(kind == "customer"), max_connections=100))
                _clients[kind] = entry
    return entry[1]


def provider_client() -> httpx.Client:
    """The shared client for provider and LLM APIs (no private-address guard)."""
    return _client("provider")


def customer_client() -> httpx.Client:
    """The shared client for customer-supplied URLs (connect-time private-address guard)."""
    return _client("customer")


def reset_clients() -> None:
    """Close pooled connections (they were vetted when opened; after an allow-list change, re-vet)."""
    with _clients_lock:
        for _pid, client in _clients.values():
            client.close()
        _clients.clear()


def warm_up() -> None:
    """Build the SSL context now (called at app start, before workers fork, so children inherit it
    and building a client in a child costs ~0.2 ms instead of ~30 ms; pools are per process)."""
    _ssl()


# --- Requests -------------------------------------------------------------------------------------
def _send(client: httpx.Client, method: str, url: str, *, timeout: float, max_bytes: int, truncate: bool,
          **kwargs) -> httpx.Response:
    timeout = float(timeout)
    _local.deadline = time.monotonic() + timeout
    try:
        request = client.build_request(method, url, timeout=httpx.Timeout(timeout), **kwargs)
        response = client.send(request, stream=True)
        try:
            chunks, size, truncated = [], 0, False
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    if not truncate:
                        raise ResponseTooLarge(f"response body exceeds {max_bytes} bytes")
                    chunks.append(chunk[: max_bytes - (size - len(chunk))])
                    truncated = True
                    break
                chunks.append(chunk)
                _time_left(httpcore.ReadTimeout)
        finally:
            response.close()
        # Setting the cached body makes .content/.text/.json() work on the closed stream.
        response._content = b"".join(chunks)
        response.extensions = {**response.extensions, "callops_truncated": truncated}
        return response
    except netguard.DestinationBlocked as exc:
        raise DestinationBlocked(str(exc), request_sent=False) from exc
    except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
        sent = not isinstance(exc, httpx.ConnectTimeout | httpcore.ConnectTimeout)
        raise OutboundTimeout(f"no complete response within {timeout:g}s", request_sent=sent) from exc
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise DestinationBlocked(f"blocked: URL not allowed ({exc})", request_sent=False) from exc
    except (httpx.TransportError, httpx.DecodingError, httpcore.NetworkError, httpcore.ProtocolError) as exc:
        sent = not isinstance(exc, httpx.ConnectError | httpcore.ConnectError)
        raise OutboundConnectError(str(exc) or exc.__class__.__name__, request_sent=sent) from exc
    finally:
        _local.deadline = None


def provider_request(method: str, url: str, *, headers=None, json=None, params=None, data=None, content=None,
                     files=None, timeout: float = DEFAULT_TIMEOUT,
                     max_bytes: int = PROVIDER_MAX_BYTES) -> httpx.Response:
    """Send a request to a provider or LLM API with a hard total deadline; return the read response.

    Raises OutboundTimeout, OutboundConnectError or ResponseTooLarge; an invalid or non-http(s)
    URL raises DestinationBlocked. All are OutboundError subclasses with a `kind` word.
    """
    return _send(provider_client(), method, url, timeout=timeout, max_bytes=max_bytes, truncate=False,
                 headers=headers, json=json, params=params, data=data, content=content, files=files)


def customer_request(method: str, url: str, *, headers=None, content=None, json=None,
                     timeout: float = DEFAULT_TIMEOUT, max_bytes: int = CUSTOMER_MAX_BYTES) -> httpx.Response:
    """Send a request to a customer URL: private addresses refused at connect time, body truncated.

    Raises DestinationBlocked, OutboundTimeout or OutboundConnectError.
    """
    return _send(customer_client(), method, url, timeout=timeout, max_bytes=max_bytes, truncate=True,
                 headers=headers, content=content, json=json)


def was_truncated(response: httpx.Response) -> bool:
    return bool(response.extensions.get("callops_truncated"))
