"""Ranked, faceted search over one kind of record (datasets unless told otherwise): the database's full-text
index (``search.backend``) finds and scores text matches, the in-memory snapshot (``search.facets``) filters,
counts facets and orders."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthgate.config import DEFAULT_MAX_PER_PAGE
from healthgate.search import backend
from healthgate.search import facets as facet_index
from healthgate.search.facets import FacetIndex
from healthgate.search.models import SearchEntry
from healthgate.search.query import Alt, Query, Unit, fts_unit, parse, relaxed, to_fts5
from healthgate.search.snippets import highlight, matched
from healthgate.search.stem import stem

SORTS = ("relevance", "title", "updated", "quality")
RERANK = 200  # the top hits by text score get the title and phrase bonuses
MATCH_CACHE = 512  # text matches (positions and scores) of whole queries kept per index snapshot
UNIT_CACHE = 256  # matching positions of single query units kept per index snapshot
FEW = 5  # fewer full matches than this and partial matches are shown after them


@dataclass
class Filters:
    values: dict[str, list[str]] = field(default_factory=dict)  # facet -> selected values
    date_from: date | None = None
    date_to: date | None = None
    more: tuple[str, ...] = ()  # facets to show every value of, not just the commonest


@dataclass
class Hit:
    dataset_id: uuid.UUID
    title: str
    custodian: str | None
    member_group: str | None
    snippet: str
    score: float
    abstract: str
    keywords: list[str]
    medallion: str
    quality_score: float
    population_size: int | None
    start_date: date | None
    end_date: date | None
    updated_at: Any
    kind: str = "dataset"
    subject_id: str = ""
    record_date: date | None = None  # the record's own modified/issued date
    record_version: str | None = None
    matched_keywords: list[str] = field(default_factory=list)  # its keywords the query matched


@dataclass
class Result:
    total: int
    page: int
    per_page: int
    sort: str
    items: list[Hit]
    facets: dict[str, list[dict[str, Any]]]
    notes: list[str]
    query: Query
    facets_hidden: dict[str, int] = field(default_factory=dict)  # facet -> values not shown (see Filters.more)


# ---- matching ----------------------------------------------------------------------------------------


def _remember(cache: dict[str, Any], key: str, value: Any, limit: int) -> None:
    if len(cache) >= limit:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _unit_positions(session: Session, idx: FacetIndex, cacheable: bool, unit: Unit) -> np.ndarray:
    """Sorted positions of the entries matching one unit (any of its alternatives), kept per snapshot: a
    query's units recur in other queries (a word added, a term excluded, the partial-match fallback), so each
    unit costs one full-text lookup per snapshot however many queries it appears in."""
    key = fts_unit(unit)
    hit = idx.units.get(key)
    if hit is not None:
        return hit
    pos = idx.positions_of(backend.for_session(session).matching_any(session, [unit]))
    pos = np.unique(pos[pos >= 0])
    if cacheable:
        _remember(idx.units, key, pos, UNIT_CACHE)
    return pos


def _positions(session: Session, idx: FacetIndex, cacheable: bool, query: Query, loose: bool) -> np.ndarray:
    """Sorted positions of the entries matching every unit of the query (any one of them when ``loose``) and
    no excluded unit: the database's match of the whole query, as set algebra over per-unit matches."""
    sets = sorted((_unit_positions(session, idx, cacheable, u) for u in query.must), key=len)
    if loose:
        pos = np.unique(np.concatenate(sets))
    else:
        pos = sets[0]
        for other in sets[1:]:
            if not len(pos):
                break
            pos = np.intersect1d(pos, other, assume_unique=True)
    for unit in query.exclude:
        if not len(pos):
            break
        pos = np.setdiff1d(pos, _unit_positions(session, idx, cacheable, unit), assume_unique=True)
    return pos


def _match(session: Session, idx: FacetIndex, cacheable: bool, query: Query,
           loose: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(positions, text scores, higher is better) of every entry matching the query (``loose``: matching any
    of its units; scored as ``relaxed(query)``).

    Kept per index snapshot: a snapshot is one generation of the index, so a cached match can never outlive
    the data it was computed from. Only a session that sees exactly the snapshot's generation may fill it."""
    scored = relaxed(query) if loose else query
    key = ("~" if loose else "") + (to_fts5(scored) or "")
    key += "|" + "|".join(fts_unit(u) for u in query.exclude)
    hit = idx.matches.get(key)
    if hit is not None:
        return hit
    engine = backend.for_session(session)
    pos = _positions(session, idx, cacheable, query, loose)
    if len(pos) <= engine.rank_limit:  # few enough to score in the database, exactly
        ids, scores = engine.match(session, scored, idx.entry_id_array[pos])
        found = idx.positions_of(ids)
        keep = found >= 0
        result = (found[keep], scores[keep])
    else:  # many: score in memory, as the database would (search.textindex)
        def rows_of(alt: Alt) -> np.ndarray:
            return _unit_positions(session, idx, cacheable, Unit((alt,), ""))

        result = (pos, idx.text.scores(scored.must, pos, idx.visible, rows_of))
    if cacheable:
        _remember(idx.matches, key, result, MATCH_CACHE)
    return result


def _excluded(session: Session, query: Query) -> np.ndarray:
    """Entry ids matching any excluded term (for queries with nothing but exclusions)."""
    return backend.for_session(session).matching_any(session, query.exclude)


# ---- ranking -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TitleTest:
    """The query compiled once for the title bonuses: per unit its alternatives as (prefix, stems)."""

    units: tuple[tuple[tuple[bool, tuple[str, ...]], ...], ...]
    phrase: tuple[str, ...]

    @classmethod
    def of(cls, query: Query) -> _TitleTest:
        units = tuple(tuple((alt.prefix, alt.words[:1] if alt.prefix else tuple(stem(w) for w in alt.words))
                            for alt in unit.alts) for unit in query.must)
        return cls(units, tuple(stem(w) for w in query.phrase))


def _has_run(title: tuple[str, ...], run: tuple[str, ...]) -> bool:
    n = len(run)
    return any(title[i:i + n] == run for i in range(len(title) - n + 1))


def _unit_in_title(alts: tuple[tuple[bool, tuple[str, ...]], ...], title: tuple[str, ...]) -> bool:
    for prefix, stems in alts:
        if prefix:
            if any(t.startswith(stems[0]) for t in title):
                return True
        elif len(stems) == 1:
            if stems[0] in title:
                return True
        elif _has_run(title, stems):
            return True
    return False


def _bonus(test: _TitleTest, title: tuple[str, ...]) -> float:
    """Multiplier for a hit whose title carries the query: every term (x1.6), the words as typed (x1.3)."""
    factor = 1.0
    if test.units and all(_unit_in_title(u, title) for u in test.units):
        factor *= 1.6
        phrase = test.phrase
        if len(phrase) > 1 and _has_run(title, phrase):
            factor *= 1.3
        if phrase and phrase == title:
            factor *= 1.2
    return factor


def _by(primary: np.ndarray, key_rank: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``positions`` ascending by ``primary``, ties by subject id: a total order, the same in every process."""
    return positions[np.lexsort((key_rank[positions], primary))]


def _order(idx: FacetIndex, positions: np.ndarray, scores: np.ndarray, sort: str, query: Query,
           need: int | None = None) -> np.ndarray:
    """``positions`` in the order of ``sort``. With ``need``, only the first ``need`` are sure to be in place
    (relevance: the rest are left out when that saves sorting them)."""
    keys = idx.key_rank
    if sort == "title":
        return positions[np.argsort(idx.title_rank[positions], kind="stable")]  # title_rank is total
    if sort == "updated":  # the record's own date, then publication, then subject id
        return positions[np.lexsort((keys[positions], -idx.put[positions], -idx.updated[positions]))]
    if sort == "quality":
        return _by(-idx.quality[positions], keys, positions)
    need = max(RERANK, need or len(positions))
    if len(positions) > 2 * need:
        # only the best ``need``: every position scoring at least the need-th best score (ties included)
        primary = -scores[positions]
        kth = np.partition(primary, need - 1)[need - 1]
        positions = positions[primary <= kth]
    order = _by(-scores[positions], keys, positions)
    head = order[:RERANK]
    test = _TitleTest.of(query)
    boosted = {int(p): float(scores[p]) * _bonus(test, idx.title_stems(int(p))) for p in head}
    head = np.array(sorted(boosted, key=lambda p: (-boosted[p], int(keys[p]))), dtype=positions.dtype)
    for p, b in boosted.items():
        scores[p] = b
    return np.concatenate([head, order[RERANK:]])


# ---- facets ------------------------------------------------------------------------------------------


def _facet_masks(idx: FacetIndex, filters: Filters, notes: list[str]) -> dict[str, np.ndarray]:
    masks: dict[str, np.ndarray] = {}
    for name, values in filters.values.items():
        facet = idx.facets.get(name)
        if facet is None:
            notes.append(f"{idx.kind.label} have no facet {name!r}")
            masks[name] = np.zeros(idx.size, dtype=bool)
            continue
        codes = []
        for v in values:
            c = facet.code(v)
            if c is None:
                notes.append(f"no {idx.kind.label.removesuffix('s')} has {name} {v!r}")
            else:
                codes.append(c)
        masks[name] = facet.having(codes, idx.size)
    if filters.date_from or filters.date_to:
        lo = filters.date_from.toordinal() if filters.date_from else -(2**62)
        hi = filters.date_to.toordinal() if filters.date_to else 2**62
        masks["date"] = (idx.start <= hi) & (idx.end >= lo) & (idx.start != facet_index.NO_DATE_START)
    return masks


def _facet_counts(idx: FacetIndex, base: np.ndarray, masks: dict[str, np.ndarray], filters: Filters,
                  hidden: dict[str, int]) -> dict[str, list[dict[str, Any]]]:
    """Counts of every facet's values (each ignoring its own selection); ``hidden`` gets, per facet cut short
    at its limit, how many values were left out (all of them are shown when the facet is in filters.more)."""
    out: dict[str, list[dict[str, Any]]] = {}
    hits_for: dict[tuple[str, ...], np.ndarray] = {}  # the masks applied -> positions (shared by most facets)
    for name, facet in idx.facets.items():
        applied = tuple(other for other in masks if other != name)
        hits = hits_for.get(applied)
        if hits is None:
            mask = base.copy()
            for other in applied:
                mask &= masks[other]
            hits = hits_for[applied] = np.flatnonzero(mask)
        spec = facet.spec
        counts = facet.counts_at(hits)
        chosen = {c for c in (facet.code(v) for v in filters.values.get(name, [])) if c is not None}
        present = np.nonzero(counts)[0]
        limit = None if name in filters.more else spec.limit
        if isinstance(spec.order, str):
            present = present[np.lexsort((facet.label_rank[present], -counts[present]))]
            if limit and len(present) > limit:
                hidden[name] = len(present) - limit
                present = np.array([c for i, c in enumerate(present) if i < limit or c in chosen], dtype=np.int64)
        else:
            fixed = list(spec.order)
            present = np.array(sorted(present, key=lambda c: (
                fixed.index(facet.labels[c]) if facet.labels[c] in fixed else len(fixed), facet.labels[c])),
                dtype=np.int64)
        labels = facet.labels
        entries: list[dict[str, Any]] = [
            {"value": labels[c], "count": int(counts[c]), "selected": int(c) in chosen} for c in present.tolist()
        ]
        shown = set(present.tolist())
        entries += [{"value": v, "count": 0, "selected": True} for v in filters.values.get(name, [])
                    if facet.code(v) not in shown]
        out[name] = entries
    return out


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


# ---- page items --------------------------------------------------------------------------------------


def _hits(session: Session, idx: FacetIndex, positions: list[int], scores: np.ndarray, query: Query) -> list[Hit]:
    ids = [idx.entry_ids[p] for p in positions]
    rows = {r.id: r for r in session.scalars(select(SearchEntry).where(SearchEntry.id.in_(ids)))} if ids else {}
    hits = []
    for p, rid in zip(positions, ids, strict=True):
        r = rows.get(rid)
        if r is None:
            continue
        # a snippet from whichever text field matched (the abstract's start when none did)
        snippet = highlight(query, r.abstract, r.description, r.aliases.replace(" ; ", "; "), r.title)
        keywords = [k for k in r.keywords.split(" ; ") if k]
        data = r.data or {}
        hits.append(Hit(
            dataset_id=idx.kind.subject(r.subject_id), title=r.title, custodian=r.owner,
            member_group=data.get("member_group"), snippet=snippet, score=round(float(scores[p]), 4),
            abstract=r.abstract, keywords=keywords, matched_keywords=matched(query, keywords),
            medallion=data.get("medallion") or "", quality_score=r.quality,
            population_size=data.get("population_size"), start_date=r.start_date, end_date=r.end_date,
            updated_at=r.updated_at, kind=r.kind, subject_id=r.subject_id,
            record_date=_iso_date(data.get("record_date")), record_version=data.get("record_version"),
        ))
    return hits


# ---- the search --------------------------------------------------------------------------------------


def search(session: Session, q: str = "", filters: Filters | None = None, *, sort: str | None = None,
           page: int = 1, per_page: int = 20, kind: str = "dataset",
           max_per_page: int = DEFAULT_MAX_PER_PAGE) -> Result:
    """Ranked, faceted search over the public records of a kind. Never raises on user input: oddities become
    notes."""
    filters = filters or Filters()
    query = parse(q)
    notes = list(query.notes)
    if per_page > max_per_page:
        notes.append(f"per_page is at most {max_per_page}")
    per_page = max(1, min(per_page, max_per_page))
    page = max(1, page)
    if sort not in SORTS:
        if sort:
            notes.append(f"unknown sort {sort!r}; sorts are {', '.join(SORTS)}")
        sort = "relevance" if query.must else "updated"
    idx, cacheable = facet_index.current(session, kind)
    label = idx.kind.label
    n = idx.size
    scores = np.zeros(n)
    text_mask = idx.visible.copy()
    if query.must:
        pos, vals = _match(session, idx, cacheable, query)
        if len(pos) < FEW and len(query.must) > 1:
            # Few datasets have every term: add those having some, ranked below every full match.
            loose_pos, loose_vals = _match(session, idx, cacheable, query, loose=True)
            extra = ~np.isin(loose_pos, pos)
            if extra.any():
                floor = float(vals.min()) if len(vals) else 0.0
                top = float(loose_vals[extra].max()) or 1.0
                scaled = loose_vals[extra] / top * floor * 0.99 if floor > 0 else loose_vals[extra]
                notes.append(f"{'few ' + label if len(pos) else 'no ' + label.removesuffix('s')} matched every "
                             f"term; also showing {label} that match some of them")
                pos = np.concatenate([pos, loose_pos[extra]])
                vals = np.concatenate([vals, scaled])
        text_mask = np.zeros(n, dtype=bool)
        text_mask[pos] = True
        scores[pos] = vals
        text_mask &= idx.visible
    elif query.exclude:
        out = idx.positions_of(_excluded(session, query))
        text_mask[out[out >= 0]] = False
    masks = _facet_masks(idx, filters, notes)
    combined = text_mask.copy()
    for m in masks.values():
        combined &= m
    positions = np.nonzero(combined)[0]
    total = int(positions.size)
    if sort == "relevance" and not query.must:
        sort = "updated"
    start = (page - 1) * per_page
    ordered = _order(idx, positions, scores, sort, query, start + per_page) if total else positions
    if total and start >= total:
        notes.append(f"page {page} is past the last page ({math.ceil(total / per_page)})")
    if not total:
        notes.append(f"no {label} match" + (" this search" if q.strip() else " these filters"))
    page_positions = [int(p) for p in ordered[start:start + per_page]] if start < total else []
    hidden: dict[str, int] = {}
    counts = _facet_counts(idx, text_mask, masks, filters, hidden)
    return Result(
        total=total, page=page, per_page=per_page, sort=sort,
        items=_hits(session, idx, page_positions, scores, query),
        facets=counts, notes=notes, query=query, facets_hidden=hidden,
    )


def similar(session: Session, dataset_id: uuid.UUID, limit: int = 10, kind: str = "dataset") -> list[Hit]:
    """Public records of a kind most like this one, by its title and keywords."""
    entry = session.scalar(select(SearchEntry).where(SearchEntry.kind == kind,
                                                     SearchEntry.subject_id == str(dataset_id)))
    if entry is None:
        return []
    # any of its keywords (each as a phrase) or title words; the trailing space turns type-ahead off
    keywords = " ".join([f'"{k}"' for k in entry.keywords.split(" ; ") if k.strip()][:8])
    query = relaxed(parse(f"{keywords} {entry.title} "))
    idx, cacheable = facet_index.current(session, kind)
    if not query.must:
        return []
    pos, vals = _match(session, idx, cacheable, query)
    own = idx.pos_of.get(entry.id)
    scores = np.zeros(idx.size)
    scores[pos] = vals
    keep = pos[(pos != own) & idx.visible[pos]]
    ranked = _by(-scores[keep], idx.key_rank, keep)[:limit]
    return _hits(session, idx, [int(p) for p in ranked], scores, Query())
