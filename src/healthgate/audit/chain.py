"""The chain's arithmetic: what an entry's keyed hash covers, and the head's.

Entry ``n`` (``seq`` 1, 2, 3, ... with no gaps) carries ``hash = HMAC(key, [n, hash of entry n-1, its
content])``; the one-row head holds the newest ``seq`` and ``hash`` with its own HMAC and is updated in the
same transaction as the entries. So an edited entry fails its own hash, a deleted or inserted one breaks the
numbering and the next link, deleting the newest entries leaves the head pointing past the end, and an edit
followed by recomputing every later hash needs the key."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

VERSION = "hg-audit-1"


def canonical(value: Any) -> Any:
    """JSON values as both databases give them back: integral floats as ints (PostgreSQL's numeric has no
    float/int distinction for them), keys sorted at serialisation."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def _time(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _id(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value)


def entry_hash(key: bytes, *, seq: int, prev_hash: str | None, at: datetime, actor_id: uuid.UUID | str | None,
               actor: str, token_id: uuid.UUID | str | None, action: str, subject_type: str, subject_id: str,
               data: Any) -> str:
    body = orjson.dumps([VERSION, seq, prev_hash, _time(at), _id(actor_id), actor, _id(token_id), action,
                         subject_type, subject_id, canonical(data)], option=orjson.OPT_SORT_KEYS)
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def row_hash(key: bytes, row: Any) -> str:
    """The hash an event (a row or an object with the event's columns) should carry."""
    return entry_hash(key, seq=row.seq, prev_hash=row.prev_hash, at=row.at, actor_id=row.actor_id, actor=row.actor,
                      token_id=row.token_id, action=row.action, subject_type=row.subject_type,
                      subject_id=row.subject_id, data=row.data)


def head_mac(key: bytes, seq: int, hash_: str | None) -> str:
    return hmac.new(key, orjson.dumps([VERSION, "head", seq, hash_]), hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two hex digests (either may be missing)."""
    if a is None or b is None:
        return a is b
    return hmac.compare_digest(a.encode(), b.encode())
