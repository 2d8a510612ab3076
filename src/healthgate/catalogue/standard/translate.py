"""Translate HDR UK dataset metadata from any published schema (2.0.2, 2.1.0, 2.1.2, 2.1.3, 2.2.0, 2.2.1,
3.0.0) up to 4.0.0, the canonical form.

``upgrade(doc, from_version)`` chains pure step functions, 2.0 -> 2.1 -> 3.0.0 -> 4.0.0, each returning a new
document. The 2.1 -> 3.0.0 step reads every 2.1.x and 2.2.x document: 2.1.3 renamed ``accrualPeriodicity`` to
``publishingFrequency``; 2.2.x added ``summary.populationSize``/``datasetType``/``datasetSubType``, coverage
lists (gender, biological samples, lifestyle, ...), ``tissuesSampleCollection``, ``accessServiceCategory`` and
``syntheticDataWebLink``, and dropped ``coverage.physicalSampleAvailability``.  Contract: a document valid against the official schema of ``from_version`` comes out valid
against the official 4.0.0 schema.  Anything else is translated on a best-effort basis: the functions
never raise on odd data (wrong types, missing sections, nulls) and carry over whatever they can.

Information with no 4.0.0 slot is listed under ``NOTES_HEADING`` at the end of
``documentation.description`` (the free-text slot, 10,000 characters at most) rather than dropped.
Enum values are mapped by meaning with the tables in ``_enums``; a value with no equivalent becomes
the field's "Other" (or is left out if the enum has none) and its original text is noted the same way.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import orjson

from healthgate.catalogue.standard import _enums as E

SUPPORTED = ("2.0.2", "2.1.0", "2.1.2", "2.1.3", "2.2.0", "2.2.1", "3.0.0", "4.0.0")
CANONICAL = "4.0.0"
NOTES_HEADING = E.NOTES_HEADING
POPULATION_UNKNOWN = -1  # what the HDR UK Gateway stores for "population size not reported"

Step = Callable[[dict[str, Any]], dict[str, Any]]
Json = Any

# The same engine (and so the same answer) as the validation of the 4.0.0 schema's "uri" fields.
_URI = jsonschema_rs.validator_for({"type": "string", "format": "uri"}, validate_formats=True)
_DOI = re.compile(r"10\.\d{4,9}/[-._;()/:a-zA-Z0-9]+")
_DOI_SCHEMA = re.compile(r"^10.\d{4,9}/[-._;()/:a-zA-Z0-9]+$")  # the schemas' Doi pattern
_AGE_RANGE = re.compile(r"(?<!\d)(\d{1,5})\s*[-\u2013]\s*(\d{1,5})(?!\d)")
_AGE_FROM = re.compile(r"(?<!\d)(\d{1,5})\s*\+")
_HOST_LIKE = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(:\d+)?(/|$)")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(www\.)?")


# --------------------------------------------------------------------------- entry point


def upgrade(doc: dict[str, Any], from_version: str) -> dict[str, Any]:
    """Return a new 4.0.0-shaped copy of ``doc``; ``doc`` itself is never modified."""
    steps = _chain(from_version)
    out: dict[str, Any] = _copy(doc) if isinstance(doc, dict) else {}
    for step in steps:
        out = step(out)
    return out


def _chain(from_version: object) -> tuple[Step, ...]:
    version = from_version.strip().removeprefix("v") if isinstance(from_version, str) else ""
    if re.fullmatch(r"2\.0\.\d+|2\.1\.0", version):
        return (upgrade_2_0_to_2_1, upgrade_2_1_to_3_0, upgrade_3_0_to_4_0)
    if re.fullmatch(r"2\.[12]\.\d+", version):
        return (upgrade_2_1_to_3_0, upgrade_3_0_to_4_0)
    if version == "3.0.0":
        return (upgrade_3_0_to_4_0,)
    if version == "4.0.0":
        return ()
    raise ValueError(f"cannot upgrade HDR UK metadata from version {from_version!r}; "
                     f"supported: {', '.join(SUPPORTED)}")


# --------------------------------------------------------------------------- small helpers


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value, in linear time (``copy.deepcopy`` keeps a memo of every object it copies
    and slows down more than linearly on documents of hundreds of thousands of values)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (TypeError, orjson.JSONDecodeError):  # not plain JSON (huge integers, non-string keys)
        return copy.deepcopy(value)


def _d(value: Json) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Json, split: bool = True) -> list[Json]:
    """A 2.1 "comma-separated values or list" field as a list of non-empty, stripped values."""
    if value is None:
        return []
    raw = value if isinstance(value, list) else value.split(",") if split and isinstance(value, str) else [value]
    out = []
    for item in raw:
        if isinstance(item, str):
            item = item.strip()
        if item is not None and item != "":
            out.append(item)
    return out


def _dedupe(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _strings(values: list[Json], lo: int, hi: int, notes: list[str], label: str) -> list[str]:
    """Keep strings whose length is within [lo, hi]; note the rest."""
    good = [v for v in values if isinstance(v, str) and lo <= len(v) <= hi]
    E.note(notes, label, [v for v in values if not (isinstance(v, str) and lo <= len(v) <= hi)])
    return _dedupe(good)


def _is_uri(value: Json) -> bool:
    return isinstance(value, str) and bool(value) and _URI.is_valid(value)


def _as_uri(value: Json) -> str | None:
    """``value`` as a URI, adding ``https://`` to a bare host name ("www.nhs.uk/x"), else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if _HOST_LIKE.match(value) and _is_uri("https://" + value):  # before the URI check, or
        return "https://" + value  # "nhs.uk:80/x" would pass as a URI with the scheme "nhs.uk"
    return value if _is_uri(value) else None


def _uris(values: list[Json], notes: list[str], label: str) -> list[str]:
    good = [u for u in map(_as_uri, values) if u]
    E.note(notes, label, [v for v in values if not _as_uri(v)])
    return _dedupe(good)


def _find_dois(value: Json) -> list[str]:
    if isinstance(value, str) and _DOI_SCHEMA.search(value.strip()):
        return [value.strip()]
    found = _DOI.findall(value) if isinstance(value, str) else []
    return [d.rstrip(".,;:") if _DOI_SCHEMA.match(d.rstrip(".,;:")) else d for d in found]


def _dois(values: list[Json], notes: list[str], label: str) -> list[str]:
    """Extract DOIs from DOIs, doi.org links or citations; entries without one are noted."""
    pieces = [p for v in values for p in (re.split(r"[\t\n]+", v) if isinstance(v, str) else [v])]
    found = [d for p in pieces for d in _find_dois(p)]
    E.note(notes, label, [p for p in pieces if p not in ("", None) and not _find_dois(p)])
    return _dedupe(found)


def _joined(value: Json) -> str | None:
    """A LongDescription from a string or a list of strings (e.g. 2.1 lists of URLs)."""
    if isinstance(value, str):
        return value
    text = ", ".join(v for v in _items(value, split=False) if isinstance(v, str))
    return text if len(text) >= 2 else None


# --------------------------------------------------------------------------- 2.0.x / 2.1.0 -> 2.1.2

# 2.0.x and 2.1.0 described access on the publisher (the organisation); 2.1.2 on the dataset.
_PUBLISHER_ACCESS = ("accessRights", "accessService", "accessRequestCost", "deliveryLeadTime")
_PUBLISHER_USAGE = ("dataUseLimitation", "dataUseRequirements")


def upgrade_2_0_to_2_1(doc: dict[str, Any]) -> dict[str, Any]:
    """2.0.x / 2.1.0 -> 2.1.2: the publisher's access fields become the dataset's where the dataset says
    nothing (a different dataset-level value wins, the publisher's is noted); the HDR UK Gateway's ``@schema``
    marker (its 2020 exports carry it) is dropped."""
    out = _copy(_d(doc))
    notes: list[str] = []
    out.pop("@schema", None)
    summary = out.get("summary")
    publisher = summary.get("publisher") if isinstance(summary, dict) else None
    if isinstance(publisher, dict):
        accessibility = out.setdefault("accessibility", {})
        if isinstance(accessibility, dict):
            for section, keys in (("access", _PUBLISHER_ACCESS), ("usage", _PUBLISHER_USAGE)):
                moving = {k: publisher.pop(k) for k in keys if k in publisher}
                moving = {k: v for k, v in moving.items() if v not in (None, "", [])}
                if not moving:
                    continue
                if not isinstance(accessibility.get(section), dict):
                    accessibility[section] = {}
                target = accessibility[section]
                for key, value in moving.items():
                    if target.get(key) in (None, "", []):
                        target[key] = value
                    elif target[key] != value:
                        E.note(notes, f"Publisher {key}", value)
    if notes:
        documentation = out.get("documentation") if isinstance(out.get("documentation"), dict) else {}
        out["documentation"] = {**documentation, "description": E.with_notes(documentation.get("description"), notes)}
    return out


# --------------------------------------------------------------------------- 2.1 / 2.2 -> 3.0.0


def upgrade_2_1_to_3_0(doc: dict[str, Any]) -> dict[str, Any]:
    """Translate a 2.1.x document to 3.0.0.  For valid input the result is valid 3.0.0 except, maybe,
    ``revisions[].url``: 3.0.0 checks it with a host-name pattern instead of the URI format, so it is
    carried as-is here and made a URI by the 3.0.0 -> 4.0.0 step."""
    src = _copy(_d(doc))
    notes: list[str] = []
    revisions = src.get("revisions") if isinstance(src.get("revisions"), list) else []
    out = {
        "identifier": src.get("identifier"),
        "version": src.get("version"),
        "revisions": [{"version": r.get("version"), "url": r.get("url")} for r in revisions if isinstance(r, dict)],
        "issued": src.get("issued"),
        "modified": src.get("modified"),
        "summary": _summary(src, notes),
        "documentation": None,
        "coverage": _coverage(src.get("coverage"), notes, src.get("tissuesSampleCollection")),
        "provenance": _provenance(src.get("provenance"), notes, _d(src.get("summary"))),
        "accessibility": _accessibility(_d(src.get("accessibility")), notes),
        "enrichmentAndLinkage": _linkage(src, notes),
        "observations": _observations(src.get("observations")),
        "structuralMetadata": _structural(src.get("structuralMetadata"), notes,
                                          _d(src.get("enrichmentAndLinkage")).get("syntheticDataWebLink")),
        "demographicFrequency": None,
        "omics": None,
    }
    out["documentation"] = _documentation(src.get("documentation"), notes)  # last: it receives the notes
    return out


def _summary(src: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    s = _d(src.get("summary"))
    keywords = _strings(_items(s.get("keywords")), 2, 150, notes, "Keywords")
    return {
        "title": s.get("title"),
        "abstract": s.get("abstract"),
        "dataCustodian": _custodian(s.get("publisher"), s.get("contactPoint"), notes),
        "populationSize": _population(src.get("observations"), s.get("populationSize")),
        "keywords": keywords or None,
        "doiName": _doi_name(s.get("doiName"), notes),
        "contactPoint": s.get("contactPoint"),
        "alternateIdentifiers": s.get("alternateIdentifiers"),
    }


def _custodian(publisher: Json, dataset_contact: Json, notes: list[str]) -> dict[str, Any]:
    """2.1 ``publisher`` -> 3.0.0 ``dataCustodian`` (identifier now required, at most 50 characters)."""
    p = _d(publisher)
    identifier, description = _custodian_identifier(p.get("identifier"), p.get("name"))
    contact = p.get("contactPoint")
    contact = [c for c in contact if c is not None] if isinstance(contact, list) else contact
    return {
        "identifier": identifier,
        "name": p.get("name"),
        "logo": p.get("logo"),
        "description": description,
        "contactPoint": contact if contact not in (None, []) else dataset_contact,
        "memberOf": E.map_one(p.get("memberOf"), E.MEMBER_OF, "Other", notes, "Custodian network membership"),
    }


def _custodian_identifier(identifier: Json, name: Json) -> tuple[str | int, str | None]:
    """Return (identifier, description): a long identifier URL is shortened and kept whole in the
    organisation description (which 4.0.0 defines as "a URL that describes the organisation")."""
    if isinstance(identifier, int) and not isinstance(identifier, bool):
        return identifier, None
    text = identifier.strip() if isinstance(identifier, str) else ""
    if 2 <= len(text) <= 50:
        return text, None
    if len(text) > 50:
        bare = _URL_SCHEME.sub("", text).rstrip("/")
        short = next((c for c in (bare, bare.rsplit("/", 1)[-1]) if 2 <= len(c) <= 50), text[:50])
        return short, text if len(text) <= E.DESCRIPTION_MAX else None
    # No identifier in 2.1 (it was optional): fall back to the organisation name.
    return (name[:50] if isinstance(name, str) and len(name) >= 2 else "unknown"), None


def _population(observations: Json, stated: Json = None) -> int:
    """3.0.0 requires ``populationSize``: 2.2's own ``summary.populationSize``, else the most recent PERSONS
    observation, else -1 (unknown)."""
    if isinstance(stated, int) and not isinstance(stated, bool) and stated >= 0:
        return stated
    best: tuple[str, int] | None = None
    for o in observations if isinstance(observations, list) else []:
        o = _d(o)
        value, node, when = o.get("measuredValue"), o.get("observedNode"), o.get("observationDate")
        if (isinstance(node, str) and E.norm(node) == "PERSONS" and isinstance(value, int)
                and not isinstance(value, bool)):
            key = when if isinstance(when, str) else ""
            if best is None or key >= best[0]:
                best = (key, value)
    return best[1] if best else POPULATION_UNKNOWN


def _doi_name(value: Json, notes: list[str]) -> str | None:
    if value is None or (isinstance(value, str) and _DOI_SCHEMA.search(value.strip())):
        return value.strip() if value else value
    found = _dois([value], notes, "DOI")
    return found[0] if found else None


# 2.2.x coverage lists with no 3.0.0 slot (biological samples become material types).
_COVERAGE_2_2 = {"gender": "Gender", "psychological": "Psychological", "physical": "Physical",
                 "anthropometric": "Anthropometric", "lifestyle": "Lifestyle", "socioeconomic": "Socio-economic"}


def _coverage(value: Json, notes: list[str], tissues: Json = None) -> dict[str, Any] | None:
    tissue_materials = [m for t in (tissues if isinstance(tissues, list) else []) if isinstance(t, dict)
                        for m in _items(t.get("materialType"), split=False)]
    if tissues not in (None, []):
        E.note(notes, "Tissue sample collection", tissues)
    if not isinstance(value, dict):
        E.note(notes, "Tissue sample material types (no coverage section to hold them)", tissue_materials)
        return None
    low, high = _age_range(value.get("typicalAgeRange"))
    materials = (_items(value.get("physicalSampleAvailability")) + _items(value.get("biologicalsamples"))
                 + tissue_materials)
    for key, label in _COVERAGE_2_2.items():
        E.note(notes, f"Coverage, {label}", _items(value.get(key), split=False))
    return {
        "spatial": _spatial(value.get("spatial")),
        "typicalAgeRangeMin": low,
        "typicalAgeRangeMax": high,
        "datasetCompleteness": None,
        "materialType": E.map_all(materials, E.MATERIAL_TYPE, "Other", notes, "Physical samples") or None,
        "followUp": E.map_one(value.get("followup"), E.FOLLOW_UP, "Other", notes, "Follow-up"),
        "pathway": value.get("pathway"),
    }


def _spatial(value: Json) -> str | list[str]:
    """``spatial`` became required: keep a CSV string or a list of URIs; free-text lists are joined."""
    if isinstance(value, str) and value.strip(", \t\n"):
        return value
    items = [v for v in _items(value) if isinstance(v, str)]
    if all(_is_uri(v) for v in items):
        return items
    return ", ".join(items)


def _age_range(value: Json) -> tuple[int | None, int | None]:
    """``"18-65"`` -> (18, 65); ``"65+"`` -> (65, None); ``"Not Known"`` -> (None, None)."""
    if not isinstance(value, str):
        return None, None
    if m := _AGE_RANGE.search(value):
        low, high = sorted((int(m[1]), int(m[2])))
        return low, high
    if m := _AGE_FROM.search(value):
        return int(m[1]), None
    return None, None


def _provenance(value: Json, notes: list[str], summary: dict[str, Any]) -> dict[str, Any] | None:
    """3.0.0 requires ``temporal.startDate``; without one the section cannot be kept, so its content
    is recorded in the description rather than inventing a start date. 2.2.x put the dataset type on the
    summary; 3.0.0 on ``provenance.origin``."""
    types = {k: summary.get(k) for k in ("datasetType", "datasetSubType") if summary.get(k) not in (None, "")}
    if not isinstance(value, dict):
        E.note(notes, "Dataset type (no provenance section to hold it)", types)
        return None
    temporal = _d(value.get("temporal"))
    start = temporal.get("startDate")
    if not (isinstance(start, str) and start.strip()):
        E.note(notes, "Provenance (no start date was given, so it could not be kept as structured data)",
               {**{k: v for k, v in value.items() if k in ("origin", "temporal")}, **types})
        return None
    frequency = temporal.get("publishingFrequency", temporal.get("accrualPeriodicity"))  # renamed in 2.1.3
    return {
        "origin": _origin(value.get("origin"), notes, types),
        "temporal": {
            "publishingFrequency": E.map_one(frequency, E.PERIODICITY, "Other", notes, "Publishing frequency"),
            "distributionReleaseDate": temporal.get("distributionReleaseDate"),
            "startDate": start,
            "endDate": temporal.get("endDate"),
            # TimeLagV2 is not nullable; an unstated time lag becomes "Not applicable".
            "timeLag": E.map_one(temporal.get("timeLag"), E.TIME_LAG, "Other", notes, "Time lag",
                                 missing="Not applicable"),
        },
    }


def _origin(value: Json, notes: list[str], types: dict[str, Any]) -> dict[str, Any] | None:
    """2.2's free-text ``datasetType``/``datasetSubType`` (strings of 2-100 characters) are kept where they
    name a 3.0.0 type or sub-type, and noted otherwise."""
    if not isinstance(value, dict):
        E.note(notes, "Dataset type (no origin section to hold it)", types)
        return None
    found_types = [E.DATASET_TYPES[E.norm(t)][0] for t in _items(types.get("datasetType"))
                   if isinstance(t, str) and E.norm(t) in E.DATASET_TYPES]
    found_subs = [E.SUBTYPES[E.norm(t)] for t in _items(types.get("datasetSubType"))
                  if isinstance(t, str) and E.norm(t) in E.SUBTYPES]
    E.note(notes, "Dataset type", [t for t in _items(types.get("datasetType"))
                                   if not (isinstance(t, str) and E.norm(t) in E.DATASET_TYPES)])
    E.note(notes, "Dataset sub-type", [t for t in _items(types.get("datasetSubType"))
                                       if not (isinstance(t, str) and E.norm(t) in E.SUBTYPES)])
    return {
        "purpose": E.map_all(_items(value.get("purpose")), E.PURPOSE, "Other", notes, "Purpose") or None,
        "datasetType": _dedupe(found_types),  # required since 3.0.0; 2.1 has no equivalent and we do not guess
        "datasetSubType": _dedupe(found_subs) or None,
        "source": E.map_all(_items(value.get("source")), E.SOURCE, "Other", notes, "Source") or None,
        "collectionSource": E.map_all(_items(value.get("collectionSituation")), E.SETTING, "Other", notes,
                                      "Collection setting") or None,
        "imageContrast": "Not stated",
    }


def _accessibility(value: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    usage, formats = value.get("usage"), value.get("formatAndStandards")
    return {
        "usage": _usage(usage, notes) if isinstance(usage, dict) else None,
        "access": _access(_d(value.get("access")), notes),
        "formatAndStandards": _formats(formats, notes) if isinstance(formats, dict) else None,
    }


def _access(a: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    return {
        "accessRights": _joined(a.get("accessRights")),
        "accessServiceCategory": _access_category(a.get("accessServiceCategory"), notes),  # 2.2.1: a list
        "accessService": a.get("accessService"),
        "accessRequestCost": _joined(a.get("accessRequestCost")),
        "deliveryLeadTime": E.map_one(a.get("deliveryLeadTime"), E.DELIVERY_LEAD_TIME, "Other", notes,
                                      "Delivery lead time"),
        "jurisdiction": E.jurisdictions(_items(a.get("jurisdiction")), notes),
        "dataController": a.get("dataController"),
        "dataProcessor": a.get("dataProcessor"),
    }


_ACCESS_CATEGORIES = {E.norm(c): c for c in ("TRE/SDE", "Direct access", "Open access", "Varies based on project")}


def _access_category(value: Json, notes: list[str]) -> str | None:
    """2.2.1 lists access service categories; 3.0.0 holds one: several mean "Varies based on project"."""
    found = _dedupe([_ACCESS_CATEGORIES.get(E.norm(v)) for v in _items(value, split=False) if isinstance(v, str)])
    E.note(notes, "Access service category", [v for v in _items(value, split=False)
                                              if not (isinstance(v, str) and E.norm(v) in _ACCESS_CATEGORIES)])
    found = [f for f in found if f]
    if len(found) > 1:
        E.note(notes, "Access service categories", found)
        return "Varies based on project"
    return found[0] if found else None


def _usage(u: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    return {
        "dataUseLimitation": E.map_all(_items(u.get("dataUseLimitation")), E.DATA_USE_LIMITATION, None,
                                       notes, "Data use limitation") or None,
        "dataUseRequirements": E.map_all(_items(u.get("dataUseRequirements")), E.DATA_USE_REQUIREMENTS,
                                         None, notes, "Data use requirements") or None,
        "resourceCreator": u.get("resourceCreator"),
    }


def _formats(f: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """All four lists are required (and non-nullable) from 3.0.0 on."""
    return {
        "vocabularyEncodingScheme": E.map_all(_items(f.get("vocabularyEncodingScheme")),
                                              E.CONTROLLED_VOCABULARY, "OTHER", notes, "Vocabulary"),
        "conformsTo": E.map_all(_items(f.get("conformsTo")), E.STANDARDISED_DATA_MODELS, "OTHER", notes,
                                "Conforms to"),
        "language": E.map_all(_items(f.get("language")), E.LANGUAGE, None, notes, "Language"),
        "format": _strings(_items(f.get("format")), 1, 1_000_000, notes, "Format"),
    }


def _linkage(src: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    """Gather 2.1 enrichmentAndLinkage, usage.investigations/isReferencedBy and documentation.isPartOf.

    2.1 ``derivation`` says which *derived* datasets/extracts are available; 3.0.0 ``derivedFrom``
    lists the datasets this one was derived *from* -- the opposite relation -- so derivation text is
    carried into the description instead of being mis-filed.
    """
    raw = src.get("enrichmentAndLinkage")
    e = _d(raw)
    usage = _d(_d(src.get("accessibility")).get("usage"))
    E.note(notes, "Derived datasets or extracts available", _items(e.get("derivation"), split=False))
    out = {
        "derivedFrom": None,
        "isPartOf": _descriptors(_items(_d(src.get("documentation")).get("isPartOf"), split=False),
                                 notes, "Part of") or None,
        "linkableDatasets": _descriptors(_items(e.get("qualifiedRelation")), notes, "Linkable datasets") or None,
        "similarToDatasets": None,
        "investigations": _uris(_items(usage.get("investigations")), notes, "Investigations") or None,
        "tools": _uris(_items(e.get("tools")), notes, "Tools") or None,
        "publicationAboutDataset": _dois(_items(usage.get("isReferencedBy"), split=False), notes,
                                         "Referenced by") or None,
        "publicationUsingDataset": None,
    }
    if raw is None and all(v is None for v in out.values()):
        return None
    return out


def _descriptors(values: list[Json], notes: list[str], label: str) -> list[dict[str, Any]]:
    """Free-text/URL/DOI dataset references -> DatasetDescriptor objects."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for v in values:
        if isinstance(v, str) and E.norm(v) == "NOT APPLICABLE":  # 2.1's "not part of a group"
            continue
        if not isinstance(v, str) or len(v) < 2:
            E.note(notes, label, v)
            continue
        if _DOI_SCHEMA.match(v) and len(v) <= 150:
            kind, text = "pid", v
        elif _is_uri(v):
            kind, text = "url", v
        else:  # DatasetDescriptor.title holds 150 characters: a longer one is shortened, noted whole
            kind, text = "title", v if len(v) <= 150 else v[:149] + "\u2026"
            if len(v) > 150:
                E.note(notes, label, v)
        if (kind, text) not in seen:
            seen.add((kind, text))
            out.append({"pid": None, "title": None, "url": None, kind: text})
    return out


def _observations(value: Json) -> list[dict[str, Any]]:
    out = []
    for o in value if isinstance(value, list) else []:
        if isinstance(o, dict):
            node = o.get("observedNode")
            mapped = E.OBSERVED_NODE.get(E.norm(node)) if isinstance(node, str) else None
            out.append({**o, "observedNode": mapped or node})
    return out


def _structural(value: Json, notes: list[str], synthetic: Json = None) -> dict[str, Any] | None:
    """A 2.1 list of DataClass{elements: [DataElement]} -> {tables: [DataTable{columns}]}; 2.2.1's
    ``enrichmentAndLinkage.syntheticDataWebLink`` moves here in 3.0.0."""
    links = _uris(_items(synthetic, split=False), notes, "Synthetic data links") or None
    if value is None:
        return {"tables": None, "syntheticDataWebLink": links} if links else None
    if isinstance(value, dict) and "tables" in value:  # already 3.0.0-shaped
        return value
    tables = []
    for c in value if isinstance(value, list) else [value]:
        if isinstance(c, dict):
            raw = c.get("elements")
            elements: list[Any] = raw if isinstance(raw, list) else []
            columns = [_column(e, notes) for e in elements if isinstance(e, dict)]
            tables.append({"name": c.get("name"), "description": c.get("description"), "columns": columns})
    return {"tables": tables, "syntheticDataWebLink": links}


def _column(element: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """DataElement -> DataColumn.  Extra element properties (allowed by both schemas) are kept."""
    column = {k: element.get(k) for k in ("name", "dataType", "description", "sensitive")}
    extras = {k: v for k, v in element.items() if k not in column}
    values = extras.pop("values", None)
    column.update(extras)
    column["values"] = _values(values, notes, f"Values of column {E.render(element.get('name'))}")
    return column


def _values(value: Json, notes: list[str], label: str) -> list[dict[str, Any]] | None:
    """Keep only well-formed DataValue objects from an (unconstrained in 2.1) ``values`` extra."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    E.note(notes, label, [v for v in values if not (isinstance(v, dict) and "name" in v)])
    good = []
    for v in values:
        if isinstance(v, dict) and "name" in v:
            freq, desc = v.get("frequency"), v.get("description")
            good.append({**v, "frequency": freq if isinstance(freq, int) and not isinstance(freq, bool) else None,
                         "description": desc if isinstance(desc, str) and 1 <= len(desc) <= 20000 else None})
    return good or None


def _documentation(value: Json, notes: list[str]) -> dict[str, Any] | None:
    if not isinstance(value, dict) and not notes:
        return None
    d = _d(value)
    return {
        "description": E.with_notes(d.get("description"), notes),
        "associatedMedia": d.get("associatedMedia"),
        "inPipeline": None,  # new in 3.0.0; 2.1 does not say
    }


# --------------------------------------------------------------------------- 3.0.0 -> 4.0.0


def upgrade_3_0_to_4_0(doc: dict[str, Any]) -> dict[str, Any]:
    """3.0.0 -> 4.0.0: ``alternateIdentifiers`` -> ``datasetAliases``; ``datasetType`` +
    ``datasetSubType`` -> ``datasetType: [{name, subTypes}]``; revision URLs must be URIs."""
    out: dict[str, Any] = _copy(doc) if isinstance(doc, dict) else {}
    notes: list[str] = []
    summary = out.get("summary")
    if isinstance(summary, dict) and "alternateIdentifiers" in summary:
        aliases = summary.pop("alternateIdentifiers")
        summary.setdefault("datasetAliases", aliases)
    if isinstance(out.get("revisions"), list):
        out["revisions"] = [_revision(r, notes) for r in out["revisions"]]
    origin = _d(out.get("provenance")).get("origin")
    if isinstance(origin, dict):
        subtypes = origin.pop("datasetSubType", None)
        origin["datasetType"] = E.group_dataset_types(origin.get("datasetType"), subtypes, notes)
    if notes:
        documentation = out.get("documentation")
        if isinstance(documentation, dict):
            documentation["description"] = E.with_notes(documentation.get("description"), notes)
        elif documentation is None:
            out["documentation"] = {"description": E.with_notes(None, notes)}
    return out


def _revision(rev: Json, notes: list[str]) -> Json:
    """3.0.0 ``UrlV2`` (host-name pattern, scheme optional, several lines allowed) -> a URI or null."""
    if not isinstance(rev, dict) or rev.get("url") is None:
        return rev
    url = rev["url"]
    tokens = url.split() if isinstance(url, str) else []
    fixed = _as_uri(tokens[0]) if tokens else None
    if not fixed or len(tokens) > 1:
        E.note(notes, f"Revision {E.render(rev.get('version'))} URL", url)
    return {**rev, "url": fixed}
