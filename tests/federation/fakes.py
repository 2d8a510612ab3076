"""Fake remote catalogues for harvest tests: a real HTTP server on 127.0.0.1 (a thread per request), whose
answers each test scripts.

``FakeServer`` is the generic part, usable for any source kind: ``route(path, handler)`` serves a path with a
function of the request; ``script(path, *answers)`` makes the next requests of a path answer as given (a
500, a 429 with ``Retry-After``, a redirect, a slow answer ...) before the route takes over; every request is
kept in ``requests``. ``FmaSource`` serves the HDR UK Federated Metadata Catalogue API (``/datasets`` paged
by ``limit``/``offset``, ``/datasets/{id}``) over its ``datasets`` dict, with switches for the ways real
sources deviate.

    with FmaSource() as src:
        src.add("a1", document("Alpha cohort"))
        ... harvest src.url ...
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from tests.conftest import load_fixture


@dataclass
class Request:
    method: str
    path: str  # unquoted
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | Any = b""  # bytes/str as is; anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow or timing-out source)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def redirect(location: str, status: int = 302) -> Answer:
    return Answer(status, b"", {"Location": location})


Handler = Callable[[Request], Answer]


class FakeServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.routes: dict[str, Handler] = {}
        self.prefixes: list[tuple[str, Handler]] = []
        self.scripted: dict[str, list[Answer]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stalls)

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, unquote(parts.path),
                              {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                              {k.lower(): v for k, v in self.headers.items()}, body)
                answer = fake.answer(req)
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.encoded()
                try:
                    self.send_response(answer.status)
                    headers = {"Content-Type": "application/json", **answer.headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer((host, 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    def route(self, path: str, handler: Handler) -> None:
        """Serve ``path`` (exact), or every path under it when it ends with ``/*``."""
        if path.endswith("/*"):
            self.prefixes.append((path[:-1], handler))
        else:
            self.routes[path] = handler

    def script(self, path: str, *answers: Answer) -> None:
        """The next requests of ``path`` get these answers, in order, before its route answers again."""
        with self._lock:
            self.scripted.setdefault(path, []).extend(answers)

    def answer(self, req: Request) -> Answer:
        with self._lock:
            self.requests.append(req)
            queue = self.scripted.get(req.path)
            if queue:
                return queue.pop(0)
        handler = self.routes.get(req.path)
        if handler is None:
            handler = next((h for p, h in self.prefixes if req.path.startswith(p)), None)
        if handler is None:
            return Answer(404, {"message": f"no route {req.path}"})
        return handler(req)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def document(title: str, identifier: str | None = None, **summary: Any) -> dict[str, Any]:
    """A minimal valid HDR UK 4.0.0 dataset document."""
    doc = copy.deepcopy(load_fixture("hdruk-4.0.0-minimal.json"))
    doc["summary"]["title"] = title
    doc["summary"].update(summary)
    doc["identifier"] = identifier
    return doc


class FmaSource(FakeServer):
    """An HDR UK Federated Metadata Catalogue API over ``datasets`` (remote id -> HDR UK document).

    Switches: ``wrapper`` (False: ``/datasets`` answers a bare list), ``items_key`` (the wrapper's key),
    ``total`` (False: no ``query.total``), ``ignore_offset`` (every page is the first), ``endless`` (pages
    never run out: made-up items for ever), ``on_page`` (called with the offset after each page is built,
    e.g. to change the catalogue between pages), ``token`` (every request needs this Authorization value)."""

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__(host)
        self.datasets: dict[str, dict[str, Any]] = {}
        self.encoded: dict[str, bytes] = {}  # remote id -> exact detail body (when set, served as is)
        self.wrapper = True
        self.items_key = "items"
        self.total = True
        self.ignore_offset = False
        self.endless = False
        self.max_limit = 1000
        self.on_page: Callable[[int], None] | None = None
        self.token: str | None = None
        self.route("/datasets", self._list)
        self.route("/datasets/*", self._detail)

    def add(self, remote_id: str, doc: dict[str, Any]) -> None:
        self.datasets[remote_id] = doc
        self.encoded.pop(remote_id, None)

    def _denied(self, req: Request) -> Answer | None:
        if self.token is not None and req.headers.get("authorization") != self.token \
                and req.headers.get("x-api-key") != self.token:
            return Answer(401, {"message": "unauthorised"})
        return None

    def gmi(self, remote_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        summary = doc.get("summary", {}) if isinstance(doc, dict) else {}
        return {"@schema": "latest", "type": "dataset", "persistentId": remote_id,
                "name": str(summary.get("title", ""))[:80], "description": str(summary.get("abstract", ""))[:255],
                "version": doc.get("version", "1.0.0"), "self": f"{self.url}/datasets/{remote_id}",
                "issued": doc.get("issued", "2024-01-01T00:00:00Z"),
                "modified": doc.get("modified", "2024-01-01T00:00:00Z"), "source": "fake"}

    def _list(self, req: Request) -> Answer:
        denied = self._denied(req)
        if denied:
            return denied
        limit = min(int(req.query.get("limit") or 100), self.max_limit)
        offset = 0 if self.ignore_offset else int(req.query.get("offset") or 0)
        if self.endless:
            ids = [f"endless-{offset + n}" for n in range(limit)]
            items = [self.gmi(i, document(f"Endless {i}")) for i in ids]
            total = offset + 2 * limit
        else:
            ids = list(self.datasets)[offset:offset + limit]
            items = [self.gmi(i, self.datasets[i]) for i in ids]
            total = len(self.datasets)
        if self.on_page is not None:
            self.on_page(offset)
        if not self.wrapper:
            return Answer(200, items)
        query: dict[str, Any] = {"q": req.query.get("q", ""), "limit": limit, "offset": offset}
        if self.total:
            query["total"] = total
        return Answer(200, {"query": query, self.items_key: items})

    def _detail(self, req: Request) -> Answer:
        denied = self._denied(req)
        if denied:
            return denied
        remote_id = req.path[len("/datasets/"):]
        if remote_id.startswith("endless-"):
            return Answer(200, document(f"Endless {remote_id}"))
        if remote_id in self.encoded:
            return Answer(200, self.encoded[remote_id])
        doc = self.datasets.get(remote_id)
        if doc is None:
            return Answer(404, {"message": "no such dataset"})
        return Answer(200, doc)
