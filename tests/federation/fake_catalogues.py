"""A real HTTP server on 127.0.0.1 that plays a remote catalogue (CKAN, another gateway), and a small ``Fetch``
over httpx that only talks to it: what the harvest adapters are driven with in tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from healthgate.federation.adapters import ListingIncomplete, SourceConfig, adapter

# (path, query) -> (status, body, content type); a route may also be a plain JSON-able value
Answer = tuple[int, bytes, str]
Route = Callable[[str, dict[str, str]], Answer | None]


def json_answer(value: Any, status: int = 200) -> Answer:
    return status, json.dumps(value).encode(), "application/json"


@dataclass
class FakeCatalogue:
    route: Route
    requests: list[str] = field(default_factory=list)
    base: str = ""


@contextmanager
def serve(route: Route) -> Iterator[FakeCatalogue]:
    """Serve ``route`` on a free port of 127.0.0.1 for the block."""
    fake = FakeCatalogue(route)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            fake.requests.append(self.path)
            answer = fake.route(parts.path, query)
            status, body, ctype = answer if answer is not None else json_answer({"message": "not found"}, 404)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class LocalFetch:
    """The ``Fetch`` protocol over httpx, refusing any host but 127.0.0.1 (tests never reach the network)."""

    def __init__(self) -> None:
        self.client = httpx.Client(timeout=10, follow_redirects=False)
        self.calls = 0
        self._lock = threading.Lock()

    def get(self, url: str, *, params: Mapping[str, Any] | None = None,
            headers: Mapping[str, str] | None = None) -> httpx.Response:
        if urlsplit(url).hostname != "127.0.0.1":
            raise RuntimeError(f"refused: {url} is not on 127.0.0.1")
        with self._lock:
            self.calls += 1
        return self.client.get(url, params=dict(params or {}), headers=dict(headers or {}))

    def close(self) -> None:
        self.client.close()


@contextmanager
def local_fetch() -> Iterator[LocalFetch]:
    fetch = LocalFetch()
    try:
        yield fetch
    finally:
        fetch.close()


def run_adapter(kind: str, url: str, settings: dict | None = None) -> tuple[list, str | None, int]:
    """Every item the ``kind`` adapter lists from ``url`` through a ``LocalFetch``: (items, the message of a
    ListingIncomplete or None, how many requests it made)."""
    got: list = []
    with local_fetch() as fetch:
        try:
            got.extend(adapter(kind).items(SourceConfig(kind, url, settings or {}), fetch))
        except ListingIncomplete as exc:
            return got, str(exc), fetch.calls
        return got, None, fetch.calls
