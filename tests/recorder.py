"""A real HTTP server on 127.0.0.1 that records every request it receives, for notifier tests.

``answers[path]`` is a list of statuses given to successive requests to that path (then 200);
the status ``"hang"`` keeps the request waiting without an answer for ``hang_seconds``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | str

    def json(self):
        return json.loads(self.body)


class Recorder:
    def __init__(self, hang_seconds: float = 10.0):
        self.requests: list[Request] = []
        self.answers: dict[str, list] = {}
        self.hang_seconds = hang_seconds
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with recorder._lock:
                    queue = recorder.answers.get(self.path, [])
                    status = queue.pop(0) if queue else 200
                    recorder.requests.append(Request(self.path, dict(self.headers), body, status))
                if status == "hang":
                    time.sleep(recorder.hang_seconds)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def at(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def payloads(self, path: str) -> list[dict]:
        """The JSON bodies planrun's webhook notifier sent to ``path``, each held to the published
        notification schema, closed: every key documented, every value of its documented type."""
        import jsonschema

        from planrun.engine import api

        schema = api.notification_schema(closed=True)
        bodies = [r.json() for r in self.at(path)]
        for body in bodies:
            jsonschema.validate(body, schema)
        return bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
