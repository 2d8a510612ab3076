"""The key that the audit chain is hashed with, derived from the deployment's secret key.

Whoever can write to the database but does not hold the secret key cannot forge an entry's hash, so an edit
followed by recomputing every later hash shows. The key belongs to the database the events are written to:
``bind(engine, settings)`` (the app and the CLI do it for their engine) else the process default
(``set_default``; tests set one), else the key of ``Settings()`` read from the environment."""

from __future__ import annotations

import hashlib
import hmac
import weakref
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from healthgate.config import Settings

_LABEL = b"healthgate audit log chain v1"
_bound: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()
_default: bytes | None = None


def derive(secret: str) -> bytes:
    """The chain key for a secret key: HMAC-SHA256(secret, label), so the secret itself is never the key."""
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A short fingerprint of a key (reveals nothing of it): tells "wrong key" from "every entry edited"."""
    return hmac.new(key, b"key id", hashlib.sha256).hexdigest()[:16]


def bind(engine: Engine, settings: Settings) -> None:
    _bound[engine] = derive(settings.effective_secret_key())


def set_default(secret: str | None) -> None:
    global _default
    _default = derive(secret) if secret is not None else None


def for_engine(engine: Engine) -> bytes:
    global _default
    key = _bound.get(engine)
    if key is not None:
        return key
    if _default is None:
        from healthgate.config import Settings

        _default = derive(Settings().effective_secret_key())
    return _default


def for_session(session: Session) -> bytes:
    return for_connection(session.connection())


def for_connection(conn: Connection) -> bytes:
    return for_engine(conn.engine)
