"""A local SMTP sink (aiosmtpd, on 127.0.0.1) and a runner for ``healthgate worker`` processes; used by the
outbox tests and by ``benchmarks/outbox.py``."""

from __future__ import annotations

import email
import email.message
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import func, select

from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.db import make_engine, make_sessionmaker, transaction
from healthgate.identity.permissions import SYSTEM
from healthgate.outbox import service
from healthgate.outbox.models import OutboxMessage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.Message
    raw: bytes


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        for needle, reply in self.sink.refuse.items():
            if needle in address:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            if self.sink.fail_data > 0:
                self.sink.fail_data -= 1
                return "451 4.3.0 try again later (the sink was told to refuse)"
            raw = envelope.original_content or envelope.content
            self.sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                               email.message_from_bytes(raw, policy=email.policy.default), raw))
        return "250 OK queued"


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts. ``refuse`` maps a part of an address
    to the reply that refuses it ("550 5.1.1 no such user"); ``fail_data`` refuses the next N messages with a
    451; ``users`` turns on AUTH LOGIN/PLAIN (without TLS, for the test)."""

    def __init__(self, *, users: dict[str, str] | None = None, tls_context: Any = None, port: int | None = None):
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}
        self.fail_data = 0
        self.lock = threading.Lock()
        self.users = users
        self.port = port or free_port()
        self.connections = 0
        kwargs: dict[str, Any] = {}
        if users is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and self.users is not None and \
            self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False)

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def outbox_ids(self) -> list[int]:
        with self.lock:
            return [int(r.message["X-Healthgate-Outbox-Id"]) for r in self.received]

    def count(self) -> int:
        with self.lock:
            return len(self.received)


def healthgate_command() -> list[str]:
    script = Path(sys.executable).with_name("healthgate")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from healthgate.cli import app; app()"]


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def name(self) -> str | None:
        for line in self.output().splitlines():
            if "outbox worker " in line and " started " in line:
                return line.split("outbox worker ", 1)[1].split(" started", 1)[0]
        return None


def start_workers(n: int, database_url: str, smtp_port: int, workdir: Path, *, poll: float = 0.2,
                  timeout: float = 60) -> list[WorkerProcess]:
    """``n`` ``healthgate worker`` processes on one database, delivering to the sink; returns once each has
    said it started."""
    env = {**os.environ, "HEALTHGATE_DATABASE_URL": database_url, "HEALTHGATE_DATA_DIR": str(workdir),
           "HEALTHGATE_SMTP_HOST": "127.0.0.1", "HEALTHGATE_SMTP_PORT": str(smtp_port),
           "HEALTHGATE_SMTP_STARTTLS": "false", "HEALTHGATE_WORKER_POLL_SECONDS": str(poll),
           "HEALTHGATE_EMAIL_FROM": "healthgate <noreply@healthgate.test>"}
    workers = []
    for i in range(n):
        log = workdir / f"worker-{i}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([*healthgate_command(), "worker"], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, cwd=workdir)
        workers.append(WorkerProcess(proc, log))
    deadline = time.monotonic() + timeout
    while not all(w.name for w in workers):
        for w in workers:
            if w.process.poll() is not None:
                raise RuntimeError(f"a worker exited with {w.process.returncode}:\n{w.output()}")
        if time.monotonic() > deadline:
            stop_workers(workers)
            raise TimeoutError("the workers did not start:\n" + "\n".join(w.output() for w in workers))
        time.sleep(0.05)
    return workers


def stop_workers(workers: list[WorkerProcess], timeout: float = 30) -> list[int | None]:
    for w in workers:
        if w.process.poll() is None:
            w.process.send_signal(signal.SIGTERM)
    codes = []
    for w in workers:
        try:
            codes.append(w.process.wait(timeout))
        except subprocess.TimeoutExpired:
            w.process.kill()
            codes.append(None)
    return codes


@dataclass
class Delivery:
    """What a run of several workers did: how long it took from the commit that queued the messages to the
    last one being recorded as sent, and what the sink received."""

    queued: int
    seconds: float
    received: int
    duplicates: int  # messages the sink received more than once (counting each extra copy)
    lost: int  # queued messages the sink never received
    per_worker: dict[str, int] = field(default_factory=dict)  # messages recorded as sent by each worker
    exit_codes: list[int | None] = field(default_factory=list)
    queued_ids: list[int] = field(default_factory=list)
    received_ids: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.queued / self.seconds if self.seconds else 0.0


def deliver_with_workers(database_url: str, n_messages: int, n_workers: int, workdir: Path, *,
                         timeout: float = 300, settle: float = 1.0) -> Delivery:
    """Start ``n_workers`` ``healthgate worker`` processes on a migrated database, queue ``n_messages`` emails
    in one transaction, wait until every one is recorded as sent and the sink has them, wait ``settle``
    seconds more (a duplicate would arrive then), stop the workers and count."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        with SmtpSink() as sink:
            workers = start_workers(n_workers, database_url, sink.port, workdir)
            try:
                with transaction(sessions) as session:
                    ctx = Context(session, SYSTEM, SystemClock())
                    rows = [service.enqueue_email(ctx, f"person{i}@example.org", f"Message {i}",
                                                  f"Body of message {i}.\n") for i in range(n_messages)]
                    session.flush()
                    ids = [r.id for r in rows]
                started = time.perf_counter()
                deadline = time.monotonic() + timeout
                while True:
                    with transaction(sessions) as session:
                        unsent = session.scalar(select(func.count()).select_from(OutboxMessage)
                                                .where(OutboxMessage.status != "sent")) or 0
                    if unsent == 0 and sink.count() >= n_messages:
                        break
                    if time.monotonic() > deadline:
                        break
                    if any(w.process.poll() is not None for w in workers):
                        break
                    time.sleep(0.02)
                seconds = time.perf_counter() - started
                time.sleep(settle)
            finally:
                codes = stop_workers(workers)
            received = sink.outbox_ids()
        with transaction(sessions) as session:
            per_worker = dict(session.execute(
                select(OutboxMessage.claimed_by, func.count()).where(OutboxMessage.status == "sent")
                .group_by(OutboxMessage.claimed_by)).all())
    finally:
        engine.dispose()
    counts = Counter(received)
    return Delivery(queued=n_messages, seconds=seconds, received=len(received),
                    duplicates=sum(c - 1 for c in counts.values() if c > 1),
                    lost=len(set(ids) - set(counts)), per_worker={str(k): v for k, v in per_worker.items()},
                    exit_codes=codes, queued_ids=ids, received_ids=received)
