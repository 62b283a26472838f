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
- One client per kind per process, built at app start (`warm_up`) and reused by every job and
  request; a forked child (a forking RQ worker class, RQ's scheduler) keeps the client and drops
  only the parent's pooled connections. A client costs ~30 ms, almost all of it the SSL context,
  so it is never built per request or per job.
- `trust_env=False`: HTTP(S)_PROXY/NO_PROXY in a worker's environment cannot reroute requests.
- `follow_redirects=False`: a 3xx is returned as-is; callers decide (webhooks treat it as failure).
- A hard total deadline: `timeout` bounds the whole request (DNS, connect, TLS, send, headers and
  the entire body). httpx's own timeouts restart on every socket read, so a server dripping one
  byte a second would never be cut off; here every socket operation gets at most the time left.
- A response-size cap, counted on decoded bytes (so a compressed bomb is cut off too).
- Customer hosts are resolved on helper threads within the deadline, one lookup per host at a
  time, so a name whose DNS never answers delays only requests to that name (`_Resolver`).
- The customer client keeps no cookies: it is shared by every organization's deliveries.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import httpcore
import httpx

from callops.lib import netguard

if TYPE_CHECKING:
    from httpcore._backends.base import SOCKET_OPTION

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


def _time_left(exc_class: type[Exception]) -> float | None:
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return None
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise exc_class("total deadline exceeded")
    return remaining


def _clamp(timeout: float | None, exc_class: type[Exception]) -> float | None:
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

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Resolver:
    """getaddrinfo on helper threads, each wait bounded by the caller's deadline.

    getaddrinfo cannot be interrupted, so a name whose DNS server never answers keeps its thread
    busy for the resolver's own timeout (often 5 s x attempts x servers). Two rules keep one such
    name from delaying anyone else's delivery:
    - one lookup per (host, port) at a time: callers asking for a name already being looked up
      wait for that lookup instead of starting another, so a hanging name holds one thread, not
      one per delivery to it;
    - a thread per distinct lookup (not a small shared pool, where a few hanging names would
      queue every other lookup behind them), capped at MAX_IN_FLIGHT: past that the lookup fails
      fast as a network error and the delivery is retried later.
    """

    MAX_IN_FLIGHT = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, int], concurrent.futures.Future[list[netguard.IPAddress]]] = {}

    def resolve(self, host: str, port: int) -> list[netguard.IPAddress]:
        key = (host, port)
        with self._lock:
            future = self._in_flight.get(key)
            if future is None:
                if len(self._in_flight) >= self.MAX_IN_FLIGHT:
                    raise httpcore.ConnectError(f"could not resolve {host}: too many DNS lookups in flight")
                future = concurrent.futures.Future()
                try:
                    threading.Thread(target=self._run, args=(key, future), name=f"resolve {host}"[:60],
                                     daemon=True).start()
                except RuntimeError as exc:  # the process cannot start another thread right now
                    raise httpcore.ConnectError(f"could not resolve {host}: {exc}")
                self._in_flight[key] = future
        try:
            return future.result(timeout=_time_left(httpcore.ConnectTimeout))
        except concurrent.futures.TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} ran past the deadline")
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}")

    def _run(self, key: tuple[str, int], future: concurrent.futures.Future[list[netguard.IPAddress]]) -> None:
        try:
            future.set_result(netguard.resolve(*key))
        except BaseException as exc:  # handed to every waiter
            future.set_exception(exc)
        finally:
            with self._lock:
                self._in_flight.pop(key, None)


_resolver: tuple[int, _Resolver] | None = None


def resolver() -> _Resolver:
    global _resolver
    if _resolver is None or _resolver[0] != os.getpid():
        # Threads do not survive a fork: a child starts with its own, empty resolver.
        _resolver = (os.getpid(), _Resolver())
    return _resolver[1]


def _resolve_bounded(host: str, port: int) -> list[netguard.IPAddress]:
    """getaddrinfo is not bounded by socket timeouts, so it runs on a helper thread with the time left."""
    return resolver().resolve(host, port)


class _Backend(httpcore.NetworkBackend):
    """The stock sync backend plus the deadline and, for customer URLs, connect-time vetting.

    With `guard`, the host is resolved once here, every answer is vetted, and the stock backend
    is handed a vetted IP. SNI, certificate checks, the Host header and the pool key all keep the
    host name, so keep-alive and TLS verification are unchanged.
    """

    def __init__(self, guard: bool) -> None:
        self.guard = guard
        self.stock = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        # httpcore writes a request's headers and body separately; with Nagle's algorithm the body
        # then waits for the receiver's delayed ACK of the headers (40 ms on Linux) on every request.
        socket_options = [*(socket_options or ()), (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
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

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
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


class _NoCookies(httpx.Cookies):
    """A cookie jar that never stores anything.

    The customer client is shared by every organization's deliveries: a jar would keep one
    receiver's Set-Cookie and send it back on later deliveries to that host, whoever they are
    for. Webhooks are stateless, so replies' cookies are ignored (which also skips parsing them).
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def _build(guard: bool, max_connections: int) -> httpx.Client:
    transport = httpx.HTTPTransport(verify=_ssl(), trust_env=False)
    # httpx.HTTPTransport takes no network backend, so its pool is replaced (a private attribute;
    # httpx/httpcore are pinned and tests/lib/test_http.py covers the swap).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_ssl(), max_connections=max_connections, max_keepalive_connections=max_connections,
        keepalive_expiry=5.0, network_backend=_Backend(guard=guard),
    )
    client = httpx.Client(transport=transport, trust_env=False, follow_redirects=False,
                          headers={"User-Agent": "callops/1.0"})
    if guard:
        client._cookies = _NoCookies()  # the `cookies` setter would copy it into a plain jar
    return client


def _forget_inherited_connections(client: httpx.Client) -> None:
    """In a forked child: keep the parent's client (its SSL context and guarded transport are the
    expensive part) but none of its pooled connections, whose sockets the parent still uses.
    They are dropped, not closed: closing a TLS connection could write to the shared socket."""
    pool = cast(httpx.HTTPTransport, client._transport)._pool
    pool._connections = []
    pool._requests = []
    pool._optional_thread_lock = type(pool._optional_thread_lock)()  # in case it was held at the fork


def _client(kind: str) -> httpx.Client:
    pid = os.getpid()
    entry = _clients.get(kind)
    if entry is None or entry[0] != pid:
        with _clients_lock:
            entry = _clients.get(kind)
            if entry is None:
                entry = (pid, _build(guard=(kind == "customer"), max_connections=100))
            elif entry[0] != pid:  # forked without the at-fork hook having run (it normally does)
                _forget_inherited_connections(entry[1])
                entry = (pid, entry[1])
            _clients[kind] = entry
    return entry[1]


def _after_fork_in_child() -> None:
    global _clients_lock
    _clients_lock = threading.Lock()
    for kind, (_pid, client) in list(_clients.items()):
        _forget_inherited_connections(client)
        _clients[kind] = (os.getpid(), client)


os.register_at_fork(after_in_child=_after_fork_in_child)


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
    """Build the SSL context and both shared clients now, at app start.

    callops' worker runs jobs in its own process, so the clients are built once per worker; with
    a forking worker class each work horse would inherit them from here instead of building its
    own (~30 ms, nearly all of it the SSL context) and only open its own connections (see
    `_forget_inherited_connections`).
    """
    _ssl()
    customer_client()
    provider_client()


# --- Requests -------------------------------------------------------------------------------------
# Parsed URLs by their text: a worker sends to the same few thousand URLs over and over, and
# parsing one costs more than signing a request. Bounded; cleared when full.
_parsed_urls: dict[str, httpx.URL] = {}
_PARSED_URLS_MAX = 4096


def _parsed(url: str | httpx.URL) -> httpx.URL:
    if not isinstance(url, str):
        return httpx.URL(url)
    parsed = _parsed_urls.get(url)
    if parsed is None:
        parsed = httpx.URL(url)
        if len(_parsed_urls) >= _PARSED_URLS_MAX:
            _parsed_urls.clear()
        _parsed_urls[url] = parsed
    return parsed


def _send(client: httpx.Client, method: str, url: str, *, timeout: float, max_bytes: int, truncate: bool,
          **kwargs: Any) -> httpx.Response:
    timeout = float(timeout)
    _local.deadline = time.monotonic() + timeout
    try:
        request = client.build_request(method, _parsed(url), timeout=httpx.Timeout(timeout), **kwargs)
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


def provider_request(method: str, url: str, *, headers: Any = None, json: Any = None, params: Any = None,
                     data: Any = None, content: Any = None, files: Any = None, timeout: float = DEFAULT_TIMEOUT,
                     max_bytes: int = PROVIDER_MAX_BYTES) -> httpx.Response:
    """Send a request to a provider or LLM API with a hard total deadline; return the read response.

    Raises OutboundTimeout, OutboundConnectError or ResponseTooLarge; an invalid or non-http(s)
    URL raises DestinationBlocked. All are OutboundError subclasses with a `kind` word.
    """
    return _send(provider_client(), method, url, timeout=timeout, max_bytes=max_bytes, truncate=False,
                 headers=headers, json=json, params=params, data=data, content=content, files=files)


def customer_request(method: str, url: str, *, headers: Any = None, content: Any = None, json: Any = None,
                     timeout: float = DEFAULT_TIMEOUT, max_bytes: int = CUSTOMER_MAX_BYTES) -> httpx.Response:
    """Send a request to a customer URL: private addresses refused at connect time, body truncated.

    Raises DestinationBlocked, OutboundTimeout or OutboundConnectError.
    """
    return _send(customer_client(), method, url, timeout=timeout, max_bytes=max_bytes, truncate=True,
                 headers=headers, content=content, json=json)


def was_truncated(response: httpx.Response) -> bool:
    return bool(response.extensions.get("callops_truncated"))
