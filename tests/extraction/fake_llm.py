"""A loopback server imitating an OpenAI-compatible `/v1/chat/completions` endpoint.

Each request takes the next scripted reply: ("json", content) answers a normal completion whose
message content is `content`; ("status", code) answers that HTTP status; ("sleep", seconds)
stalls before answering (to trip the client's timeout). Requests are recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLLM:
    def __init__(self, replies=None):
        self.replies = list(replies or [])
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "json": json.loads(body or b"{}")})
                    kind, value = fake.replies.pop(0) if fake.replies else ("status", 500)
                if kind == "sleep":
                    time.sleep(value)
                    kind, value = "json", "{}"
                if kind == "status":
                    payload = json.dumps({"error": {"message": "scripted failure"}}).encode()
                    self.send_response(value)
                else:
                    payload = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": value},
                         "finish_reason": "stop"}]}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

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
