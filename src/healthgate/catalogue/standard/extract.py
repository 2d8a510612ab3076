"""Fields pulled out of a canonical (HDR UK 4.0.0) document for listing, search and facets.

Total on messy input: real catalogues hold wrong types and empty sections, and extraction never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def text_list(value: object) -> list[str]:
    """A list of non-empty strings from a list or a comma-separated string."""
    items = value if isinstance(value, list) else (value.split(",") if isinstance(value, str) else [])
    return list(dict.fromkeys(t for t in map(_text, items) if t))  # first of each, in order: linear


_GEONAMES = re.compile(r"^https?://(?:www\.|sws\.)?geonames\.org/\d+/([^/?#]+?)(?:\.html)?/?$", re.IGNORECASE)
_SMALL = {"and", "of", "the"}


def place_name(value: str) -> str:
    """A readable place for a facet: GeoNames links become their place name."""
    m = _GEONAMES.match(value.strip())
    if not m:
        return value.strip()
    words = m.group(1).replace("-", " ").split()
    return " ".join(w if (i and w in _SMALL) else w.capitalize() for i, w in enumerate(words))


def parse_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    v = value.strip()
    try:
        return date.fromisoformat(v[:10]) if len(v) >= 10 else None
    except ValueError:
        try:
            return datetime.fromisoformat(v).date()
        except ValueError:
            return None


@dataclass
class Extracted:
    title: str
    abstract: str | None
    description: str | None
    keywords: list[str]
    aliases: list[str]
    custodian: str | None
    population_size: int | None
    start_date: date | None
    end_date: date | None
    facets: dict[str, Any] = field(default_factory=dict)


def extract(doc: dict[str, Any]) -> Extracted:
    summary = _dict(doc.get("summary"))
    provenance = _dict(doc.get("provenance"))
    temporal = _dict(provenance.get("temporal"))
    origin = _dict(provenance.get("origin"))
    access = _dict(_dict(doc.get("accessibility")).get("access"))
    coverage = _dict(doc.get("coverage"))
    population = summary.get("populationSize")
    end_raw = temporal.get("endDate")
    raw_types = origin.get("datasetType")
    types: list[Any] = raw_types if isinstance(raw_types, list) else []
    names = (_text(t.get("name")) if isinstance(t, dict) else _text(t) for t in types)
    data_types = list(dict.fromkeys(n for n in names if n))
    facets = {
        "data_type": data_types,
        "geographic_coverage": list(dict.fromkeys(place_name(p) for p in text_list(coverage.get("spatial")))),
        "access_service": _text(access.get("accessServiceCategory")),
        "delivery_lead_time": _text(access.get("deliveryLeadTime")),
        "jurisdiction": text_list(access.get("jurisdiction")),
        "ongoing": isinstance(end_raw, str) and end_raw.strip().upper() == "CONTINUOUS",
    }
    return Extracted(
        title=_text(summary.get("title")) or "(untitled dataset)",
        abstract=_text(summary.get("abstract")),
        description=_text(_dict(doc.get("documentation")).get("description")),
        keywords=text_list(summary.get("keywords")),
        aliases=text_list(summary.get("datasetAliases")),
        custodian=_text(_dict(summary.get("dataCustodian")).get("name")),
        population_size=population if isinstance(population, int) and not isinstance(population, bool)
        and population >= 0 else None,
        start_date=parse_date(temporal.get("startDate")),
        end_date=parse_date(end_raw),
        facets=facets,
    )
