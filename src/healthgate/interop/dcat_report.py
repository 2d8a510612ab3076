"""What a custodian sees of the DCAT-AP check on their workspace dataset page: the draft (and the latest
published version) exported to DCAT-AP 3.0.1 and validated against the official shapes, each finding named
by the HDR UK field to fill in.

A report depends only on the document, so it is cached by the document's hash (an immutable key: an edited
draft is a new key, never a stale hit)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from healthgate.interop import dcat, shacl

# DCAT / HealthDCAT-AP property -> where it comes from in HDR UK 4.0.0 (for the official shapes' findings)
HDRUK_FIELD: dict[str, str] = {
    "dct:title": "summary.title",
    "dct:description": "summary.abstract (or documentation.description)",
    "dct:publisher": "summary.dataCustodian",
    "foaf:name": "summary.dataCustodian.name",
    "dcat:contactPoint": "summary.contactPoint",
    "dcat:accessURL": "accessibility.access.accessRights",
    "dct:accessRights": "accessibility.access",
    "dct:spatial": "coverage.spatial",
    "dct:temporal": "provenance.temporal",
    "dcat:startDate": "provenance.temporal.startDate",
    "dcat:endDate": "provenance.temporal.endDate",
    "dct:issued": "issued",
    "dct:modified": "modified",
    "dcat:version": "version",
    "dcat:keyword": "summary.keywords",
    "dct:language": "accessibility.formatAndStandards.language",
    "dct:conformsTo": "accessibility.formatAndStandards.conformsTo",
    "dct:format": "accessibility.formatAndStandards.format",
    "healthdcatap:numberOfUniqueIndividuals": "summary.populationSize",
    "healthdcatap:numberOfRecords": "observations (observedNode Events)",
    "healthdcatap:minTypicalAge": "coverage.typicalAgeRangeMin",
    "healthdcatap:maxTypicalAge": "coverage.typicalAgeRangeMax",
    "healthdcatap:healthTheme": "provenance.origin.datasetType",
    "healthdcatap:hdab": "accessibility.access.dataController",
}
_SITE = dcat.Site("https://healthgate.invalid")  # the report does not depend on the site's address


@dataclass(frozen=True)
class Line:
    severity: str
    field: str  # the HDR UK field to fill in ("" when none applies)
    property: str
    message: str
    where: str  # "the dataset", or the node inside it


@dataclass(frozen=True)
class DcatCheck:
    conforms: bool
    violations: tuple[Line, ...]
    recommendations: tuple[Line, ...]


def _where(focus: str, dataset_iri: str) -> str:
    if focus == dataset_iri:
        return "the dataset"
    return focus.replace(dataset_iri, "the dataset")


@functools.lru_cache(maxsize=512)
def _check(key: str, raw: bytes) -> DcatCheck:
    del key  # the cache key; ``raw`` is what is checked
    doc = orjson.loads(raw)
    dataset_id = "00000000-0000-4000-8000-000000000000"
    report = shacl.validate(dcat.dataset_graph(doc, _SITE, dataset_id))
    iri = str(_SITE.dataset_iri(dataset_id))
    lines = [Line(f.severity, HDRUK_FIELD.get(f.path, ""), f.path, f.message, _where(f.focus, iri))
             for f in report.findings]
    return DcatCheck(conforms=report.conforms, violations=tuple(x for x in lines if x.severity == "violation"),
                     recommendations=tuple(x for x in lines if x.severity != "violation"))


def check(doc: dict[str, Any] | None) -> DcatCheck | None:
    """The DCAT-AP check of one HDR UK 4.0.0 document (None for no document)."""
    if not isinstance(doc, dict):
        return None
    raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    return _check(hashlib.sha256(raw).hexdigest(), raw)
