"""Datasets as search sees them: the dataset kind's facets, and the index entry of a published version."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from healthgate.search import kinds
from healthgate.search.index import Entry, IndexItem
from healthgate.search.kinds import FacetSpec, Kind, Row
from healthgate.search.normalise import geography, keyword, match_key

MEDALLION_ORDER = ["platinum", "gold", "silver", "bronze", "not rated"]
POPULATION_BUCKETS = ["unreported", "0", "1-9", "10-99", "100-999", "1,000-9,999", "10,000-99,999",
                      "100,000-999,999", "1,000,000-9,999,999", "10,000,000+"]


def population_bucket(size: int | None) -> str:
    if size is None or size < 0:
        return "unreported"
    if size == 0:
        return "0"
    return POPULATION_BUCKETS[min(2 + int(math.log10(size)), len(POPULATION_BUCKETS) - 1)]


def _one(value: Any) -> list[Any]:
    return [value] if value is not None else []


def _many(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _data(field: str) -> Any:
    return lambda row: (row["data"] or {}).get(field)


def _keywords(row: Row) -> Iterable[str]:
    return (row["keywords"] or "").split(" ; ")


KIND = kinds.register(Kind(
    name="dataset",
    label="datasets",
    subject=uuid.UUID,
    facets=(
        FacetSpec("custodian", "Data custodian", lambda r: _one(r["owner"]), multi=False, fold=match_key,
                  limit=50),
        FacetSpec("member_group", "Member group", lambda r: _one(_data("member_group")(r)), multi=False),
        FacetSpec("data_type", "Data type", lambda r: _many(_data("data_type")(r)), fold=match_key),
        FacetSpec("geography", "Geographic coverage", lambda r: _many(_data("geographic_coverage")(r)),
                  normalise=geography, fold=match_key, limit=30),
        FacetSpec("keyword", "Keyword", _keywords, normalise=keyword, fold=match_key, limit=30),
        FacetSpec("access_service", "Access service", lambda r: _one(_data("access_service")(r)), multi=False),
        FacetSpec("lead_time", "Access request lead time", lambda r: _one(_data("delivery_lead_time")(r)),
                  multi=False),
        FacetSpec("medallion", "Metadata quality", lambda r: _one(_data("medallion")(r)), multi=False,
                  order=MEDALLION_ORDER),
        FacetSpec("population", "Population size", lambda r: [population_bucket(_data("population_size")(r))],
                  multi=False, order=POPULATION_BUCKETS),
    ),
))


def record_date(doc: dict[str, Any]) -> date | None:
    """The record's own date: when it was last modified, else issued (HDR UK ``modified`` / ``issued``)."""
    for key in ("modified", "issued"):
        value = doc.get(key)
        if isinstance(value, str) and len(value) >= 10:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def index_item(dataset_id: uuid.UUID, team: Any, version_id: uuid.UUID, checked: Any, now: datetime) -> IndexItem:
    """A published version as search indexes it. The custodian shown is the one the document names (its
    ``summary.dataCustodian.name``), else the publishing team's name: the same name as the dataset's page."""
    x = checked.extracted
    doc = checked.canonical if isinstance(checked.canonical, dict) else {}
    version = doc.get("version")
    return IndexItem(
        dataset_id=dataset_id, version_id=version_id, title=x.title, aliases=x.aliases, keywords=x.keywords,
        abstract=x.abstract, description=x.description, custodian=x.custodian or team.name,
        member_group=team.member_group, population_size=x.population_size, start_date=x.start_date,
        end_date=x.end_date, quality_score=checked.quality["score"], medallion=checked.quality["medallion"],
        updated_at=now, facets={**x.facets, "member_group": team.member_group},
        record_date=record_date(doc), record_version=version if isinstance(version, str) else None,
    )


def entry_of(item: IndexItem) -> Entry:
    """The index entry of a published dataset version."""
    return Entry(
        subject_id=str(item.dataset_id), title=item.title, updated_at=item.updated_at, aliases=item.aliases,
        keywords=item.keywords, abstract=item.abstract, description=item.description, owner=item.custodian,
        quality=item.quality_score, start_date=item.start_date, end_date=item.end_date,
        data={**item.facets, "version_id": str(item.version_id), "member_group": item.member_group,
              "population_size": item.population_size, "medallion": item.medallion,
              "record_date": item.record_date.isoformat() if item.record_date else None,
              "record_version": item.record_version},
    )
