"""The in-memory snapshot of one kind's entries: what makes faceted search fast.

Counting facet values over tens of thousands of hits with SQL GROUP BY costs hundreds of milliseconds; here
every facet is a pair of numpy arrays (entry position, value code) and a count is one ``bincount`` over the
hits. Each process keeps one snapshot per (database, kind) and brings it up to date before every search by
reading only the entries whose ``seq`` is newer than the snapshot (see ``search.models``), so several
processes on one database always agree with the database. Which facets a kind has, and how their values are
read and normalised, is the kind's declaration (``search.kinds``).
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from healthgate.search import kinds
from healthgate.search.kinds import FacetSpec, Kind
from healthgate.search.models import SearchEntry, SearchState
from healthgate.search.query import words
from healthgate.search.stem import stem
from healthgate.search.textindex import TextIndex

NO_DATE_START = np.iinfo(np.int32).max  # an unknown start never overlaps a date range
OPEN_END = np.iinfo(np.int32).max


def _preferred(label: str) -> tuple[bool, str]:
    """Of two spellings differing only in case, the one shown: mixed case over all-lower or all-upper, then
    the first in code-point order, so every process shows the same label whatever order it read entries in."""
    return (label.islower() or label.isupper(), label)


@dataclass
class Facet:
    """One facet as columns: for each (entry, value) pair, the entry's position and the value's code."""

    spec: FacetSpec
    labels: list[str] = field(default_factory=list)  # code -> value shown
    code_of: dict[str, int] = field(default_factory=dict)  # key of a label -> code
    per_entry: list[tuple[int, ...]] = field(default_factory=list)  # position -> codes
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # in position order
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # position -> its first pair
    by_code: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # positions, grouped by code
    single: np.ndarray | None = None  # when no entry has two values: position -> code, or the code past the last
    code_starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # code -> first in by_code
    raw_codes: dict[str, int | None] = field(default_factory=dict)  # value as read -> code (build cache)
    _label_rank: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def clone(self) -> Facet:
        return Facet(self.spec, list(self.labels), dict(self.code_of), list(self.per_entry),
                     raw_codes=dict(self.raw_codes))

    def key(self, value: str) -> str | None:
        """The key any spelling of a value is known by (None: not a value of this facet)."""
        label = self.spec.canonical(value)
        return None if label is None else self.spec.key(label)

    def code(self, value: str, create: bool = False) -> int | None:
        if create and isinstance(value, str):
            known = self.raw_codes.get(value, -1)
            if known != -1:
                return known
            c = self._code(value, create)
            self.raw_codes[value] = c
            return c
        return self._code(value, create)

    def _code(self, value: str, create: bool) -> int | None:
        label = self.spec.canonical(value)
        if label is None:
            return None
        k = self.spec.key(label)
        c = self.code_of.get(k)
        if c is None and create:
            c = self.code_of[k] = len(self.labels)
            self.labels.append(label)
        elif c is not None and create and label != self.labels[c]:
            self.labels[c] = min(self.labels[c], label, key=_preferred)
        return c

    @property
    def label_rank(self) -> np.ndarray:
        """Each code's place in label order (case-insensitive, then as written)."""
        if self._label_rank is None or len(self._label_rank) != len(self.labels):
            order = sorted(range(len(self.labels)), key=lambda c: (self.labels[c].casefold(), self.labels[c]))
            rank = np.empty(len(self.labels), dtype=np.int64)
            rank[order] = np.arange(len(self.labels))
            self._label_rank = rank
        return self._label_rank

    def rebuild(self) -> None:
        self._label_rank = None
        sizes = np.fromiter(map(len, self.per_entry), dtype=np.int64, count=len(self.per_entry))
        self.positions = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        self.codes = np.fromiter(chain.from_iterable(self.per_entry), dtype=np.int32, count=int(sizes.sum()))
        self.offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.offsets[1:])
        self.single = None
        if not len(sizes) or int(sizes.max()) <= 1:
            self.single = np.full(len(sizes), len(self.labels), dtype=np.int32)
            self.single[self.positions] = self.codes
        order = np.argsort(self.codes, kind="stable")
        self.by_code = self.positions[order]
        self.code_starts = np.searchsorted(self.codes[order], np.arange(len(self.labels) + 1))

    def having(self, codes: list[int], n: int) -> np.ndarray:
        """Mask of entries having any of ``codes``."""
        mask = np.zeros(n, dtype=bool)
        for c in set(codes):
            mask[self.by_code[self.code_starts[c]:self.code_starts[c + 1]]] = True
        return mask

    def counts(self, mask: np.ndarray) -> np.ndarray:
        return self.counts_at(np.flatnonzero(mask))

    def counts_at(self, hits: np.ndarray) -> np.ndarray:
        """How many of the entries at ``hits`` (ascending positions) have each value: their pairs gathered
        from the per-entry runs, so the cost follows the hits, not the catalogue."""
        if not len(hits) or not len(self.codes):
            return np.zeros(len(self.labels), dtype=np.int64)
        if self.single is not None:  # one gather: the code past the last counts entries without a value
            return np.bincount(self.single[hits], minlength=len(self.labels) + 1)[:len(self.labels)]
        starts = self.offsets[hits]
        lens = self.offsets[hits + 1] - starts
        ends = np.cumsum(lens)
        if not ends[-1]:
            return np.zeros(len(self.labels), dtype=np.int64)
        pairs = np.repeat(starts - ends + lens, lens) + np.arange(ends[-1])
        return np.bincount(self.codes[pairs], minlength=len(self.labels))


def _record_date(value: Any) -> float | None:
    """A record's own date (``data["record_date"]``, ISO) as a timestamp: sorts "recently updated"."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.combine(date.fromisoformat(value[:10]), time(), UTC).timestamp()
    except ValueError:
        return None


def _days(d: date | None) -> int | None:
    return d.toordinal() if d else None


_LISTS = ("entry_ids", "subject_ids", "titles", "visible_l", "updated_l", "put_l", "quality_l", "start_l",
          "end_l")


@dataclass
class FacetIndex:
    """An immutable snapshot once published by ``current``: a refresh builds a new one and swaps it in, so a
    search holds one consistent snapshot however many publishes happen meanwhile."""

    kind: Kind
    generation: int = -1
    last_seq: int = -1
    pos_of: dict[int, int] = field(default_factory=dict)  # search_entries.id -> position
    entry_ids: list[int] = field(default_factory=list)
    subject_ids: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    visible_l: list[bool] = field(default_factory=list)
    updated_l: list[float] = field(default_factory=list)
    put_l: list[float] = field(default_factory=list)
    quality_l: list[float] = field(default_factory=list)
    start_l: list[int] = field(default_factory=list)
    end_l: list[int] = field(default_factory=list)
    facets: dict[str, Facet] = field(default_factory=dict)
    text: TextIndex = field(default_factory=TextIndex)
    # numpy views, built once per snapshot
    visible: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    updated: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the record's own date, else put time
    put: np.ndarray = field(default_factory=lambda: np.zeros(0))  # when the entry was put (publication)
    quality: np.ndarray = field(default_factory=lambda: np.zeros(0))
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    end: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    _title_rank: np.ndarray | None = None
    _key_rank: np.ndarray | None = None
    id_to_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # entry id -> position, -1
    entry_id_array: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # position -> entry id
    # per-snapshot caches: stemmed titles, text matches (expression -> positions, scores) and the positions
    # matching single query units (expression -> sorted positions)
    _stems: dict[int, tuple[str, ...]] = field(default_factory=dict)
    matches: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    units: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.facets:
            self.facets = {spec.name: Facet(spec) for spec in self.kind.facets}

    @property
    def size(self) -> int:
        return len(self.entry_ids)

    @property
    def title_rank(self) -> np.ndarray:
        """Each entry's place in title order, ties by subject id (computed on first use per snapshot: a Python
        sort of every title, a quarter of a second at 100k entries, paid by the first title sort after a write
        rather than by every refresh)."""
        if self._title_rank is None:
            order = sorted(range(self.size), key=lambda p: (self.titles[p].casefold(), self.subject_ids[p]))
            rank = np.empty(self.size, dtype=np.int64)
            rank[order] = np.arange(self.size)
            self._title_rank = rank
        return self._title_rank

    @property
    def key_rank(self) -> np.ndarray:
        """Each entry's place in subject-id order: the tie-break that makes every order total, and the same in
        every process whatever order its snapshot loaded entries in."""
        if self._key_rank is None:
            order = np.argsort(np.array(self.subject_ids, dtype=str), kind="stable")
            rank = np.empty(self.size, dtype=np.int64)
            rank[order] = np.arange(self.size)
            self._key_rank = rank
        return self._key_rank

    def title_stems(self, pos: int) -> tuple[str, ...]:
        stems = self._stems.get(pos)
        if stems is None:
            stems = self._stems[pos] = tuple(stem(w) for w in words(self.titles[pos]))
        return stems

    def positions_of(self, entry_ids: np.ndarray) -> np.ndarray:
        """Positions of search_entries ids (-1 for ids this snapshot does not know: other kinds, newer)."""
        inside = (entry_ids >= 0) & (entry_ids < len(self.id_to_pos))
        out = np.full(len(entry_ids), -1, dtype=np.int64)
        out[inside] = self.id_to_pos[entry_ids[inside]]
        return out

    def _clone(self) -> FacetIndex:
        new = FacetIndex(kind=self.kind, generation=self.generation, last_seq=self.last_seq,
                         pos_of=dict(self.pos_of), facets={n: f.clone() for n, f in self.facets.items()},
                         text=self.text.clone())
        for name in _LISTS:
            setattr(new, name, list(getattr(self, name)))
        return new

    def _apply(self, row: dict[str, Any]) -> None:
        pos = self.pos_of.get(row["id"])
        if pos is None:
            pos = self.pos_of[row["id"]] = len(self.entry_ids)
            for name in _LISTS:
                getattr(self, name).append(None)
            for f in self.facets.values():
                f.per_entry.append(())
        data = row["data"] or {}
        self.entry_ids[pos] = row["id"]
        self.subject_ids[pos] = row["subject_id"]
        self.titles[pos] = row["title"]
        self.text.put(pos, (row["title"], row["aliases"], row["keywords"], row["abstract"], row["description"],
                            row["owner"]))
        self.visible_l[pos] = bool(row["visible"])
        updated = row["updated_at"]
        self.put_l[pos] = updated.timestamp() if isinstance(updated, datetime) else 0.0
        own = _record_date(data.get("record_date"))
        self.updated_l[pos] = own if own is not None else self.put_l[pos]
        self.quality_l[pos] = float(row["quality"] or 0.0)
        start, end = _days(row["start_date"]), _days(row["end_date"])
        self.start_l[pos] = start if start is not None else NO_DATE_START
        self.end_l[pos] = OPEN_END if data.get("ongoing") or (start is not None and end is None) else (end or 0)
        for f in self.facets.values():
            values = f.spec.read(row)
            codes = (f.code(v, create=True) for v in values)
            f.per_entry[pos] = tuple(dict.fromkeys(c for c in codes if c is not None))

    def _rebuild(self) -> None:
        self.visible = np.array(self.visible_l, dtype=bool)
        self.updated = np.array(self.updated_l, dtype=np.float64)
        self.put = np.array(self.put_l, dtype=np.float64)
        self.quality = np.array(self.quality_l, dtype=np.float64)
        self.start = np.array(self.start_l, dtype=np.int64)
        self.end = np.array(self.end_l, dtype=np.int64)
        ids = np.array(self.entry_ids, dtype=np.int64)
        self.id_to_pos = np.full(int(ids.max()) + 1 if self.size else 0, -1, dtype=np.int64)
        self.id_to_pos[ids] = np.arange(self.size)
        self.entry_id_array = ids
        for f in self.facets.values():
            f.rebuild()
            f.label_rank  # noqa: B018  (computed now, so that no search pays for it)
        self.text.rebuild()
        self._key_rank = self._title_rank = None
        self.key_rank  # noqa: B018  (every relevance order needs it; the title order waits for a title sort)

    def refreshed(self, session: Session) -> tuple[FacetIndex, int]:
        """(a snapshot at least as new as the session's view of the database, the session's generation)."""
        generation = session.scalar(select(SearchState.generation).where(SearchState.id == 1)) or 0
        if generation <= self.generation:
            return self, generation  # current, or newer than this session's snapshot: never go back
        rows = load_rows(session, self.kind.name, self.last_seq)
        if not rows:
            return dataclasses.replace(self, generation=generation), generation
        new = self._clone()
        for row in rows:
            new._apply(row)
            new.last_seq = max(new.last_seq, row["seq"])
        new._rebuild()
        new.generation = generation
        return new, generation


_COLUMNS = (SearchEntry.id, SearchEntry.subject_id, SearchEntry.visible, SearchEntry.seq, SearchEntry.title,
            SearchEntry.aliases, SearchEntry.keywords, SearchEntry.abstract,
            SearchEntry.description, SearchEntry.owner, SearchEntry.quality, SearchEntry.start_date,
            SearchEntry.end_date, SearchEntry.updated_at, SearchEntry.data)


def load_rows(session: Session, kind: str, after_seq: int) -> list[Any]:
    """The entries of a kind changed since ``after_seq``, in whatever order the database returns them."""
    return list(session.execute(
        select(*_COLUMNS).where(SearchEntry.kind == kind, SearchEntry.seq > after_seq)).mappings().all())


_indexes: weakref.WeakKeyDictionary[Engine, dict[str, FacetIndex]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def current(session: Session, kind: str = "dataset") -> tuple[FacetIndex, bool]:
    """This process's snapshot of a kind for the session's database, brought up to date, and whether it matches
    the session's own view exactly (only then may text matches computed in this session be cached in it)."""
    engine = session.get_bind().engine
    declared = kinds.get(kind)
    with _lock:  # one refresher at a time; readers keep whichever snapshot they were given
        per_kind = _indexes.setdefault(engine, {})
        index = per_kind.get(kind) or FacetIndex(declared)
        index, seen = index.refreshed(session)
        per_kind[kind] = index
        return index, seen == index.generation


def warm(engine: Engine) -> None:
    """Build this process's snapshot of every declared kind now (at start-up), so that the first search is as
    fast as the hundredth."""
    from healthgate.search.engine import search

    for name in kinds.PROVIDERS:
        with Session(engine) as session:
            current(session, name)
            search(session, "", per_page=1, kind=name)  # and the code paths a search takes, once


def reset() -> None:
    """Forget every snapshot (tests that recreate a database under the same engine)."""
    with _lock:
        _indexes.clear()
