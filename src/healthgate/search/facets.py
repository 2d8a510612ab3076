"""The in-memory facet index: what makes faceted search fast.

Counting facet values over tens of thousands of hits with SQL GROUP BY costs hundreds of milliseconds; here
every facet is a pair of numpy arrays (entry position, value code) and a count is one ``bincount`` over the
hits. Each process keeps one index per database and brings it up to date before every search by reading only
the entries whose ``seq`` is newer than the index (see ``search.models``), so several processes on one
database always agree with the database.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from healthgate.search.models import SearchEntry, SearchState
from healthgate.search.query import words
from healthgate.search.stem import stem

MEDALLION_ORDER = ["platinum", "gold", "silver", "bronze", "not rated"]
POPULATION_BUCKETS = ["unreported", "0", "1-9", "10-99", "100-999", "1,000-9,999", "10,000-99,999",
                      "100,000-999,999", "1,000,000-9,999,999", "10,000,000+"]
NO_DATE_START = np.iinfo(np.int32).max  # an unknown start never overlaps a date range
OPEN_END = np.iinfo(np.int32).max


def population_bucket(size: int | None) -> str:
    if size is None or size < 0:
        return "unreported"
    if size == 0:
        return "0"
    return POPULATION_BUCKETS[min(2 + int(math.log10(size)), len(POPULATION_BUCKETS) - 1)]


def _values(row: dict[str, Any]) -> dict[str, list[str]]:
    """Facet values of one entry, by facet name."""
    f = row["facets"] or {}

    def one(v: object) -> list[str]:
        return [v.strip()] if isinstance(v, str) and v.strip() else []

    def many(v: object) -> list[str]:
        return [x.strip() for x in v if isinstance(x, str) and x.strip()] if isinstance(v, list) else []

    keywords = [k.strip() for k in (row["keywords"] or "").split(" ; ") if k.strip()]
    return {
        "custodian": one(row["custodian"]),
        "member_group": one(row["member_group"]),
        "data_type": many(f.get("data_type")),
        "geography": many(f.get("geographic_coverage")),
        "keyword": keywords,
        "access_service": one(f.get("access_service")),
        "lead_time": one(f.get("delivery_lead_time")),
        "medallion": one(row["medallion"]),
        "population": [population_bucket(row["population_size"])],
    }


FACETS = ("custodian", "member_group", "data_type", "geography", "keyword", "access_service", "lead_time",
          "medallion", "population")
CASE_FOLDED = frozenset({"keyword", "geography", "data_type"})  # values differing only in case are one


@dataclass
class Facet:
    """One facet as columns: for each (entry, value) pair, the entry's position and the value's code."""

    name: str
    labels: list[str] = field(default_factory=list)  # code -> value shown (the first spelling seen)
    code_of: dict[str, int] = field(default_factory=dict)  # normalised value -> code
    per_entry: list[tuple[int, ...]] = field(default_factory=list)  # position -> codes
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def clone(self) -> Facet:
        return Facet(self.name, list(self.labels), dict(self.code_of), list(self.per_entry))

    def key(self, value: str) -> str:
        return value.casefold() if self.name in CASE_FOLDED else value

    def code(self, value: str, create: bool = False) -> int | None:
        k = self.key(value)
        c = self.code_of.get(k)
        if c is None and create:
            c = self.code_of[k] = len(self.labels)
            self.labels.append(value)
        return c

    def rebuild(self) -> None:
        sizes = np.fromiter(map(len, self.per_entry), dtype=np.int64, count=len(self.per_entry))
        self.positions = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        self.codes = np.fromiter(chain.from_iterable(self.per_entry), dtype=np.int32, count=int(sizes.sum()))

    def having(self, codes: list[int], n: int) -> np.ndarray:
        """Mask of entries having any of ``codes``."""
        mask = np.zeros(n, dtype=bool)
        if codes:
            mask[self.positions[np.isin(self.codes, codes)]] = True
        return mask

    def counts(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes[mask[self.positions]], minlength=len(self.labels))


def _days(d: date | None) -> int | None:
    return d.toordinal() if d else None


_LISTS = ("entry_ids", "dataset_ids", "titles", "visible_l", "updated_l", "quality_l", "start_l", "end_l")


@dataclass
class FacetIndex:
    """An immutable snapshot once published by ``current``: a refresh builds a new one and swaps it in, so a
    search holds one consistent snapshot however many publishes happen meanwhile."""

    generation: int = -1
    last_seq: int = -1
    pos_of: dict[int, int] = field(default_factory=dict)  # search_entries.id -> position
    entry_ids: list[int] = field(default_factory=list)
    dataset_ids: list[uuid.UUID] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    visible_l: list[bool] = field(default_factory=list)
    updated_l: list[float] = field(default_factory=list)
    quality_l: list[float] = field(default_factory=list)
    start_l: list[int] = field(default_factory=list)
    end_l: list[int] = field(default_factory=list)
    facets: dict[str, Facet] = field(default_factory=lambda: {n: Facet(n) for n in FACETS})
    # numpy views, built once per snapshot
    visible: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    updated: np.ndarray = field(default_factory=lambda: np.zeros(0))
    quality: np.ndarray = field(default_factory=lambda: np.zeros(0))
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    end: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    _title_rank: np.ndarray | None = None
    _key_rank: np.ndarray | None = None
    id_to_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # entry id -> position, -1
    # per-snapshot caches: stemmed titles, and text matches (expression -> positions, scores)
    _stems: dict[int, tuple[str, ...]] = field(default_factory=dict)
    matches: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.entry_ids)

    @property
    def title_rank(self) -> np.ndarray:
        """Each entry's place in title order (computed on first use per snapshot)."""
        if self._title_rank is None:
            order = sorted(range(self.size), key=lambda p: (self.titles[p].casefold(), str(self.dataset_ids[p])))
            rank = np.empty(self.size, dtype=np.int64)
            rank[order] = np.arange(self.size)
            self._title_rank = rank
        return self._title_rank

    @property
    def key_rank(self) -> np.ndarray:
        """Each entry's place in subject-id order: the tie-break that makes every order total, and the same in
        every process whatever order its snapshot loaded entries in."""
        if self._key_rank is None:
            order = sorted(range(self.size), key=lambda p: str(self.dataset_ids[p]))
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
        """Positions of search_entries ids (-1 for ids this snapshot does not know)."""
        inside = (entry_ids >= 0) & (entry_ids < len(self.id_to_pos))
        out = np.full(len(entry_ids), -1, dtype=np.int64)
        out[inside] = self.id_to_pos[entry_ids[inside]]
        return out

    def _clone(self) -> FacetIndex:
        new = FacetIndex(generation=self.generation, last_seq=self.last_seq, pos_of=dict(self.pos_of),
                         facets={n: f.clone() for n, f in self.facets.items()})
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
        self.entry_ids[pos] = row["id"]
        self.dataset_ids[pos] = row["dataset_id"]
        self.titles[pos] = row["title"]
        self.visible_l[pos] = bool(row["visible"])
        updated = row["updated_at"]
        self.updated_l[pos] = updated.timestamp() if isinstance(updated, datetime) else 0.0
        self.quality_l[pos] = float(row["quality_score"])
        start, end = _days(row["start_date"]), _days(row["end_date"])
        ongoing = bool((row["facets"] or {}).get("ongoing"))
        self.start_l[pos] = start if start is not None else NO_DATE_START
        self.end_l[pos] = OPEN_END if ongoing or (start is not None and end is None) else (end or 0)
        for name, values in _values(row).items():
            facet = self.facets[name]
            facet.per_entry[pos] = tuple(dict.fromkeys(facet.code(v, create=True) for v in values))

    def _rebuild(self) -> None:
        self.visible = np.array(self.visible_l, dtype=bool)
        self.updated = np.array(self.updated_l, dtype=np.float64)
        self.quality = np.array(self.quality_l, dtype=np.float64)
        self.start = np.array(self.start_l, dtype=np.int64)
        self.end = np.array(self.end_l, dtype=np.int64)
        ids = np.array(self.entry_ids, dtype=np.int64)
        self.id_to_pos = np.full(int(ids.max()) + 1 if self.size else 0, -1, dtype=np.int64)
        self.id_to_pos[ids] = np.arange(self.size)
        for f in self.facets.values():
            f.rebuild()

    def refreshed(self, session: Session) -> tuple[FacetIndex, int]:
        """(an index at least as new as the session's view of the database, the session's generation)."""
        generation = session.scalar(select(SearchState.generation).where(SearchState.id == 1)) or 0
        if generation <= self.generation:
            return self, generation  # current, or newer than this session's snapshot: never go back
        rows = load_rows(session, self.last_seq)
        if not rows:
            return dataclasses.replace(self, generation=generation), generation
        new = self._clone()
        for row in rows:
            new._apply(row)
            new.last_seq = max(new.last_seq, row["seq"])
        new._rebuild()
        new.generation = generation
        return new, generation


def load_rows(session: Session, after_seq: int) -> list[Any]:
    """The entries changed since ``after_seq``, in whatever order the database returns them."""
    cols = [SearchEntry.id, SearchEntry.dataset_id, SearchEntry.visible, SearchEntry.seq, SearchEntry.title,
            SearchEntry.keywords, SearchEntry.custodian, SearchEntry.member_group,
            SearchEntry.population_size, SearchEntry.start_date, SearchEntry.end_date,
            SearchEntry.quality_score, SearchEntry.medallion, SearchEntry.updated_at, SearchEntry.facets]
    return list(session.execute(select(*cols).where(SearchEntry.seq > after_seq)).mappings().all())


_indexes: weakref.WeakKeyDictionary[Engine, FacetIndex] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def current(session: Session) -> tuple[FacetIndex, bool]:
    """This process's facet index for the session's database, brought up to date, and whether it matches the
    session's own view exactly (only then may text matches computed in this session be cached in it)."""
    engine = session.get_bind().engine
    with _lock:  # one refresher at a time; readers keep whichever snapshot they were given
        index = _indexes.get(engine) or FacetIndex()
        index, seen = index.refreshed(session)
        _indexes[engine] = index
        return index, seen == index.generation


def reset() -> None:
    """Forget every index (tests that recreate a database under the same engine)."""
    with _lock:
        _indexes.clear()
