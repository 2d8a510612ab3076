"""The HDR UK metadata standard: detect a document's schema version and validate it.

Validation uses jsonschema-rs: it reports every error, validates formats (dates, e-mail, URIs), runs
thousands of documents a second, and matches patterns with a linear-time regex engine, so the official
3.0.0 schema's backtracking URL pattern cannot hang a worker on a hostile string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import jsonschema_rs

from healthgate.catalogue.standard._gc import paused_gc
from healthgate.errors import FieldError, Invalid

# Every version HDR UK has published; each document is validated against its own version's official schema.
SCHEMA_VERSIONS = ("2.0.2", "2.1.0", "2.1.2", "2.1.3", "2.2.0", "2.2.1", "3.0.0", "4.0.0")
CANONICAL = "4.0.0"
# Versions accepted on input and the official schema each is checked against (2.0.0/2.0.1 and 2.1.1 were never
# published as schemas of their own: their documents fit 2.0.2 and 2.1.2).
ALIASES = {**{v: v for v in SCHEMA_VERSIONS}, "2.0.0": "2.0.2", "2.0.1": "2.0.2", "2.1.1": "2.1.2"}
ENVELOPE_KEYS = ("schemaVersion", "schema_version")
_SCHEMA_URL_VERSION = re.compile(r"/(\d+\.\d+\.\d+)/")


@cache
def schema(version: str) -> dict[str, Any]:
    text = resources.files("healthgate.catalogue.standard").joinpath(f"schemas/{version}.schema.json").read_text()
    return json.loads(text)


@cache
def _validator(version: str) -> Any:
    return jsonschema_rs.validator_for(schema(version), validate_formats=True)  # 2.0.2 and 2.1.0 are draft-07


def normalise_version(value: object, path: str = "$.schemaVersion") -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("missing schema version", [FieldError(path, "schema version is missing or empty")])
    v = value.strip().removeprefix("v")
    if v not in ALIASES:
        raise Invalid(
            "unknown schema version",
            [FieldError(path, f"unknown HDR UK schema version {value!r}; supported: {', '.join(ALIASES)}")],
        )
    return ALIASES[v]


@dataclass(frozen=True)
class Submission:
    """A metadata document with the schema version it claims or was detected to have."""

    document: dict[str, Any]
    schema_version: str
    detected: bool


def unwrap(payload: object, schema_version: str | None = None) -> Submission:
    """Accept a bare HDR UK document or an envelope ``{"schemaVersion": "3.0.0", "metadata": {...}}``.

    An explicit ``schema_version`` argument wins; otherwise the envelope's; otherwise detection.
    """
    if not isinstance(payload, dict):
        raise Invalid("not a metadata document",
                      [FieldError("$", f"expected a JSON object, got {type(payload).__name__}")])
    doc: object = payload
    claimed: object = None
    if "metadata" in payload and "summary" not in payload:
        doc = payload["metadata"]
        claimed = next((payload[k] for k in ENVELOPE_KEYS if k in payload), None)
        if claimed is None and isinstance(payload.get("$schema"), str):
            m = _SCHEMA_URL_VERSION.search(payload["$schema"])
            claimed = m.group(1) if m else payload["$schema"]
        if not isinstance(doc, dict):
            raise Invalid("not a metadata document", [FieldError("$.metadata", "expected a JSON object")])
        # No schemaVersion (how HDR UK's own gateway wraps documents): detected from the document inside.
    if isinstance(doc, dict) and "@schema" in doc:
        # The HDR UK Gateway's exports (2020 on) mark each document with the URL of its schema: a marker, like
        # an envelope's $schema, not part of the document (the official schemas do not allow it).
        marker = doc["@schema"]
        doc = {k: v for k, v in doc.items() if k != "@schema"}
        found = _GATEWAY_SCHEMA.search(marker) if isinstance(marker, str) else None
        if claimed is None and found and found.group(1) in ALIASES:
            claimed = found.group(1)
    if not isinstance(doc, dict):  # (the envelope's metadata was checked above)
        raise Invalid("not a metadata document", [FieldError("$.metadata", "expected a JSON object")])
    if schema_version is not None:
        return Submission(doc, normalise_version(schema_version, "schema_version"), False)
    if claimed is not None:
        return Submission(doc, normalise_version(claimed), False)
    return Submission(doc, detect_version(doc, "$.metadata" if doc is not payload else "$"), True)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# Fields that exist in one range of versions only (from the official schemas, compared version by version).
_PUBLISHER_ACCESS = ("accessRights", "accessService", "accessRequestCost", "deliveryLeadTime", "dataUseLimitation",
                     "dataUseRequirements")  # on the publisher in 2.0.x and 2.1.0 only
_COVERAGE_2_2 = ("gender", "biologicalsamples", "psychological", "physical", "anthropometric", "lifestyle",
                 "socioeconomic")  # new in 2.2.0, gone in 3.0.0
_GATEWAY_SCHEMA = re.compile(r"(\d+\.\d+\.\d+)")


def detect_version(doc: dict[str, Any], where: str = "$") -> str:
    """Tell the HDR UK version of a bare document from the fields only some versions have, falling back
    to the version it fits best."""
    summary = doc.get("summary")
    if not isinstance(summary, dict):
        raise Invalid(
            "missing schema version",
            [FieldError(f"{where}.summary", "cannot tell the HDR UK schema version: no summary section; "
                        "send {\"schemaVersion\": ..., \"metadata\": ...} or say schema_version")],
        )
    provenance = _dict(doc.get("provenance"))
    coverage = _dict(doc.get("coverage"))
    temporal = _dict(provenance.get("temporal"))
    if ("publisher" in summary or "typicalAgeRange" in coverage or "accrualPeriodicity" in temporal
            or isinstance(doc.get("structuralMetadata"), list) or "tissuesSampleCollection" in doc):
        return _detect_2(doc, summary, coverage, temporal)
    origin = _dict(provenance.get("origin"))
    # Fields only one version has decide; the shape of datasetType (strings in 3.0.0, objects in 4.0.0) only
    # breaks a tie, since even the official 4.0.0 example writes it as strings.
    if "datasetAliases" in summary:
        return "4.0.0"
    if "alternateIdentifiers" in summary or "datasetSubType" in origin:
        return "3.0.0"
    types = origin.get("datasetType")
    if isinstance(types, list) and types:
        return "4.0.0" if isinstance(types[0], dict) else "3.0.0"
    candidates = ("4.0.0", "3.0.0", "2.1.2")  # ties go to the newest
    if any(_validator(v).is_valid(doc) for v in candidates):
        return next(v for v in candidates if _validator(v).is_valid(doc))
    counts = {v: len(_validator(v).evaluate(doc).errors()) for v in candidates}
    return min(counts, key=lambda v: counts[v])


def _detect_2(doc: dict[str, Any], summary: dict[str, Any], coverage: dict[str, Any],
              temporal: dict[str, Any]) -> str:
    """Which 2.x: the HDR UK Gateway's ``@schema`` marker if it names a version, else the fields that came
    and went: publisher access fields (2.0.x, 2.1.0), ``publishingFrequency`` (2.1.3 on), the 2.2 additions
    (summary population size and dataset type, coverage lists, tissue samples) and 2.2.1's additions."""
    marker = doc.get("@schema")
    if isinstance(marker, str) and (m := _GATEWAY_SCHEMA.search(marker)) and m.group(1) in ALIASES:
        return ALIASES[m.group(1)]
    access = _dict(_dict(doc.get("accessibility")).get("access"))
    linkage = _dict(doc.get("enrichmentAndLinkage"))
    if ("tissuesSampleCollection" in doc or any(k in coverage for k in _COVERAGE_2_2)
            or any(k in summary for k in ("populationSize", "datasetType", "datasetSubType"))):
        return "2.2.1" if "accessServiceCategory" in access or "syntheticDataWebLink" in linkage else "2.2.0"
    if "accessServiceCategory" in access or "syntheticDataWebLink" in linkage:
        return "2.2.1"
    if "publishingFrequency" in temporal:
        return "2.1.3"
    publisher = _dict(summary.get("publisher"))
    if any(k in publisher for k in _PUBLISHER_ACCESS) or "@schema" in doc:
        return "2.1.0" if "structuralMetadata" in doc else "2.0.2"
    return "2.1.2"


@lru_cache(maxsize=4096)
def _json_path(parts: tuple[str | int, ...]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if re.fullmatch(r"[A-Za-z_][\w-]*", p) else f"[{p!r}]")
    return out


def _is_null_branch_message(message: str) -> bool:
    return message.endswith('is not of type "null"')


def _is_null_branch(err: Any) -> bool:
    return _is_null_branch_message(err.message)


def _leaves(err: Any) -> Iterator[Any]:
    """``err``, or for an anyOf/oneOf error the errors of the branch that says most about what is wrong
    (the one that got furthest into the instance), recursively."""
    kind = err.kind
    if type(kind).__name__ in ("AnyOf", "OneOfNotValid") and getattr(kind, "context", None):
        branches = [[e for e in b if not _is_null_branch(e)] for b in kind.context]
        branches = [b for b in branches if b]
        if branches:
            best = max(branches, key=lambda b: (max(len(e.instance_path) for e in b), -len(b)))
            for e in best:
                yield from _leaves(e)
            return
    yield err


@lru_cache(maxsize=256)
def _allowed(options: str) -> str:
    return ", ".join(json.dumps(o) for o in json.loads(options))


def _explain(err: Any) -> Iterator[FieldError]:
    """Precise errors for one jsonschema-rs error (not an anyOf/oneOf: see ``_leaves``)."""
    kind = err.kind
    name = type(kind).__name__
    path = tuple(err.instance_path)
    if name == "Required":
        prop = re.match(r'"?(.*?)"? is a required property', err.message)
        yield FieldError(_json_path((*path, prop.group(1) if prop else "?")), "required field is missing")
        return
    if name == "AdditionalProperties":
        for u in getattr(kind, "unexpected", None) or []:
            yield FieldError(_json_path((*path, u)), "unknown field, not part of the schema")
        return
    message = err.message
    if name == "Enum" and isinstance(getattr(kind, "options", None), list):
        message = (f"{json.dumps(err.instance)[:80]} is not allowed; use one of: "
                   + _allowed(json.dumps(kind.options)))
    if len(message) > 300:
        message = message[:297] + "..."
    yield FieldError(_json_path(path), message)


def _field_path(err: Any) -> str:
    """Where ``err`` is, without array indexes: errors beyond the listed ones are counted per field."""
    return _json_path(tuple(p for p in err.instance_path if not isinstance(p, int)))


def _weight(err: Any) -> int:
    """How many errors ``_explain`` would make of ``err`` (without making them)."""
    if type(err.kind).__name__ == "AdditionalProperties":
        return len(getattr(err.kind, "unexpected", None) or []) or 1
    return 1


MAX_ERRORS = 1000  # listed one by one; the rest are counted per field
MAX_PER_FIELD = 100  # listed for any one field (its items and sub-fields together)
# Up to this many raw errors, each is explained from jsonschema-rs's structured errors (anyOf branches weighed,
# allowed values listed). Those cost tens of microseconds each to hand over, so a document with more errors
# than this (only a hostile or machine-made one has) gets the flat error list, which costs a microsecond each.
RICH_ERRORS = 5000


class _Collector:
    """The first ``limit`` distinct errors (at most ``per_field`` of them in any one field, so a flood in one
    field cannot hide the others), and how many more there are per field."""

    def __init__(self, limit: int, per_field: int) -> None:
        self.limit = limit
        self.per_field = per_field
        self.errors: list[FieldError] = []
        self.seen: set[tuple[str, str]] = set()
        self.listed: dict[str, int] = {}
        self.more: dict[str, int] = {}

    def room(self, where: str) -> bool:
        return len(self.errors) < self.limit and self.listed.get(where, 0) < self.per_field

    def add(self, where: str, fe: FieldError) -> None:
        if not self.room(where):
            self.count(where)
        elif (fe.path, fe.message) not in self.seen:
            self.seen.add((fe.path, fe.message))
            self.errors.append(fe)
            self.listed[where] = self.listed.get(where, 0) + 1

    def count(self, where: str, n: int = 1) -> None:
        self.more[where] = self.more.get(where, 0) + n

    def result(self) -> list[FieldError]:
        self.errors.sort(key=lambda e: e.path)
        self.errors.extend(
            FieldError(where, f"{count:,} more errors here (in this field, its items or its fields) are not "
                              f"listed; fix the ones listed and validate again")
            for where, count in sorted(self.more.items()))
        return self.errors


def _pointer(location: str) -> tuple[str | int, ...]:
    """A JSON pointer ("/summary/keywords/0") as path parts; all-digit parts read as array indexes."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in location.split("/")[1:]]
    return tuple(int(p) if p.isdigit() else p for p in parts)


_POINTER_INDEX = re.compile(r"/\d+(?=/|$)")


@lru_cache(maxsize=4096)
def _field_of_pointer(location: str) -> str:
    return _json_path(tuple(p for p in _pointer(location) if not isinstance(p, int)))


def _flat_error(parts: tuple[str | int, ...], error: dict[str, Any]) -> FieldError:
    message: str = error["error"]
    if str(error.get("schemaLocation", "")).endswith("/required"):
        prop = re.match(r'"?(.*?)"? is a required property', message)
        return FieldError(_json_path((*parts, prop.group(1) if prop else "?")), "required field is missing")
    return FieldError(_json_path(parts), message if len(message) <= 300 else message[:297] + "...")


def _more_values_than(doc: object, n: int) -> bool:
    """Whether ``doc`` holds more than ``n`` JSON values (stops counting there)."""
    stack = [doc]
    count = 0
    while stack:
        v = stack.pop()
        count += 1
        if count > n:
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def validate(doc: object, version: str, *, limit: int = MAX_ERRORS, values: int | None = None) -> list[FieldError]:
    """Every schema error of ``doc`` against the official schema of ``version``; [] when valid.

    The first ``limit`` errors are listed one by one; any beyond are counted, one summary error per field
    ("... more errors here"), so a hostile document cannot make an answer much larger than itself and quality
    scoring still sees every field that has errors. Linear in the size of the document. ``values``: how many
    JSON values ``doc`` holds, when the caller already knows (it saves counting them)."""
    validator = _validator(ALIASES.get(version, version))
    found = _Collector(limit, MAX_PER_FIELD)
    many = values > RICH_ERRORS if values is not None else _more_values_than(doc, RICH_ERRORS)
    rich: list[Any] | None
    if not many:  # a document of few values cannot have many errors: the usual case, kept cheap
        rich = list(validator.iter_errors(doc))
    else:
        with paused_gc():
            flat = validator.evaluate(doc).errors()
            rich = list(validator.iter_errors(doc)) if len(flat) <= RICH_ERRORS else None
    if rich is not None:
        for err in rich:
            for leaf in _leaves(err):
                where = _field_path(leaf)
                if not found.room(where):
                    found.count(where, _weight(leaf))
                    continue
                for fe in _explain(leaf):
                    found.add(where, fe)
        return found.result()
    for error in flat:
        if _is_null_branch_message(error["error"]):
            continue
        location = error["instanceLocation"]
        where = _field_of_pointer(_POINTER_INDEX.sub("", location))
        if found.room(where):
            found.add(where, _flat_error(_pointer(location), error))
        else:
            found.count(where)
    return found.result()
