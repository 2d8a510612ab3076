"""HDR UK's Gateway Data Model (GWDM 2.0 / 2.1), the form in which HDR UK's own gateway stores and serves
dataset metadata, to and from the canonical HDR UK 4.0.0 form. Pure: no database, no network.

``to_hdruk(gwdm)`` reads a GWDM document (as another gateway's dataset API serves it, wrappers and all: see
``find_document``) into an HDR UK 4.0.0 document; ``to_gwdm(doc)`` writes an HDR UK 4.0.0 document as GWDM 2.0
(a document valid against 2.0 is valid against 2.1, which only adds sections). Every field is mapped as
docs/federation-formats.md lists it; the mapping keeps every field both forms have, so that
HDR UK -> GWDM -> HDR UK gives back every mapped field. GWDM writes most lists as comma-separated strings:
a list item that itself holds a comma cannot survive that form (documented).

``validate(gwdm, version)`` checks a document against the official GWDM JSON Schema (jsonschema-rs, as the
catalogue validates HDR UK documents), returning errors as data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from healthgate.catalogue.standard.validate import schema as hdruk_schema
from healthgate.errors import FieldError

VERSIONS = ("2.0", "2.1")
DEFAULT_VERSION = "2.0"  # what HDR UK's gateway stores; 2.1 only adds optional sections
_ROR = re.compile(r"^(?:https?://ror\.org/)?(0[a-hj-km-np-tv-z0-9]{6}[0-9]{2})$", re.IGNORECASE)
_AGE_RANGE = re.compile(r"^\s*(\d{1,3})\s*-\s*(\d{1,3})\s*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

# HDR UK 4.0.0 list field <-> GWDM comma-separated field: (4.0.0 section path, key), (GWDM section path, key)
_LISTS: tuple[tuple[tuple[str, ...], str, tuple[str, ...], str], ...] = (
    (("summary",), "keywords", ("summary",), "keywords"),
    (("provenance", "origin"), "purpose", ("provenance", "origin"), "purpose"),
    (("provenance", "origin"), "source", ("provenance", "origin"), "source"),
    (("provenance", "origin"), "collectionSource", ("provenance", "origin"), "collectionSituation"),
    (("accessibility", "usage"), "dataUseLimitation", ("accessibility", "usage"), "dataUseLimitation"),
    (("accessibility", "usage"), "dataUseRequirements", ("accessibility", "usage"), "dataUseRequirement"),
    (("accessibility", "access"), "jurisdiction", ("accessibility", "access"), "jurisdiction"),
    (("accessibility", "formatAndStandards"), "vocabularyEncodingScheme",
     ("accessibility", "formatAndStandards"), "vocabularyEncodingSchemes"),
    (("accessibility", "formatAndStandards"), "conformsTo", ("accessibility", "formatAndStandards"), "conformsTo"),
    (("accessibility", "formatAndStandards"), "language", ("accessibility", "formatAndStandards"), "languages"),
    (("accessibility", "formatAndStandards"), "format", ("accessibility", "formatAndStandards"), "formats"),
    (("documentation",), "associatedMedia", ("linkage",), "associatedMedia"),
    (("enrichmentAndLinkage",), "investigations", ("linkage",), "investigations"),
    (("enrichmentAndLinkage",), "tools", ("linkage",), "tools"),
    (("structuralMetadata",), "syntheticDataWebLink", ("linkage",), "syntheticDataWebLink"),
    (("coverage",), "materialType", ("tissuesSampleCollection",), "materialType"),
)
# the same value under the same or another name: (4.0.0 section path, key), (GWDM section path, key)
_SCALARS: tuple[tuple[tuple[str, ...], str, tuple[str, ...], str], ...] = (
    (("summary",), "title", ("summary",), "title"),
    (("summary",), "abstract", ("summary",), "abstract"),
    (("summary",), "populationSize", ("summary",), "populationSize"),
    (("summary",), "doiName", ("summary",), "doiName"),
    (("summary",), "contactPoint", ("summary",), "contactPoint"),
    (("documentation",), "description", ("summary",), "description"),
    (("documentation",), "inPipeline", ("summary",), "inPipeline"),
    (("coverage",), "datasetCompleteness", ("coverage",), "datasetCompleteness"),
    (("coverage",), "followUp", ("coverage",), "followUp"),
    (("coverage",), "pathway", ("coverage",), "pathway"),
    (("provenance", "origin"), "imageContrast", ("provenance", "origin"), "imageContrast"),
    (("provenance", "temporal"), "publishingFrequency", ("provenance", "temporal"), "accrualPeriodicity"),
    (("provenance", "temporal"), "distributionReleaseDate", ("provenance", "temporal"), "distributionReleaseDate"),
    (("provenance", "temporal"), "startDate", ("provenance", "temporal"), "startDate"),
    (("provenance", "temporal"), "endDate", ("provenance", "temporal"), "endDate"),
    (("provenance", "temporal"), "timeLag", ("provenance", "temporal"), "timeLag"),
    (("accessibility", "access"), "accessRights", ("accessibility", "access"), "accessRights"),
    (("accessibility", "access"), "accessServiceCategory", ("accessibility", "access"), "accessServiceCategory"),
    (("accessibility", "access"), "accessService", ("accessibility", "access"), "accessService"),
    (("accessibility", "access"), "accessRequestCost", ("accessibility", "access"), "accessRequestCost"),
    (("accessibility", "access"), "deliveryLeadTime", ("accessibility", "access"), "deliveryLeadTime"),
    (("accessibility", "access"), "dataController", ("accessibility", "access"), "dataController"),
    (("accessibility", "access"), "dataProcessor", ("accessibility", "access"), "dataProcessor"),
    (("enrichmentAndLinkage",), "publicationAboutDataset", ("linkage",), "publicationAboutDataset"),
    (("enrichmentAndLinkage",), "publicationUsingDataset", ("linkage",), "publicationUsingDataset"),
    (("demographicFrequency",), "age", ("demographicFrequency",), "age"),
    (("demographicFrequency",), "ethnicity", ("demographicFrequency",), "ethnicity"),
    (("demographicFrequency",), "disease", ("demographicFrequency",), "disease"),
    (("omics",), "assay", ("omics",), "assay"),
    (("omics",), "platform", ("omics",), "platform"),
)
# dataset links: 4.0.0 enrichmentAndLinkage.<key> <-> GWDM linkage.datasetLinkage.<key>
_LINKS = (("derivedFrom", "isDerivedFrom"), ("isPartOf", "isPartOf"), ("linkableDatasets", "linkedDatasets"))


# ---- small helpers -------------------------------------------------------------------------------------------


def _get(doc: Any, path: Iterable[str]) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _put(doc: dict[str, Any], path: tuple[str, ...], key: str, value: Any) -> None:
    if value is None or value == [] or value == "":
        return
    for p in path:
        nxt = doc.get(p)
        if not isinstance(nxt, dict):
            nxt = doc[p] = {}
        doc = nxt
    doc[key] = value


def split_csv(value: Any) -> list[str] | None:
    """A GWDM comma-separated value as a list (a list passes through, cleaned): None when empty."""
    if value is None:
        return None
    items: list[Any] = value if isinstance(value, list) else str(value).split(",")
    out = [s for s in (str(v).strip() for v in items if v is not None) if s]
    return out or None


def join_csv(value: Any) -> str | None:
    """A list as GWDM writes it, ``a,b,c``; a string passes through; None when empty."""
    if value is None:
        return None
    if isinstance(value, list):
        parts = [str(v).strip() for v in value if v is not None and str(v).strip()]
        return ",".join(parts) or None
    text = str(value).strip()
    return text or None


def _ror_id(identifier: Any) -> str | None:
    m = _ROR.match(str(identifier).strip()) if isinstance(identifier, str) else None
    return m.group(1).lower() if m else None


@cache
def _dataset_types() -> dict[str, frozenset[str]]:
    """HDR UK 4.0.0 dataset type name -> the sub-types the official schema allows it."""
    defs = hdruk_schema("4.0.0")["$defs"]
    origin = defs["Origin"]["properties"]["datasetType"]
    found: dict[str, frozenset[str]] = {}
    for ref in origin["items"]["anyOf"]:
        d = defs[ref["$ref"].rsplit("/", 1)[-1]]
        name = d["properties"]["name"].get("default")
        sub = d["properties"]["subTypes"]
        items: dict[str, Any] = next((a["items"] for a in sub.get("anyOf", [sub]) if a.get("type") == "array"), {})
        target = defs[items["$ref"].rsplit("/", 1)[-1]] if "$ref" in items else items
        enum = target.get("enum") or ([target["const"]] if "const" in target else [])
        if isinstance(name, str):
            found[name] = frozenset(e for e in enum if isinstance(e, str))
    return found


# ---- reading what a gateway serves ----------------------------------------------------------------------------


def is_gwdm(value: Any) -> bool:
    """Whether ``value`` looks like a GWDM document (its ``required`` section, or summary + accessibility
    without HDR UK 4.0.0's top-level identifiers)."""
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("required"), dict):
        return True
    return isinstance(value.get("summary"), dict) and "linkage" in value and "identifier" not in value


def find_document(value: Any, depth: int = 0) -> dict[str, Any] | None:
    """The GWDM document inside what a gateway's dataset API serves: the bare document; ``{"metadata": ...}``
    (as ``versions[].metadata`` holds it, sometimes as a JSON string); a dataset with ``versions[]`` (the
    latest one) or ``latest_metadata``; or a ``{"data": ...}`` response. None when there is none."""
    if depth > 6:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.startswith("{"):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    if is_gwdm(value):
        return value
    for key in ("metadata", "latest_metadata", "latestMetadata", "data"):
        if key in value:
            found = find_document(value[key], depth + 1)
            if found is not None:
                return found
    versions = value.get("versions")
    if isinstance(versions, list) and versions:
        def number(v: Any) -> tuple[int, ...]:
            raw = v.get("version") if isinstance(v, dict) else None
            try:
                return (int(raw),) if raw is not None else (0,)
            except (TypeError, ValueError):
                return tuple(int(p) for p in str(raw).split(".") if p.isdigit()) or (0,)
        for v in sorted((v for v in versions if isinstance(v, dict)), key=number, reverse=True):
            found = find_document(v, depth + 1)
            if found is not None:
                return found
    return None


# ---- GWDM -> HDR UK 4.0.0 -----------------------------------------------------------------------------------


def to_hdruk(gwdm: dict[str, Any]) -> dict[str, Any]:
    """A GWDM 2.x document as an HDR UK 4.0.0 document (the catalogue checks it; nothing is invented: a field
    GWDM lacks stays absent)."""
    out: dict[str, Any] = {}
    req: dict[str, Any] = gwdm["required"] if isinstance(gwdm.get("required"), dict) else {}
    pid = req.get("gatewayPid") or req.get("gatewayId")
    if pid is not None:
        out["identifier"] = str(pid)
    version = req.get("version")
    out["version"] = version if isinstance(version, str) and _SEMVER.match(version) else "1.0.0"
    revisions = req.get("revisions")
    out["revisions"] = [
        {k: v for k, v in (("version", r.get("version")), ("url", r.get("url"))) if v is not None}
        for r in revisions if isinstance(r, dict)
    ] if isinstance(revisions, list) else []
    for key in ("issued", "modified"):
        if req.get(key):
            out[key] = req[key]

    for hpath, hkey, gpath, gkey in _SCALARS:
        _put(out, hpath, hkey, _get(gwdm, (*gpath, gkey)))
    for hpath, hkey, gpath, gkey in _LISTS:
        if gpath == ("tissuesSampleCollection",):
            tissues = gwdm.get("tissuesSampleCollection")
            values: list[str] = []
            for t in tissues if isinstance(tissues, list) else []:
                for v in split_csv(t.get("materialType") if isinstance(t, dict) else None) or []:
                    if v not in values:
                        values.append(v)
            _put(out, hpath, hkey, values or None)
        else:
            _put(out, hpath, hkey, split_csv(_get(gwdm, (*gpath, gkey))))

    publisher = _get(gwdm, ("summary", "publisher"))
    if isinstance(publisher, dict) and (publisher.get("name") or publisher.get("rorId") or publisher.get("gatewayId")):
        custodian: dict[str, Any] = {}
        ror = publisher.get("rorId")
        identifier = f"https://ror.org/{ror}" if ror else publisher.get("gatewayId")
        if identifier:
            custodian["identifier"] = str(identifier)
        if publisher.get("name"):
            custodian["name"] = str(publisher["name"])
        contact = _get(gwdm, ("summary", "contactPoint"))
        if contact:
            custodian["contactPoint"] = contact
        _put(out, ("summary",), "dataCustodian", custodian)
    short = _get(gwdm, ("summary", "shortTitle"))
    if short:
        _put(out, ("summary",), "datasetAliases", split_csv(short))

    names = split_csv(_get(gwdm, ("summary", "datasetType"))) or []
    subs = split_csv(_get(gwdm, ("summary", "datasetSubType"))) or []
    if names:
        allowed = _dataset_types()
        types = []
        for name in names:
            own = [s for s in subs if s in allowed.get(name, frozenset())]
            if not own and allowed.get(name) == frozenset({"Not applicable"}):
                own = ["Not applicable"]
            types.append({"name": name, "subTypes": own})
        _put(out, ("provenance", "origin"), "datasetType", types)

    age = _get(gwdm, ("coverage", "typicalAgeRange"))
    m = _AGE_RANGE.match(age) if isinstance(age, str) else None
    if m:
        _put(out, ("coverage",), "typicalAgeRangeMin", int(m.group(1)))
        _put(out, ("coverage",), "typicalAgeRangeMax", int(m.group(2)))
    spatial = split_csv(_get(gwdm, ("coverage", "spatial")))
    if spatial:  # URIs (e.g. GeoNames) as 4.0.0's list of URIs; place names as its comma-separated text
        uris = all(s.startswith(("http://", "https://")) for s in spatial)
        _put(out, ("coverage",), "spatial", spatial if uris else join_csv(_get(gwdm, ("coverage", "spatial"))))

    creator = _get(gwdm, ("accessibility", "usage", "resourceCreator"))
    if isinstance(creator, dict) and creator.get("name"):
        _put(out, ("accessibility", "usage"), "resourceCreator", str(creator["name"]))
    elif isinstance(creator, str):
        _put(out, ("accessibility", "usage"), "resourceCreator", creator)

    linkage = _get(gwdm, ("linkage", "datasetLinkage"))
    for hkey, gkey in _LINKS:
        links = _descriptors(_get(linkage, (gkey,)))
        if hkey == "isPartOf":  # a GWDM collection membership is being part of it
            links = (links or []) + (_descriptors(_get(linkage, ("isMemberOf",))) or [])
        _put(out, ("enrichmentAndLinkage",), hkey, links or None)

    observations = gwdm.get("observations")
    out["observations"] = observations if isinstance(observations, list) else []
    tables = gwdm.get("structuralMetadata")
    if isinstance(tables, list) and tables:
        _put(out, ("structuralMetadata",), "tables", tables)
    return out


def _descriptors(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    out = [{k: d[k] for k in ("pid", "title", "url") if d.get(k) is not None} for d in value if isinstance(d, dict)]
    return [d for d in out if d] or None


# ---- HDR UK 4.0.0 -> GWDM -----------------------------------------------------------------------------------


def to_gwdm(doc: dict[str, Any], *, gateway_id: str | None = None, pid: str | None = None,
            issued: str | None = None, modified: str | None = None) -> dict[str, Any]:
    """An HDR UK 4.0.0 document as GWDM 2.0 (also valid 2.1). ``gateway_id``/``pid`` name the dataset on this
    gateway (default: the document's identifier); ``issued``/``modified`` default to the document's."""
    identifier = pid or (str(doc["identifier"]) if doc.get("identifier") else None) or gateway_id or "unknown"
    if len(identifier) > 50:  # a URL: GWDM keeps an id of at most 50 characters, the URL's last segment
        identifier = identifier.rstrip("/").rsplit("/", 1)[-1][:50]
    revisions: list[Any] = doc["revisions"] if isinstance(doc.get("revisions"), list) else []
    out: dict[str, Any] = {
        "required": {
            "gatewayId": str(gateway_id or identifier)[:50],
            "gatewayPid": str(identifier)[:50],
            "issued": issued or doc.get("issued"),
            "modified": modified or doc.get("modified"),
            "revisions": [{"version": str(r.get("version")), "url": r.get("url")}
                          for r in revisions if isinstance(r, dict) and r.get("version")],
            "version": doc.get("version") if isinstance(doc.get("version"), str) else "1.0.0",
        },
    }
    for hpath, hkey, gpath, gkey in _SCALARS:
        _put(out, gpath, gkey, _get(doc, (*hpath, hkey)))
    end = _get(out, ("provenance", "temporal", "endDate"))
    if isinstance(end, str) and not _DATE.match(end):  # "CONTINUOUS": GWDM says ongoing with no end date
        del out["provenance"]["temporal"]["endDate"]
    for hpath, hkey, gpath, gkey in _LISTS:
        value = join_csv(_get(doc, (*hpath, hkey)))
        if gpath == ("tissuesSampleCollection",):
            if value:
                out["tissuesSampleCollection"] = [{"materialType": value}]
        else:
            _put(out, gpath, gkey, value)

    custodian = _get(doc, ("summary", "dataCustodian"))
    if isinstance(custodian, dict):
        publisher: dict[str, Any] = {}
        if custodian.get("name"):
            publisher["name"] = custodian["name"]
        ror = _ror_id(custodian.get("identifier"))
        if ror:
            publisher["rorId"] = ror
        elif custodian.get("identifier") is not None and 2 <= len(str(custodian["identifier"])) <= 50:
            publisher["gatewayId"] = str(custodian["identifier"])
        _put(out, ("summary",), "publisher", publisher or None)
        if not _get(out, ("summary", "contactPoint")):
            contact = custodian.get("contactPoint")
            contact = contact[0] if isinstance(contact, list) and contact else contact
            _put(out, ("summary",), "contactPoint", contact if isinstance(contact, str) else None)
    aliases = _get(doc, ("summary", "datasetAliases"))
    short = join_csv(aliases)
    if short and len(short) <= 100:
        _put(out, ("summary",), "shortTitle", short)

    types = _get(doc, ("provenance", "origin", "datasetType"))
    if isinstance(types, list):
        names = [t["name"] for t in types if isinstance(t, dict) and isinstance(t.get("name"), str)]
        subs: list[str] = []
        for t in types:
            for s in (t.get("subTypes") or []) if isinstance(t, dict) else []:
                if isinstance(s, str) and s not in subs:
                    subs.append(s)
        _put(out, ("summary",), "datasetType", join_csv(names))
        _put(out, ("summary",), "datasetSubType", join_csv(subs))

    low, high = _get(doc, ("coverage", "typicalAgeRangeMin")), _get(doc, ("coverage", "typicalAgeRangeMax"))
    if isinstance(low, int) and isinstance(high, int):
        _put(out, ("coverage",), "typicalAgeRange", f"{low}-{high}")
    _put(out, ("coverage",), "spatial", join_csv(_get(doc, ("coverage", "spatial"))))

    creator = _get(doc, ("accessibility", "usage", "resourceCreator"))
    name = join_csv(creator) if isinstance(creator, list) else creator
    if isinstance(name, str) and name.strip():
        _put(out, ("accessibility", "usage"), "resourceCreator", {"name": name})

    for hkey, gkey in _LINKS:
        _put(out, ("linkage", "datasetLinkage"), gkey, _descriptors(_get(doc, ("enrichmentAndLinkage", hkey))))

    observations = doc.get("observations")
    if isinstance(observations, list) and observations:
        out["observations"] = observations
    tables = _get(doc, ("structuralMetadata", "tables"))
    if isinstance(tables, list) and tables:
        out["structuralMetadata"] = tables
    # sections GWDM requires, even when the document says nothing there
    out.setdefault("summary", {})
    out.setdefault("accessibility", {}).setdefault("access", {})
    out.setdefault("provenance", {}).setdefault("temporal", {})
    return out


# ---- validation -----------------------------------------------------------------------------------------------


@cache
def schema(version: str) -> dict[str, Any]:
    if version not in VERSIONS:
        raise ValueError(f"unknown GWDM version {version!r}; one of {', '.join(VERSIONS)}")
    text = resources.files("healthgate").joinpath(f"data/gwdm-{version}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator(version: str) -> Any:
    return jsonschema_rs.validator_for(schema(version), validate_formats=True)


def validate(document: Any, version: str = DEFAULT_VERSION) -> list[FieldError]:
    """Errors of a GWDM document against the official schema of ``version`` (none: valid)."""
    errors = []
    for err in _validator(version).iter_errors(document):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.instance_path)
        errors.append(FieldError(path, err.message[:300]))
    return errors
