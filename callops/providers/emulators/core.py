"""The emulator engine: threaded HTTP server, routing, scripted call timelines, faults, callbacks.

A provider emulator subclasses `Emulator`, declares its routes, outcomes and how a call renders
in its dialect. Time is scaled: `speed=50` plays a 50 s call in one second.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import random
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast

import httpx


@dataclass
class Outcome:
    """A scripted call: (provider seconds after create, raw provider state) steps and the truth."""

    steps: Sequence[tuple[float, str]]
    final: str | None            # canonical status callops must end with; None = never ends
    extra: dict = field(default_factory=dict)


@dataclass
class EmuCall:
    id: str
    number: str
    outcome_key: str
    outcome: Outcome
    created: float
    job_id: str = ""
    batch_id: str = ""
    callback_url: str = ""
    request: dict = field(default_factory=dict)
    stopped_at: float | None = None   # set when stopped/cancelled through the API
    stop_state: str = ""
    sent_steps: int = 0               # callbacks already produced for steps[:sent_steps]


@dataclass
class Faults:
    """Random faults per request (seeded, so a run is reproducible) plus a queue of forced ones.

    Timeouts are not injected on creates unless `timeout_on_create`: a create that times out
    may have been placed, which is the caller's ambiguity to handle, not a retryable fault.
    """

    p500: float = 0.0
    p429: float = 0.0
    ptimeout: float = 0.0
    latency: float = 0.0
    retry_after: float = 1.0
    timeout_sleep: float = 1.5
    timeout_on_create: bool = False
    retry_after_on_5xx: bool = False   # some gateways send Retry-After with a 503 too
    p_duplicate_callback: float = 0.0
    p_reorder_callback: float = 0.0
    reorder_delay: float = 0.3
    seed: int = 7
    # ("create"|"read"|"other"|"any", "500"|"429"|"timeout"|"404"): the next matching request gets it.
    # "404" answers as if the provider had never heard of the call (PolyAI right after a create).
    forced: deque = field(default_factory=deque)

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.lock = threading.Lock()

    def force(self, fault: str, op: str = "any", times: int = 1):
        for _ in range(times):
            self.forced.append((op, fault))

    def pick(self, op: str) -> str | None:
        with self.lock:
            for i, (fop, fault) in enumerate(self.forced):
                if fop in ("any", op):
                    del self.forced[i]
                    return fault
            if op not in ("create", "read"):
                return None
            r = self.rng.random()
            if r < self.p500:
                return "500"
            if r < self.p500 + self.p429:
                return "429"
            if r < self.p500 + self.p429 + self.ptimeout and (op == "read" or self.timeout_on_create):
                return "timeout"
            return None


class _Server(ThreadingHTTPServer):
    emulator: Emulator  # set by Emulator.__init__; the handler reaches its emulator through it

    def handle_error(self, request, client_address):
        # A client that went away mid-request (a killed worker, a timeout fault) is routine here.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Request:
    def __init__(self, method, path, query, headers, body, params):
        self.method, self.path, self.query, self.headers, self.body, self.params = (
            method, path, query, headers, body, params)

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, list]:
        """Multipart or urlencoded fields; file parts come back as bytes."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("multipart/"):
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + self.body)
            out: dict[str, list] = {}
            for part in msg.iter_parts():
                name = cast(str, part.get_param("name", header="content-disposition"))
                data = cast(bytes, part.get_payload(decode=True)) or b""
                out.setdefault(name, []).append(data.decode() if part.get_filename() is None else data)
            return out
        return {k: v for k, v in urllib.parse.parse_qs(self.body.decode()).items()}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms stall

    def log_message(self, *args):  # quiet; the emulator keeps its own counters
        pass

    def _handle(self):
        self.server.emulator._dispatch(self)

    do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _handle


class Emulator:
    kind = ""
    outcomes: dict[str, Outcome] = {}
    routes: list[tuple[str, str, str, str]] = []  # (method, regex, handler name, op)

    def __init__(self, *, port: int = 0, speed: float = 1.0, faults: Faults | None = None, callback_url: str = "",
                 api_key: str = "test-key", secret: str = "", spread_outcomes: bool = False,
                 rate_limit_per_minute: int = 0, batch_concurrency: int = 0, batch_wave_seconds: float = 60.0):
        self.speed = speed
        self.faults = faults or Faults()
        self.callback_url = callback_url
        self.api_key = api_key
        self.secret = secret
        self.spread_outcomes = spread_outcomes
        self.rate_limit_per_minute = rate_limit_per_minute
        # Provider batches dial `batch_concurrency` calls at a time (0 = all at once), one wave
        # every `batch_wave_seconds` of provider time; the rest wait their turn at the provider.
        self.batch_concurrency = batch_concurrency
        self.batch_wave_seconds = batch_wave_seconds
        self.calls: dict[str, EmuCall] = {}
        self.scripts: dict[str, str | Outcome] = {}
        self.creates: Counter = Counter()      # destination number -> creates (dialed twice = bug)
        self.requests: Counter = Counter()     # (op, status) -> count
        self.callbacks_sent: list[tuple[str, int]] = []
        self.callback_log: list[tuple[str, int]] = []   # (call id, HTTP status) per delivery
        self.callback_answers: list[bytes] = []          # the receiver's answer body per delivery (capped)
        self.lock = threading.RLock()
        self._compiled = [(m, re.compile(f"^{rx}$"), h, op) for m, rx, h, op in self.routes]
        self._window = (0, 0)
        self.httpd = _Server(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # keep-alive client threads must not hold up stop()
        self.httpd.emulator = self
        self.port = self.httpd.server_address[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pool = ThreadPoolExecutor(max_workers=4)
        self._posts_unfinished = 0  # submitted to the pool and not answered yet
        self._http_client: httpx.Client | None = None  # built on first callback (~30 ms)
        self._delayed: list[tuple[float, str, str, dict, bytes]] = []

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        for target in (lambda: self.httpd.serve_forever(poll_interval=0.05), self._callback_loop):
            t = threading.Thread(target=target, daemon=True, name=f"emu-{self.kind}")
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- scripting ---------------------------------------------------------------------------
    def script(self, number: str, outcome: str | Outcome):
        """Make calls to `number` follow a named outcome or an explicit one."""
        self.scripts[number] = outcome

    def outcome_for(self, number: str) -> tuple[str, Outcome]:
        chosen = self.scripts.get(number)
        if isinstance(chosen, Outcome):
            return "custom", chosen
        if chosen is None:
            keys = sorted(self.outcomes)
            chosen = keys[int(re.sub(r"\D", "", number)[-4:] or 0) % len(keys)] if self.spread_outcomes \
                else "completed"
        return chosen, self.outcomes[chosen]

    def expected_final(self, number: str) -> str | None:
        return self.outcome_for(number)[1].final

    def new_call(self, call_id: str, number: str, **kw) -> EmuCall:
        key, outcome = self.outcome_for(number)
        call = EmuCall(id=call_id, number=number, outcome_key=key, outcome=outcome, created=time.time(), **kw)
        with self.lock:
            self.calls[call_id] = call
            self.creates[number] += 1
        return call

    def start_in_wave(self, call: EmuCall, position: int) -> None:
        """Hold the `position`-th call of a batch until its wave starts (it reads as waiting)."""
        if self.batch_concurrency > 0:
            call.created += (position // self.batch_concurrency) * self.batch_wave_seconds / self.speed

    def elapsed(self, call: EmuCall) -> float:
        return (time.time() - call.created) * self.speed

    def step_index(self, call: EmuCall) -> int:
        e = self.elapsed(call)
        idx = 0
        for i, (at, _) in enumerate(call.outcome.steps):
            if e >= at:
                idx = i
        return idx

    def state(self, call: EmuCall) -> str:
        if call.stopped_at is not None:
            return call.stop_state
        return call.outcome.steps[self.step_index(call)][1]

    def is_final(self, call: EmuCall) -> bool:
        return call.stopped_at is not None or (
            call.outcome.final is not None and self.step_index(call) == len(call.outcome.steps) - 1)

    def ended_at(self, call: EmuCall) -> float | None:
        """Real time the call reached its final step."""
        if call.stopped_at is not None:
            return call.stopped_at
        if not self.is_final(call):
            return None
        return call.created + call.outcome.steps[-1][0] / self.speed

    def raw_at(self, call: EmuCall, step: int) -> str:
        """Raw state at `step` (-1 = now, including a stop through the API)."""
        if step < 0:
            return self.state(call)
        return call.outcome.steps[step][1]

    def find(self, call_id: str) -> EmuCall | None:
        with self.lock:
            return self.calls.get(call_id)

    # --- HTTP ---------------------------------------------------------------------------------
    def _dispatch(self, handler: BaseHTTPRequestHandler):
        parsed = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        query = dict(urllib.parse.parse_qsl(parsed.query))
        for method, rx, name, op in self._compiled:
            m = rx.match(parsed.path)
            if m and method == handler.command:
                req = Request(handler.command, parsed.path, query, headers, body, m.groupdict())
                status, payload, extra = self._serve(req, name, op)
                break
        else:
            status, payload, extra = self.not_found_route(parsed.path)
        self.requests[(handler.command, status)] += 1
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for k, v in (extra or {}).items():
                handler.send_header(k, str(v))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout fault)

    def _serve(self, req: Request, name: str, op: str):
        if self.faults.latency:
            time.sleep(self.faults.latency)
        denied = self.authenticate(req)
        if denied:
            return denied
        fault = self.faults.pick(op)
        if fault == "timeout":
            time.sleep(self.faults.timeout_sleep)
            return self.error(504, "timeout")
        if fault == "429" or (op in ("create", "read") and self._over_rate_limit()):
            return self.rate_limited()
        if fault == "404":
            return self.error(404, "not found")
        if fault == "500":
            status, body, headers = self.error(500, "Internal server error")
            if self.faults.retry_after_on_5xx:
                headers = {**headers, "Retry-After": self.faults.retry_after}
            return status, body, headers
        try:
            return getattr(self, name)(req)
        except Exception as exc:  # an emulator bug shows up as a 500 with the reason
            return self.error(500, f"emulator error: {exc!r}")

    def _over_rate_limit(self) -> bool:
        if not self.rate_limit_per_minute:
            return False
        with self.lock:
            window = int(time.time() // 60)
            w, count = self._window
            count = count + 1 if w == window else 1
            self._window = (window, count)
            return count > self.rate_limit_per_minute

    # Dialect hooks -------------------------------------------------------------------------------
    def authenticate(self, req: Request):
        return None

    def error(self, status: int, message: str):
        return status, {"error": message}, {}

    def rate_limited(self):
        return 429, {"error": "rate limited"}, {"Retry-After": self.faults.retry_after}

    def not_found_route(self, path: str):
        return self.error(404, f"no route {path}")

    # --- callbacks ----------------------------------------------------------------------------
    def callback_messages(self, call: EmuCall, step: int) -> list[tuple[dict, bytes]]:
        """(headers, body) to post when `call` reaches `step`; dialects override."""
        return []

    def _callback_loop(self):
        while not self._stop.is_set():
            now = time.time()
            due: list[tuple[str, str, dict, bytes]] = []
            with self.lock:
                calls = list(self.calls.values())
            for call in calls:
                url = call.callback_url or self.callback_url
                if not url or call.created > now:
                    continue  # no destination, or a batch job not started yet
                if call.stopped_at is not None:
                    if call.sent_steps <= len(call.outcome.steps):
                        due += [(call.id, url, h, b) for h, b in self.callback_messages(call, -1)]
                        call.sent_steps = len(call.outcome.steps) + 1
                    continue
                reached = self.step_index(call) + 1
                while call.sent_steps < reached:
                    for headers, body in self.callback_messages(call, call.sent_steps):
                        due.append((call.id, url, headers, body))
                    call.sent_steps += 1
            with self.lock:
                ready = [d for d in self._delayed if d[0] <= now]
                self._delayed = [d for d in self._delayed if d[0] > now]
            for call_id, url, headers, body in due:
                r = self.faults.rng.random()
                if r < self.faults.p_reorder_callback:
                    # Held back: the next status's callback overtakes it.
                    with self.lock:
                        self._delayed.append((now + self.faults.reorder_delay, call_id, url, headers, body))
                    continue
                copies = 2 if self.faults.rng.random() < self.faults.p_duplicate_callback else 1
                self._submit_post(call_id, url, headers, body, copies)
            for _, call_id, url, headers, body in ready:
                self._submit_post(call_id, url, headers, body)
            self._stop.wait(0.02)

    @property
    def _http(self) -> httpx.Client:
        with self.lock:
            if self._http_client is None:
                # Generous, unlike a vendor's few seconds: the chaos tests count every answer, and a
                # receiver slowed by a loaded machine must not turn an applied callback into a lost one.
                self._http_client = httpx.Client(trust_env=False, timeout=60, verify=False)
            return self._http_client

    def _submit_post(self, call_id: str, url: str, headers: dict, body: bytes, copies: int = 1):
        # Counted before any copy goes out, so a duplicate is pending from the moment its original is.
        with self.lock:
            self._posts_unfinished += copies
        for _ in range(copies):
            self._pool.submit(self._post, call_id, url, headers, body)

    def _post(self, call_id: str, url: str, headers: dict, body: bytes):
        status, answer = 0, b""
        try:
            r = self._http.post(url, content=body, headers={"Content-Type": "application/json", **headers})
            status, answer = r.status_code, r.content[:2000]
        except httpx.HTTPError:
            pass
        finally:
            with self.lock:
                self.callbacks_sent.append((url, status))
                self.callback_log.append((call_id, status))
                self.callback_answers.append(answer)
                self._posts_unfinished -= 1

    def pending_callbacks(self) -> int:
        """Callbacks held back, queued or being posted: 0 once every one due so far has its answer."""
        with self.lock:
            return len(self._delayed) + self._posts_unfinished
