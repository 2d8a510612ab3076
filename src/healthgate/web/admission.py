"""Admission control: at most ``limit`` requests of one process are inside the application at once; the rest
wait their turn in the event loop, where waiting costs nothing.

Why: a request takes a database connection from the pool at its first query (the token check) and holds it
until it commits, and its sync handler runs on one of the server's worker threads. With more requests in
flight than connections, threads wait for connections held by requests that wait for threads: nothing moves
until the pool's timeout answers 500. Admitting no more requests than the pool has connections keeps every
admitted request able to finish (``HEALTHGATE_DB_POOL_SIZE`` sets both)."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

UNLIMITED_PREFIXES = ("/static/",)  # files from the package: no database


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None  # made in the server's event loop, on first use

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)
