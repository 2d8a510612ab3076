"""schema.org ``Dataset`` JSON-LD for a published version, as embedded in its public page."""

from __future__ import annotations

import json
from typing import Any

from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.catalogue.standard.extract import text_list


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _url(v: object) -> str | None:
    return v.strip() if isinstance(v, str) and v.strip().startswith(("http://", "https://")) else None


def dataset_jsonld(dataset: Dataset, version: DatasetVersion, base_url: str) -> dict[str, Any]:
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
        "datePublished": version.published_at.date().isoformat(),
        "includedInDataCatalog": {"@type": "DataCatalog", "name": "healthgate", "url": base_url},
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
    if isinstance(doc.get("modified"), str):
        out["dateModified"] = doc["modified"]
    if version.population_size is not None:
        out["variableMeasured"] = {"@type": "PropertyValue", "name": "population size",
                                   "value": version.population_size}
    return out


def script_tag_json(value: dict[str, Any]) -> str:
    """JSON safe inside <script>: no markup character survives to end or confuse the element."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
