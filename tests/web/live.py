"""What every browser test shares: Debian's chromium, a healthgate served on a free port of 127.0.0.1 in a
thread, and the browser launched with the flags that keep it off the network."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from healthgate.app import create_app
from healthgate.config import Settings

CHROMIUM = "/usr/bin/chromium"
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(settings: Settings, clock: Any = None) -> Iterator[str]:
    """healthgate served from ``settings`` (and ``clock``, when a test moves time) until the block ends; yields
    its address."""
    with running(create_app(settings, clock=clock)) as url:
        yield url


@contextmanager
def running(app: Any) -> Iterator[str]:
    """An app already made (``create_app``) served on a free port of 127.0.0.1 until the block ends; yields its
    address."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, never downloading anything."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-gpu", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()
