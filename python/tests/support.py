"""What the tests share: a real HTTP receiver on 127.0.0.1, secrets and times."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Tuple

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
#: How long a test waits for a delivery before failing (never a fixed sleep).
WAIT = 15.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Request:
    """One request the receiver got."""

    method: str
    path: str
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return None

    @property
    def header_dict(self) -> Dict[str, str]:
        return {n: v for n, v in self.headers}

    def json(self):
        return json.loads(self.body)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request in a queue and answers each path
    with the statuses planned for it (in order; the last one repeats; 200 by default). It also
    counts the most requests it has had in flight at once."""

    def __init__(self) -> None:
        self.requests: queue.Queue[Request] = queue.Queue()
        self._plans: Dict[str, List[int]] = {}
        self._gates: Dict[str, threading.Event] = {}
        self._delays: Dict[str, float] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        #: The most requests that were being answered at the same time.
        self.max_in_flight = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                with receiver._lock:
                    receiver._in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver._in_flight)
                try:
                    length = int(self.headers.get("content-length") or 0)
                    body = self.rfile.read(length) if length else b""
                    path = self.path
                    request = Request(self.command, path, list(self.headers.items()), body)
                    receiver.requests.put(request)
                    gate = receiver._gates.get(path)
                    if gate is not None:
                        gate.wait(WAIT)
                    delay = receiver._delays.get(path)
                    if delay:
                        time.sleep(delay)  # a slow receiver, so that requests overlap
                    status = receiver._next_status(path)
                finally:
                    # No longer in flight once the answer starts (never counted twice).
                    with receiver._lock:
                        receiver._in_flight -= 1
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def _next_status(self, path: str) -> int:
        with self._lock:
            plan = self._plans.get(path)
            if not plan:
                return 200
            return plan.pop(0) if len(plan) > 1 else plan[0]

    def url(self, path: str = "/hook") -> str:
        return f"{self.base}{path}"

    @property
    def base(self) -> str:
        """``http://127.0.0.1:port``: the receiver's origin."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, *statuses: int) -> None:
        """Answers the next requests to ``path`` with these statuses."""
        with self._lock:
            self._plans[path] = list(statuses)

    def hold(self, path: str) -> threading.Event:
        """Requests to ``path`` wait (up to WAIT) until the returned event is set."""
        gate = threading.Event()
        self._gates[path] = gate
        return gate

    def slow(self, path: str, seconds: float) -> None:
        """Requests to ``path`` take this long to answer."""
        self._delays[path] = seconds

    def drain(self) -> List[Request]:
        """Every request received and not yet taken, oldest first (without waiting)."""
        out = []
        while True:
            try:
                out.append(self.requests.get_nowait())
            except queue.Empty:
                return out

    def next(self, timeout: float = WAIT) -> Request:
        try:
            return self.requests.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no request arrived within {timeout} s") from None

    def assert_silent(self) -> None:
        """Nothing arrived (checked after the scheduler has said it sent nothing)."""
        assert self.requests.empty(), f"unexpected request: {self.requests.get_nowait()}"

    def close(self) -> None:
        for gate in self._gates.values():
            gate.set()
        self.server.shutdown()
        self.server.server_close()
