"""The worker inside ``healthgate serve`` (``HEALTHGATE_WORKER=inline``, the default): one thread started
and stopped by the application's lifespan. Production may set ``HEALTHGATE_WORKER=off`` and run
``healthgate worker`` processes instead; both can also run together, since claims never overlap."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from healthgate.clock import Clock
from healthgate.config import Settings
from healthgate.outbox.senders import sender_from_settings, webhook_sender_from_settings
from healthgate.outbox.worker import Worker, policy_from_settings

log = logging.getLogger(__name__)


class InlineWorker:
    """A worker thread; ``stop`` lets the message being sent finish and gives back the rest of its batch."""

    def __init__(self, worker: Worker, poll_seconds: float):
        self.worker = worker
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthgate-outbox-worker", daemon=True)

    def _run(self) -> None:
        log.info("outbox worker %s started in-process (%s)", self.worker.name, self.worker.sender.describe())
        self.worker.run(self._stop, self.poll_seconds)

    def start(self) -> InlineWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.worker.wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("outbox worker %s did not stop within %.0f s", self.worker.name, timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


def start(settings: Settings, sessions: sessionmaker[Session], clock: Clock | None = None) -> InlineWorker | None:
    """Start the in-process worker unless ``settings.worker`` is ``off``."""
    if settings.worker != "inline":
        return None
    worker = Worker(sessions, sender_from_settings(settings), clock=clock, policy=policy_from_settings(settings),
                    webhooks=webhook_sender_from_settings(settings), base_url=settings.base_url)
    return InlineWorker(worker, settings.worker_poll_seconds).start()
