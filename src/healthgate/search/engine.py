"""Dataset search: one interface, two engines (SQLite FTS5, PostgreSQL tsvector), same results shape."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from healthgate.search import facets as facet_index
from healthgate.search.facets import FACETS, MEDALLION_ORDER, POPULATION_BUCKETS, FacetIndex
from healthgate.search.models import SearchEntry
from healthgate.search.query import Query, Unit, fts_unit, parse, relaxed, to_fts5, to_tsquery_sql
from healthgate.search.snippets import highlight
from healthgate.search.stem import stem

SORTS = ("relevance", "title", "updated", "quality")
MAX_PER_PAGE = 100
RERANK = 200  # the top hits by text score get the title and phrase bonuses
MATCH_CACHE = 512  # text matches kept per index snapshot
FEW = 5  # fewer full matches than this and partial matches are shown after them
# bm25 weights of the FTS columns: title, aliases, keywords, abstract, description, custodian
BM25 = "bm25(dataset_fts, 10.0, 6.0, 6.0, 3.0, 1.0, 2.0)"
PG_WEIGHTS = "'{0.15, 0.35, 0.6, 1.0}'"  # D (description, custodian), C (abstract), B (aliases, keywords), A (title)
FACET_LIMIT = {"keyword": 30, "geography": 30, "custodian": 50}


@dataclass
class Filters:
    values: dict[str, list[str]] = field(default_factory=dict)  # facet -> selected values
    date_from: date | None = None
    date_to: date | None = None


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


# ---- matching ----------------------------------------------------------------------------------------


def _rows_to_arrays(rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0)
    arr = np.array(rows, dtype=np.float64)
    return arr[:, 0].astype(np.int64), arr[:, 1]


def _sqlite_match(session: Session, expr: str) -> tuple[np.ndarray, np.ndarray]:
    # straight through the driver: SQLAlchemy's per-row handling costs more than FTS5 on 30,000 hits
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        rows = cursor.execute(f"SELECT rowid, -{BM25} FROM dataset_fts WHERE dataset_fts MATCH ?", (expr,)).fetchall()
    finally:
        cursor.close()
    return _rows_to_arrays(rows)


def _pg_tsquery(units: list[Unit], params: dict[str, str], start: int = 0) -> str:
    return " && ".join(to_tsquery_sql(units, params, start))


def _match_uncached(session: Session, query: Query) -> tuple[np.ndarray, np.ndarray]:
    if session.get_bind().dialect.name == "sqlite":
        expr = to_fts5(query)
        return _sqlite_match(session, expr) if expr else _rows_to_arrays([])
    params: dict[str, str] = {}
    tsq = _pg_tsquery(query.must, params)
    for i, u in enumerate(query.exclude):
        tsq += " && !!" + _pg_tsquery([u], params, 1000 * (i + 1))
    rows = session.execute(
        text(f"WITH q AS (SELECT {tsq} AS q) SELECT id, ts_rank_cd({PG_WEIGHTS}, tsv, q.q, 1) "
             f"FROM search_entries, q WHERE visible AND tsv @@ q.q"), params).all()
    return _rows_to_arrays(rows)


def _match(session: Session, idx: FacetIndex, cacheable: bool, query: Query) -> tuple[np.ndarray, np.ndarray]:
    """(positions, text scores, higher is better) of every entry matching the query.

    Kept per index snapshot: a snapshot is one generation of the index, so a cached match can never outlive
    the data it was computed from. Only a session that sees exactly the snapshot's generation may fill it."""
    key = to_fts5(query) or ""
    key += "|" + "|".join(fts_unit(u) for u in query.exclude)
    hit = idx.matches.get(key)
    if hit is not None:
        return hit
    ids, scores = _match_uncached(session, query)
    pos = idx.positions_of(ids)
    keep = pos >= 0
    result = (pos[keep], scores[keep])
    if cacheable:
        if len(idx.matches) >= MATCH_CACHE:
            idx.matches.pop(next(iter(idx.matches)))
        idx.matches[key] = result
    return result


def _excluded(session: Session, query: Query) -> set[int]:
    """Entries matching any excluded term (for queries with nothing but exclusions)."""
    if session.get_bind().dialect.name == "sqlite":
        expr = " OR ".join(fts_unit(u) for u in query.exclude)
        return {int(i) for i in _sqlite_match(session, expr)[0]}
    params: dict[str, str] = {}
    tsq = " || ".join(f"({_pg_tsquery([u], params, 1000 * i)})" for i, u in enumerate(query.exclude))
    return {r[0] for r in session.execute(
        text(f"SELECT id FROM search_entries WHERE visible AND tsv @@ ({tsq})"), params)}


# ---- ranking -----------------------------------------------------------------------------------------


def _unit_in_title(unit: Unit, title: tuple[str, ...]) -> bool:
    for alt in unit.alts:
        stems = tuple(stem(w) for w in alt.words)
        if alt.prefix:
            if any(t.startswith(alt.words[0]) for t in title):
                return True
        elif len(stems) == 1:
            if stems[0] in title:
                return True
        elif any(title[i:i + len(stems)] == stems for i in range(len(title) - len(stems) + 1)):
            return True
    return False


def _bonus(query: Query, title: tuple[str, ...]) -> float:
    """Multiplier for a hit whose title carries the query: every term (x1.6), the words as typed (x1.3)."""
    factor = 1.0
    if query.must and all(_unit_in_title(u, title) for u in query.must):
        factor *= 1.6
        phrase = tuple(stem(w) for w in query.phrase)
        if len(phrase) > 1 and any(title[i:i + len(phrase)] == phrase for i in range(len(title) - len(phrase) + 1)):
            factor *= 1.3
        if phrase and phrase == title:
            factor *= 1.2
    return factor


def _by(primary: np.ndarray, key_rank: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``positions`` ascending by ``primary``, ties by subject id: a total order, the same in every process."""
    return positions[np.lexsort((key_rank[positions], primary))]


def _order(idx: FacetIndex, positions: np.ndarray, scores: np.ndarray, sort: str, query: Query) -> np.ndarray:
    keys = idx.key_rank
    if sort == "title":
        return positions[np.argsort(idx.title_rank[positions], kind="stable")]  # title_rank is total
    if sort == "updated":
        return _by(-idx.updated[positions], keys, positions)
    if sort == "quality":
        return _by(-idx.quality[positions], keys, positions)
    order = _by(-scores[positions], keys, positions)
    head = order[:RERANK]
    boosted = {int(p): float(scores[p]) * _bonus(query, idx.title_stems(int(p))) for p in head}
    head = np.array(sorted(boosted, key=lambda p: (-boosted[p], int(keys[p]))), dtype=positions.dtype)
    for p, b in boosted.items():
        scores[p] = b
    return np.concatenate([head, order[RERANK:]])


# ---- facets ------------------------------------------------------------------------------------------


def _facet_masks(idx: FacetIndex, filters: Filters, notes: list[str]) -> dict[str, np.ndarray]:
    masks: dict[str, np.ndarray] = {}
    for name, values in filters.values.items():
        facet = idx.facets[name]
        codes = []
        for v in values:
            c = facet.code(v)
            if c is None:
                notes.append(f"no dataset has {name} {v!r}")
            else:
                codes.append(c)
        masks[name] = facet.having(codes, idx.size)
    if filters.date_from or filters.date_to:
        lo = filters.date_from.toordinal() if filters.date_from else -(2**62)
        hi = filters.date_to.toordinal() if filters.date_to else 2**62
        masks["date"] = (idx.start <= hi) & (idx.end >= lo) & (idx.start != facet_index.NO_DATE_START)
    return masks


def _facet_counts(idx: FacetIndex, base: np.ndarray, masks: dict[str, np.ndarray],
                  filters: Filters) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name in FACETS:
        mask = base.copy()
        for other, m in masks.items():
            if other != name:
                mask &= m
        facet = idx.facets[name]
        counts = facet.counts(mask)
        selected = {facet.key(v) for v in filters.values.get(name, [])}
        entries = [
            {"value": facet.labels[c], "count": int(counts[c]), "selected": facet.key(facet.labels[c]) in selected}
            for c in np.nonzero(counts)[0]
        ]
        if name == "medallion":
            entries.sort(key=lambda e: MEDALLION_ORDER.index(e["value"]) if e["value"] in MEDALLION_ORDER else 99)
        elif name == "population":
            entries.sort(key=lambda e: POPULATION_BUCKETS.index(e["value"]))
        else:
            entries.sort(key=lambda e: (-e["count"], e["value"].casefold()))
            limit = FACET_LIMIT.get(name)
            if limit and len(entries) > limit:
                entries = [e for i, e in enumerate(entries) if i < limit or e["selected"]]
        shown = {facet.key(e["value"]) for e in entries}
        entries += [{"value": v, "count": 0, "selected": True} for v in filters.values.get(name, [])
                    if facet.key(v) not in shown]
        out[name] = entries
    return out


# ---- page items --------------------------------------------------------------------------------------


def _hits(session: Session, idx: FacetIndex, positions: list[int], scores: np.ndarray, query: Query) -> list[Hit]:
    ids = [idx.entry_ids[p] for p in positions]
    rows = {r.id: r for r in session.scalars(select(SearchEntry).where(SearchEntry.id.in_(ids)))} if ids else {}
    hits = []
    for p, rid in zip(positions, ids, strict=True):
        r = rows.get(rid)
        if r is None:
            continue
        snippet = highlight(query, r.abstract, r.description, r.title)
        hits.append(Hit(
            dataset_id=r.dataset_id, title=r.title, custodian=r.custodian, member_group=r.member_group,
            snippet=snippet, score=round(float(scores[p]), 4), abstract=r.abstract,
            keywords=[k for k in r.keywords.split(" ; ") if k], medallion=r.medallion,
            quality_score=r.quality_score, population_size=r.population_size, start_date=r.start_date,
            end_date=r.end_date, updated_at=r.updated_at,
        ))
    return hits


# ---- the search --------------------------------------------------------------------------------------


def search(session: Session, q: str = "", filters: Filters | None = None, *, sort: str | None = None,
           page: int = 1, per_page: int = 20) -> Result:
    """Ranked, faceted search over public datasets. Never raises on user input: oddities become notes."""
    filters = filters or Filters()
    query = parse(q)
    notes = list(query.notes)
    if per_page > MAX_PER_PAGE:
        notes.append(f"per_page is at most {MAX_PER_PAGE}")
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    if sort not in SORTS:
        if sort:
            notes.append(f"unknown sort {sort!r}; sorts are {', '.join(SORTS)}")
        sort = "relevance" if query.must else "updated"
    idx, cacheable = facet_index.current(session)
    n = idx.size
    scores = np.zeros(n)
    text_mask = idx.visible.copy()
    if query.must:
        pos, vals = _match(session, idx, cacheable, query)
        if len(pos) < FEW and len(query.must) > 1:
            # Few datasets have every term: add those having some, ranked below every full match.
            loose_pos, loose_vals = _match(session, idx, cacheable, relaxed(query))
            extra = ~np.isin(loose_pos, pos)
            if extra.any():
                floor = float(vals.min()) if len(vals) else 0.0
                top = float(loose_vals[extra].max()) or 1.0
                scaled = loose_vals[extra] / top * floor * 0.99 if floor > 0 else loose_vals[extra]
                notes.append(f"{'few datasets' if len(pos) else 'no dataset'} matched every term; also showing "
                             "datasets that match some of them")
                pos = np.concatenate([pos, loose_pos[extra]])
                vals = np.concatenate([vals, scaled])
        text_mask = np.zeros(n, dtype=bool)
        text_mask[pos] = True
        scores[pos] = vals
        text_mask &= idx.visible
    elif query.exclude:
        for rid in _excluded(session, query):
            p = idx.pos_of.get(rid)
            if p is not None:
                text_mask[p] = False
    masks = _facet_masks(idx, filters, notes)
    combined = text_mask.copy()
    for m in masks.values():
        combined &= m
    positions = np.nonzero(combined)[0]
    total = int(positions.size)
    if sort == "relevance" and not query.must:
        sort = "updated"
    ordered = _order(idx, positions, scores, sort, query) if total else positions
    start = (page - 1) * per_page
    if total and start >= total:
        notes.append(f"page {page} is past the last page ({math.ceil(total / per_page)})")
    if not total:
        notes.append("no datasets match" + (" this search" if q.strip() else " these filters"))
    page_positions = [int(p) for p in ordered[start:start + per_page]] if start < total else []
    return Result(
        total=total, page=page, per_page=per_page, sort=sort,
        items=_hits(session, idx, page_positions, scores, query),
        facets=_facet_counts(idx, text_mask, masks, filters), notes=notes, query=query,
    )


def similar(session: Session, dataset_id: uuid.UUID, limit: int = 10) -> list[Hit]:
    """Public datasets most like this one, by its title and keywords."""
    entry = session.scalar(select(SearchEntry).where(SearchEntry.dataset_id == dataset_id))
    if entry is None:
        return []
    # any of its keywords (each as a phrase) or title words; the trailing space turns type-ahead off
    keywords = " ".join([f'"{k}"' for k in entry.keywords.split(" ; ") if k.strip()][:8])
    query = relaxed(parse(f"{keywords} {entry.title} "))
    idx, cacheable = facet_index.current(session)
    if not query.must:
        return []
    pos, vals = _match(session, idx, cacheable, query)
    own = idx.pos_of.get(entry.id)
    scores = np.zeros(idx.size)
    scores[pos] = vals
    keep = pos[(pos != own) & idx.visible[pos]]
    ranked = _by(-scores[keep], idx.key_rank, keep)[:limit]
    return _hits(session, idx, [int(p) for p in ranked], scores, Query())
