"""CKAN datasets (packages, as the CKAN action API's ``package_search`` and ``package_show`` return them) as
HDR UK 4.0.0 metadata documents. Pure: no database, no network.

CKAN's core package fields are read first; then its extras, wherever a site keeps them: the classic
``extras: [{"key", "value"}]`` list (ckanext-dcat's legacy profile: ``contact_email``, ``temporal_start``,
``spatial_text``, ``frequency``, ``language`` ...) or top-level fields of a ckanext-scheming schema
(ckanext-dcat's DCAT-AP 3 and HealthDCAT-AP schemas: ``contact``, ``publisher``, ``temporal_coverage``,
``number_of_unique_individuals``, ``min_typical_age`` ...). Nothing is invented: a field CKAN does not hold
stays absent, and the catalogue's check reports what the record lacks. docs/federation-formats.md lists the
mapping field by field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from healthgate.catalogue.standard.validate import schema as hdruk_schema

ABSTRACT_MAX = 500  # HDR UK 4.0.0 summary.abstract
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_DOI = re.compile(r"(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/[-._;()/:a-zA-Z0-9]+)$")
_EMAIL = re.compile(r"^(?:mailto:)?([^@\s]+@[^@\s]+\.[^@\s]+)$", re.IGNORECASE)
_ISO_COUNTRY = re.compile(r"^[A-Z]{2}(-[A-Z]{2,3})?$")
_MARKDOWN = re.compile(r"(!?\[([^\]]*)\]\([^)]*\))|[*_`#>]+")
_SPACE = re.compile(r"\s+")
# EU "frequency" authority table (and Dublin Core's) -> HDR UK 4.0.0 publishingFrequency
_FREQUENCIES = {
    "static": "Static", "never": "Static", "irreg": "Irregular", "irregular": "Irregular", "unknown": "Irregular",
    "as_needed": "Irregular", "asneeded": "Irregular", "cont": "Continuous", "continuous": "Continuous",
    "update_cont": "Continuous", "realtime": "Continuous", "biennial": "Biennial", "bienniel": "Biennial",
    "annual": "Annual", "yearly": "Annual", "annual_2": "Biannual", "semiannual": "Biannual", "biannual": "Biannual",
    "quarterly": "Quarterly", "bimonthly": "Bimonthly", "monthly": "Monthly", "biweekly": "Biweekly",
    "weekly": "Weekly", "weekly_2": "Twice weekly", "semiweekly": "Twice weekly", "daily": "Daily",
    "other": "Other",
}
# ISO 639-2/B and 639-3 codes (the EU language table's last path segment) -> ISO 639-1, for what is common here
_LANGUAGES = {"eng": "en", "cym": "cy", "wel": "cy", "gla": "gd", "gle": "ga", "fra": "fr", "fre": "fr",
              "deu": "de", "ger": "de", "spa": "es", "ita": "it", "nld": "nl", "dut": "nl", "por": "pt",
              "pol": "pl", "swe": "sv", "dan": "da", "fin": "fi", "nor": "no", "urd": "ur", "ben": "bn",
              "pan": "pa", "ara": "ar", "zho": "zh", "chi": "zh"}
# Wikidata identifier properties of coding systems (HealthDCAT-AP's hasCodingSystem) -> 4.0.0 vocabulary names
_WIKIDATA_CODES = {"P494": "ICD10", "P493": "ICD9", "P5806": "SNOMED CT", "P4338": "LOINC", "P267": "ATC",
                   "P3345": "RXNORM", "P563": "ICDO3"}
_CORE = frozenset((
    "id", "name", "title", "notes", "url", "version", "author", "author_email", "maintainer", "maintainer_email",
    "license_id", "license_title", "license_url", "organization", "owner_org", "tags", "groups", "extras",
    "resources", "metadata_created", "metadata_modified", "state", "private", "type", "num_tags",
    "num_resources", "creator_user_id", "relationships_as_object", "relationships_as_subject", "isopen",
))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value if v not in (None, ""))
    text = str(value).strip()
    return text or None


def _decoded(value: Any) -> Any:
    """An extra's value: CKAN stores lists and objects of scheming fields as JSON text in classic extras."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def extras(package: dict[str, Any]) -> dict[str, Any]:
    """Every extra field of a package, from the ``extras`` list and from scheming's top-level fields."""
    found: dict[str, Any] = {}
    raw = package.get("extras")
    if isinstance(raw, list):
        for e in raw:
            if isinstance(e, dict) and isinstance(e.get("key"), str):
                found[e["key"]] = _decoded(e.get("value"))
    elif isinstance(raw, dict):
        found.update({k: _decoded(v) for k, v in raw.items()})
    for k, v in package.items():
        if k not in _CORE and k not in found:
            found[k] = _decoded(v)
    return found


def _list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [v for v in value if v not in (None, "")]
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return [value]


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "", [], {})), None)


def _email(*values: Any) -> str | None:
    for v in values:
        for item in _list(v):
            if isinstance(item, dict):
                item = item.get("email")
            m = _EMAIL.match(str(item).strip()) if item else None
            if m:
                return m.group(1)
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        f = float(str(value).strip().replace(",", ""))
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**63 else None


def _datetime(value: Any) -> str | None:
    """CKAN's timestamps (naive, in UTC) and DCAT dates as ISO 8601 date-times with a zone."""
    text = _text(value)
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _date(value: Any) -> str | None:
    """A start or end date: ``YYYY-MM-DD`` as given, or a date-time with a zone."""
    text = _text(value)
    if not text:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return text
    if re.fullmatch(r"\d{4}", text):
        return f"{text}-01-01"
    return _datetime(text)


def _semver(value: Any) -> str:
    text = _text(value) or ""
    m = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    if not m:
        return "1.0.0"
    return ".".join(p or "0" for p in m.groups())


def abstract_of(notes: str | None) -> str | None:
    """A short abstract from a CKAN description: its first paragraph, markdown removed, at most 500
    characters (cut at a word, with an ellipsis)."""
    if not notes:
        return None
    para = next((p for p in re.split(r"\n\s*\n", notes) if p.strip()), notes)
    text = _SPACE.sub(" ", _MARKDOWN.sub(lambda m: m.group(2) or "", para)).strip()
    if len(text) <= ABSTRACT_MAX:
        return text or None
    cut = text[:ABSTRACT_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return f"{cut}…"


def _frequency(value: Any) -> str | None:
    text = _text(value)
    if not text:
        return None
    key = text.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].lower().replace("-", "_")
    if key in _FREQUENCIES:
        return _FREQUENCIES[key]
    return next((v for v in set(_FREQUENCIES.values()) if v.lower() == text.lower()), None)


def _languages(value: Any) -> list[str]:
    """ISO 639-1 codes (as 4.0.0 lists them) from codes or EU language table URIs."""
    allowed = set(_enum("LanguageEnum"))
    out: list[str] = []
    for item in _list(value):
        code = str(item).strip().rstrip("/").rsplit("/", 1)[-1].lower()
        code = _LANGUAGES.get(code, code)
        if code in allowed and code not in out:
            out.append(code)
    return out


def _coding_systems(value: Any) -> list[str]:
    """HealthDCAT-AP ``coding_system`` (Wikidata property URIs, or names) as 4.0.0 vocabulary names."""
    names = []
    for item in _list(value):
        key = str(item).strip().rstrip("/").rsplit("/", 1)[-1]
        names.append(_WIKIDATA_CODES.get(key.upper(), key))
    return _in_enum(names, "ControlledVocabularyEnum")


def _enum(name: str) -> list[str]:
    defs = hdruk_schema("4.0.0")["$defs"]
    return [v for v in defs.get(name, {}).get("enum", []) if isinstance(v, str)]


def _in_enum(values: Iterable[Any], name: str) -> list[str]:
    """Values that name a member of a 4.0.0 enumeration (case-insensitively), as the enumeration spells them."""
    allowed = {v.lower(): v for v in _enum(name)}
    out: list[str] = []
    for v in values:
        hit = allowed.get(str(v).strip().rstrip("/").rsplit("/", 1)[-1].lower())
        if hit and hit not in out:
            out.append(hit)
    return out


def _agent(value: Any) -> dict[str, Any]:
    """A scheming agent field (``publisher``/``contact``/``creator``: a dict or a list of them)."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, dict)), None)
    return value if isinstance(value, dict) else {}


def _put(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    if value in (None, "", [], {}):
        return
    for key in path[:-1]:
        doc = doc.setdefault(key, {})
    doc[path[-1]] = value


def to_hdruk(package: dict[str, Any]) -> dict[str, Any]:
    """A CKAN package as an HDR UK 4.0.0 document."""
    ex = extras(package)
    org: dict[str, Any] = package["organization"] if isinstance(package.get("organization"), dict) else {}
    publisher = _agent(ex.get("publisher"))
    contact = _agent(ex.get("contact"))
    doc: dict[str, Any] = {}

    pid = _text(package.get("id"))
    if pid and _UUID.match(pid):
        doc["identifier"] = pid
    doc["version"] = _semver(_first(package.get("version"), ex.get("version")))
    doc["revisions"] = []
    _put(doc, ("issued",), _datetime(_first(ex.get("issued"), package.get("metadata_created"))))
    _put(doc, ("modified",), _datetime(_first(ex.get("modified"), package.get("metadata_modified"))))

    notes = _text(package.get("notes"))
    _put(doc, ("summary", "title"), _text(_first(package.get("title"), package.get("name"))))
    _put(doc, ("summary", "abstract"), _text(ex.get("abstract")) or abstract_of(notes))
    contact_email = _email(ex.get("contact_email"), contact, package.get("maintainer_email"),
                           package.get("author_email"), ex.get("publisher_email"), publisher)
    custodian: dict[str, Any] = {}
    _put(custodian, ("identifier",), _text(_first(ex.get("publisher_uri"), publisher.get("uri"),
                                                  org.get("name") if 2 <= len(str(org.get("name") or "")) <= 50
                                                  else None)))
    _put(custodian, ("name",), _text(_first(org.get("title"), ex.get("publisher_name"), publisher.get("name"),
                                            package.get("author"))))
    logo = _text(org.get("image_display_url") or org.get("image_url"))
    if logo and logo.startswith(("http://", "https://")):
        custodian["logo"] = logo
    _put(custodian, ("contactPoint",), _email(ex.get("publisher_email"), publisher) or contact_email)
    _put(doc, ("summary", "dataCustodian"), custodian)
    _put(doc, ("summary", "contactPoint"), contact_email)
    keywords = [t.get("display_name") or t.get("name") for t in package.get("tags") or [] if isinstance(t, dict)]
    keywords += [k for k in _list(ex.get("keywords")) if isinstance(k, str)]
    _put(doc, ("summary", "keywords"), list(dict.fromkeys(k.strip() for k in keywords if k and k.strip())))
    population = _int(_first(ex.get("number_of_unique_individuals"), ex.get("population_size"),
                             ex.get("number_of_records")))
    _put(doc, ("summary", "populationSize"), population)
    doi = next((m.group(1) for v in (ex.get("doi"), ex.get("identifier"), package.get("url"),
                                     *_list(ex.get("alternate_identifier")))
                if (m := _DOI.search(str(v or "").strip()))), None)
    _put(doc, ("summary", "doiName"), doi)

    _put(doc, ("documentation", "description"), notes)
    media = [r.get("url") for r in package.get("resources") or [] if isinstance(r, dict) and r.get("url")]
    media += [u for u in _list(ex.get("documentation")) if isinstance(u, str)]
    landing = _text(_first(ex.get("landing_page"), package.get("url")))
    if landing and landing.startswith(("http://", "https://")) and not _DOI.search(landing):
        media.insert(0, landing)
    _put(doc, ("documentation", "associatedMedia"), list(dict.fromkeys(media)))

    spatial = _first(ex.get("spatial_text"), *[s.get("text") for s in _list(ex.get("spatial_coverage"))
                                               if isinstance(s, dict)],
                     ex.get("spatial_uri"), *[s.get("uri") for s in _list(ex.get("spatial_coverage"))
                                              if isinstance(s, dict)])
    _put(doc, ("coverage", "spatial"), _text(spatial))
    _put(doc, ("coverage", "typicalAgeRangeMin"), _int(ex.get("min_typical_age")))
    _put(doc, ("coverage", "typicalAgeRangeMax"), _int(ex.get("max_typical_age")))

    temporal = next((t for t in _list(ex.get("temporal_coverage")) if isinstance(t, dict)), {})
    _put(doc, ("provenance", "temporal", "startDate"), _date(_first(ex.get("temporal_start"), temporal.get("start"))))
    _put(doc, ("provenance", "temporal", "endDate"), _date(_first(ex.get("temporal_end"), temporal.get("end"))))
    _put(doc, ("provenance", "temporal", "publishingFrequency"), _frequency(ex.get("frequency")))
    _put(doc, ("provenance", "origin", "purpose"), _in_enum(_list(ex.get("purpose")), "PurposeV2"))

    rights = _text(ex.get("access_rights"))
    licence = " ".join(p for p in (_text(package.get("license_title")), _text(package.get("license_url"))) if p)
    _put(doc, ("accessibility", "access", "accessRights"), rights or (f"Licence: {licence}" if licence else None))
    jurisdiction = [j for j in (str(v).strip().upper() for v in _list(ex.get("jurisdiction")))
                    if _ISO_COUNTRY.match(j)]
    _put(doc, ("accessibility", "access", "jurisdiction"), jurisdiction)
    _put(doc, ("accessibility", "access", "dataController"), _text(ex.get("data_controller")))
    _put(doc, ("accessibility", "access", "dataProcessor"), _text(ex.get("data_processor")))
    formats = [str(r.get("format")).strip() for r in package.get("resources") or []
               if isinstance(r, dict) and _text(r.get("format"))]
    _put(doc, ("accessibility", "formatAndStandards", "format"), list(dict.fromkeys(formats)))
    _put(doc, ("accessibility", "formatAndStandards", "language"), _languages(ex.get("language")))
    _put(doc, ("accessibility", "formatAndStandards", "conformsTo"),
         _in_enum(_list(ex.get("conforms_to")), "StandardisedDataModelsEnum"))
    _put(doc, ("accessibility", "formatAndStandards", "vocabularyEncodingScheme"),
         _coding_systems(ex.get("coding_system")))

    observations = []
    individuals = _int(ex.get("number_of_unique_individuals"))
    records = _int(ex.get("number_of_records"))
    when = (_datetime(_first(ex.get("modified"), package.get("metadata_modified"))) or "")[:10] or None
    if individuals is not None and when:
        observations.append({"observedNode": "Persons", "measuredValue": individuals,
                             "observationDate": when, "measuredProperty": "Count"})
    if records is not None and when:
        observations.append({"observedNode": "Events", "measuredValue": records,
                             "observationDate": when, "measuredProperty": "Count of records"})
    doc["observations"] = observations
    return doc


def title_of(package: dict[str, Any]) -> str | None:
    return _text(_first(package.get("title"), package.get("name")))
