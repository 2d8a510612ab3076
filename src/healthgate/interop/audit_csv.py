"""The audit log as CSV: one row per event, in chain order, with its hashes (so an export can be checked
against the log later). Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab or
carriage return first) is prefixed with ``'``; ``data`` is the event's JSON."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

COLUMNS = ("seq", "id", "at", "actor_id", "actor", "token_id", "action", "subject_type", "subject_id", "data",
           "prev_hash", "hash")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def row(event: Any) -> list[str]:
    return [_cell(event.seq), str(event.id), event.at.isoformat(), _cell(event.actor_id), _cell(event.actor),
            _cell(event.token_id), _cell(event.action), _cell(event.subject_type), _cell(event.subject_id),
            orjson.dumps(event.data, option=orjson.OPT_SORT_KEYS).decode(), _cell(event.prev_hash), _cell(event.hash)]


def lines(events: Iterable[Any]) -> Iterator[str]:
    """The CSV text, a line at a time (for streaming responses)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for event in events:
        writer.writerow(row(event))
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write(events: Iterable[Any], out: io.TextIOBase | Any) -> int:
    """Write the CSV to a text file; returns how many events."""
    count = 0

    def counted() -> Iterator[Any]:
        nonlocal count
        for event in events:
            count += 1
            yield event

    for chunk in lines(counted()):
        out.write(chunk)
    return count
