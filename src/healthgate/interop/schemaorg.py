"""schema.org ``Dataset`` JSON-LD for a published version, as embedded in its public page."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.catalogue.standard.extract import text_list


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _url(v: object) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip().startswith(("http://", "https://")) else None


def _iso_date(v: object) -> str | None:
    """``2020-01-13T14:55:22Z`` -> ``2020-01-13``; None for anything that is not an ISO 8601 date."""
    if not isinstance(v, str) or len(v.strip()) < 10:
        return None
    try:
        return date.fromisoformat(v.strip()[:10]).isoformat()
    except ValueError:
        return None


def dataset_jsonld(dataset: Dataset, version: DatasetVersion, base_url: str) -> dict[str, Any]:
    """``base_url``: this site's public address (the configured one, or the one the request came in on)."""
    doc = version.document
    summary = _dict(doc.get("summary"))
    access = _dict(_dict(doc.get("accessibility")).get("access"))
    custodian = _dict(summary.get("dataCustodian"))
    page = f"{base_url.rstrip('/')}/datasets/{dataset.id}"
    org: dict[str, Any] = {"@type": "Organization", "name": custodian.get("name") or dataset.team.name}
    if isinstance(custodian.get("contactPoint"), str):
        org["email"] = custodian["contactPoint"]
    identifiers = [f"urn:uuid:{dataset.id}"]
    doi = summary.get("doiName")
    if isinstance(doi, str) and doi.strip():
        identifiers.insert(0, f"https://doi.org/{doi.strip().removeprefix('https://doi.org/')}")
    out: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": page,
        "name": version.title,
        "description": version.abstract or _dict(doc.get("documentation")).get("description") or version.title,
        "identifier": identifiers if len(identifiers) > 1 else identifiers[0],
        "url": page,
        "version": str(doc.get("version") or version.number),
        "keywords": version.keywords,
        "creator": org,
        "publisher": org,
        # the record's own dates; healthgate's publication time only when the record has none
        "datePublished": _iso_date(doc.get("issued")) or version.published_at.date().isoformat(),
        "includedInDataCatalog": {"@type": "DataCatalog", "name": "healthgate", "url": base_url.rstrip("/") + "/"},
    }
    places = text_list(_dict(doc.get("coverage")).get("spatial"))
    if places:
        out["spatialCoverage"] = [{"@type": "Place", "name": p} for p in places]
    if version.start_date:
        end = version.end_date.isoformat() if version.end_date else ".."
        out["temporalCoverage"] = f"{version.start_date.isoformat()}/{end}"
    rights = access.get("accessRights")
    if isinstance(rights, str) and rights.strip():
        out["conditionsOfAccess"] = rights.strip()
        if _url(rights):
            out["license"] = rights.strip()
    modified = _iso_date(doc.get("modified"))
    if modified:
        out["dateModified"] = modified
    if version.population_size is not None:
        out["variableMeasured"] = {"@type": "PropertyValue", "name": "population size",
                                   "value": version.population_size}
    return out


def script_tag_json(value: dict[str, Any]) -> str:
    """JSON safe inside <script>: no markup character survives to end or confuse the element."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
