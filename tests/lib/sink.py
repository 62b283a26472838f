"""A threaded loopback HTTP server with programmable responses, for webhook and HTTP-seam tests.

`Sink.respond(...)` sets what the next requests get (a status, headers, a body, an optional delay
and a slow drip of the body); every request received is recorded in `sink.requests`, and every
reply whose sender hung up before the whole body was sent in `sink.cut_short` (a client deadline
at work).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0           # seconds before sending anything
    drip_interval: float = 0.0   # if set, send the body one byte per interval
    chunked_forever: bool = False  # drip bytes until the client goes away


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A sender that went away mid-request (a killed worker, a client deadline) is routine here.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Sink:
    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[Received] = []
        self.cut_short: list[Received] = []  # replies the sender hung up on mid-body
        self._replies: list[Reply] = []
        self._default = Reply()
        self._lock = threading.Lock()
        self.event = threading.Condition(self._lock)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The status line and headers go out before the body; with Nagle the body would wait
            # for the sender's delayed ACK (40 ms) on every keep-alive request.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                # Which connection it came on (tests tell a reused keep-alive connection from a new one).
                headers["x-client-port"] = str(self.client_address[1])
                received = Received(self.command, self.path, headers, body, time.time())
                with sink._lock:
                    sink.requests.append(received)
                    reply = sink._replies.pop(0) if sink._replies else sink._default
                    sink.event.notify_all()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    if reply.chunked_forever:
                        self.send_header("Content-Length", "100000000")
                        self.end_headers()
                        while True:
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(reply.drip_interval or 0.1)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.drip_interval:
                        for i in range(len(reply.body)):
                            self.wfile.write(reply.body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip_interval)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                    with sink._lock:
                        sink.cut_short.append(received)

            do_POST = do_GET = do_PUT = _handle

        self.server = _Server((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def respond(self, *replies: Reply, default: Reply | None = None) -> None:
        with self._lock:
            self._replies = list(replies)
            if default is not None:
                self._default = default

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.event.wait(left)
            return True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
