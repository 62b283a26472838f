"""A loopback emulator of an OpenAI-compatible chat-completions server (real HTTP on 127.0.0.1).

It answers as OpenAI, llama.cpp's `llama-server`, Ollama and vLLM do on their `/v1` routes:
`POST /v1/chat/completions` takes `{"model", "messages": [{"role", "content"}], ...}` and answers
`{"id", "object": "chat.completion", "created", "model", "choices": [{"index", "message":
{"role": "assistant", "content"}, "finish_reason"}], "usage"}`; `GET /v1/models` lists the model.
Like those servers it refuses what they refuse, with their error shape `{"error": {"message",
"type", "code"}}`: a missing or wrong bearer key (401, when `api_key` is set), a body that is not
JSON or lacks `model`/`messages` (400), an unknown route (404).

Each accepted completion request takes the next scripted reply:
- ("json", content): a normal completion whose message content is `content` (any text);
- ("status", code) or ("status", code, {"Retry-After": "1"}): that HTTP error, with headers;
- ("sleep", seconds): stall that long, then answer "{}" (to trip the client's read timeout);
- ("raw", bytes): a 200 whose body is those bytes (not a chat-completions document);
- a callable: called with the request body (dict), returns the content to answer.
With no reply left it answers 500. Requests are recorded (path, headers, json) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "test-model"


class FakeLLM:
    def __init__(self, replies=None, api_key: str | None = None, model: str = MODEL):
        self.replies = list(replies or [])
        self.requests: list[dict] = []
        self.api_key, self.model = api_key, model
        self._lock = threading.Lock()
        self._count = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload, headers=None):
                body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _error(self, status: int, message: str, kind: str, headers=None):
                self._send(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

            def _authorised(self) -> bool:
                if fake.api_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                    return True
                self._error(401, "Incorrect API key provided.", "invalid_request_error")
                return False

            def do_GET(self):
                if self.path.rstrip("/") != "/v1/models":
                    return self._error(404, f"Unknown route {self.path}", "invalid_request_error")
                if self._authorised():
                    self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._error(404, f"Unknown route {self.path}", "invalid_request_error")
                if not self._authorised():
                    return None
                messages = body.get("messages") if isinstance(body, dict) else None
                if not isinstance(body, dict) or not body.get("model") or not isinstance(messages, list) or not all(
                        isinstance(m, dict) and m.get("role") in ("system", "user", "assistant")
                        and isinstance(m.get("content"), str) for m in messages):
                    return self._error(400, "'model' and 'messages' (role, content) are required",
                                       "invalid_request_error")
                with fake._lock:
                    reply = fake.replies.pop(0) if fake.replies else ("status", 500)
                    fake._count += 1
                    number = fake._count
                if callable(reply):
                    reply = ("json", reply(body))
                kind, value = reply[0], reply[1]
                if kind == "sleep":
                    time.sleep(value)
                    kind, value = "json", "{}"
                if kind == "status":
                    headers = reply[2] if len(reply) > 2 else None
                    return self._error(value, "scripted failure", "server_error" if value >= 500 else
                                       "rate_limit_error" if value == 429 else "invalid_request_error", headers)
                if kind == "raw":
                    return self._send(200, value)
                self._send(200, {
                    "id": f"chatcmpl-{number}", "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": value},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": sum(len(m["content"].split()) for m in messages),
                              "completion_tokens": len(str(value).split()), "total_tokens": 0},
                })

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
