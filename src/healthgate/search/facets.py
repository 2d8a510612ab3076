"""The in-memory facet index: what makes faceted search fast.

Counting facet values over tens of thousands of hits with SQL GROUP BY costs hundreds of milliseconds; here
every facet is a pair of numpy arrays (entry position, value code) and a count is one ``bincount`` over the
hits. Each process keeps one index per database and brings it up to date before every search by reading only
the entries whose ``seq`` is newer than the index (see ``search.models``), so several processes on one
database always agree with the database.
"""

from __future__ import annotations

import math
import threading
import uuid
import weakref
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
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
    labels: list[str] = field(default_factory=list)  # code -> value shown
    code_of: dict[str, int] = field(default_factory=dict)  # normalised value -> code
    label_votes: list[Counter[str]] = field(default_factory=list)
    per_entry: list[list[int]] = field(default_factory=list)  # position -> codes
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def key(self, value: str) -> str:
        return value.casefold() if self.name in CASE_FOLDED else value

    def code(self, value: str, create: bool = False) -> int | None:
        k = self.key(value)
        c = self.code_of.get(k)
        if c is None and create:
            c = self.code_of[k] = len(self.labels)
            self.labels.append(value)
            self.label_votes.append(Counter())
        if c is not None and create:
            self.label_votes[c][value] += 1
        return c

    def rebuild(self) -> None:
        sizes = [len(c) for c in self.per_entry]
        self.positions = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        self.codes = np.fromiter((c for cs in self.per_entry for c in cs), dtype=np.int32,
                                 count=int(sum(sizes)))
        self.labels = [votes.most_common(1)[0][0] if votes else label
                       for label, votes in zip(self.labels, self.label_votes, strict=True)]

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


@dataclass
class FacetIndex:
    generation: int = -1
    last_seq: int = -1
    pos_of: dict[int, int] = field(default_factory=dict)  # search_entries.id -> position
    entry_ids: list[int] = field(default_factory=list)
    dataset_ids: list[uuid.UUID] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    title_stems: list[tuple[str, ...]] = field(default_factory=list)
    visible_l: list[bool] = field(default_factory=list)
    updated_l: list[float] = field(default_factory=list)
    quality_l: list[float] = field(default_factory=list)
    start_l: list[int] = field(default_factory=list)
    end_l: list[int] = field(default_factory=list)
    facets: dict[str, Facet] = field(default_factory=lambda: {n: Facet(n) for n in FACETS})
    # numpy views, rebuilt after each refresh
    visible: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    updated: np.ndarray = field(default_factory=lambda: np.zeros(0))
    quality: np.ndarray = field(default_factory=lambda: np.zeros(0))
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    end: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    title_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        return len(self.entry_ids)

    def _apply(self, row: dict[str, Any]) -> None:
        pos = self.pos_of.get(row["id"])
        if pos is None:
            pos = self.pos_of[row["id"]] = len(self.entry_ids)
            self.entry_ids.append(row["id"])
            for lst in (self.dataset_ids, self.titles, self.title_stems, self.visible_l, self.updated_l,
                        self.quality_l, self.start_l, self.end_l):
                lst.append(None)  # type: ignore[arg-type]
            for f in self.facets.values():
                f.per_entry.append([])
        self.dataset_ids[pos] = row["dataset_id"]
        self.titles[pos] = row["title"]
        self.title_stems[pos] = tuple(stem(w) for w in words(row["title"]))
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
            facet.per_entry[pos] = list(dict.fromkeys(facet.code(v, create=True) for v in values))

    def _rebuild(self) -> None:
        self.visible = np.array(self.visible_l, dtype=bool)
        self.updated = np.array(self.updated_l, dtype=np.float64)
        self.quality = np.array(self.quality_l, dtype=np.float64)
        self.start = np.array(self.start_l, dtype=np.int64)
        self.end = np.array(self.end_l, dtype=np.int64)
        order = sorted(range(self.size), key=lambda p: (self.titles[p].casefold(), p))
        self.title_rank = np.empty(self.size, dtype=np.int64)
        self.title_rank[order] = np.arange(self.size)
        for f in self.facets.values():
            f.rebuild()

    def refresh(self, session: Session) -> None:
        generation = session.scalar(select(SearchState.generation).where(SearchState.id == 1)) or 0
        if generation <= self.generation:
            return  # current, or newer than this session's snapshot: never go back
        cols = [SearchEntry.id, SearchEntry.dataset_id, SearchEntry.visible, SearchEntry.seq, SearchEntry.title,
                SearchEntry.keywords, SearchEntry.custodian, SearchEntry.member_group,
                SearchEntry.population_size, SearchEntry.start_date, SearchEntry.end_date,
                SearchEntry.quality_score, SearchEntry.medallion, SearchEntry.updated_at, SearchEntry.facets]
        rows = session.execute(select(*cols).where(SearchEntry.seq > self.last_seq)).mappings().all()
        for row in rows:
            self._apply(row)
            self.last_seq = max(self.last_seq, row["seq"])
        if rows:
            self._rebuild()
        self.generation = generation


_indexes: weakref.WeakKeyDictionary[Engine, FacetIndex] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def current(session: Session) -> FacetIndex:
    """This process's facet index for the session's database, brought up to date."""
    engine = session.get_bind().engine
    with _lock:
        index = _indexes.get(engine)
        if index is None:
            index = _indexes[engine] = FacetIndex()
        index.refresh(session)
        return index


def reset() -> None:
    """Forget every index (tests that recreate a database under the same engine)."""
    with _lock:
        _indexes.clear()
