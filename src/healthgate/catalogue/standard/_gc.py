"""Pause Python's cyclic garbage collector while a large document is read.

Reading a 5 MB document makes millions of objects that all stay alive; the collector, which runs on
allocation counts, then walks them again and again, so the time grows faster than the document. JSON values
hold no reference cycles, so reference counting frees them all without the collector. Nested and concurrent
users are counted: the collector is back on when the last one leaves (and only if it was on before).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
