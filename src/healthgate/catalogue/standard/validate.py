"""The HDR UK metadata standard: detect a document's schema version and validate it.

Validation uses jsonschema-rs: it reports every error, validates formats (dates, e-mail, URIs), runs
thousands of documents a second, and matches patterns with a linear-time regex engine, so the official
3.0.0 schema's backtracking URL pattern cannot hang a worker on a hostile string.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import jsonschema_rs

from healthgate.errors import FieldError, Invalid

SCHEMA_VERSIONS = ("2.1.2", "3.0.0", "4.0.0")
CANONICAL = "4.0.0"
# Versions accepted on input and the official schema each is checked against.
ALIASES = {"2.1.0": "2.1.2", "2.1.1": "2.1.2", "2.1.2": "2.1.2", "3.0.0": "3.0.0", "4.0.0": "4.0.0"}
ENVELOPE_KEYS = ("schemaVersion", "schema_version")
_SCHEMA_URL_VERSION = re.compile(r"/(\d+\.\d+\.\d+)/")


@cache
def schema(version: str) -> dict[str, Any]:
    text = resources.files("healthgate.catalogue.standard").joinpath(f"schemas/{version}.schema.json").read_text()
    return json.loads(text)


@cache
def _validator(version: str) -> Any:
    return jsonschema_rs.Draft202012Validator(schema(version), validate_formats=True)


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
        if claimed is None and schema_version is None:
            raise Invalid("missing schema version",
                          [FieldError("$.schemaVersion", "an envelope with metadata must say its schemaVersion")])
    if schema_version is not None:
        return Submission(doc, normalise_version(schema_version, "schema_version"), False)
    if claimed is not None:
        return Submission(doc, normalise_version(claimed), False)
    return Submission(doc, detect_version(doc), True)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def detect_version(doc: dict[str, Any]) -> str:
    """Tell the HDR UK version of a bare document from the fields only one version has,
    falling back to the version it fits best."""
    summary = doc.get("summary")
    if not isinstance(summary, dict):
        raise Invalid(
            "missing schema version",
            [FieldError("$.summary", "cannot tell the HDR UK schema version: no summary section; "
                        "send {\"schemaVersion\": ..., \"metadata\": ...} or say schema_version")],
        )
    provenance = _dict(doc.get("provenance"))
    coverage = _dict(doc.get("coverage"))
    temporal = _dict(provenance.get("temporal"))
    if ("publisher" in summary or "typicalAgeRange" in coverage or "accrualPeriodicity" in temporal
            or isinstance(doc.get("structuralMetadata"), list)):
        return "2.1.2"
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
    counts = {v: sum(1 for _ in _validator(v).iter_errors(doc)) for v in reversed(SCHEMA_VERSIONS)}
    return min(counts, key=lambda v: counts[v])  # ties go to the newest (dict order)


@lru_cache(maxsize=4096)
def _json_path(parts: tuple[str | int, ...]) -> str:
    out = "$"
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if re.fullmatch(r"[A-Za-z_][\w-]*", p) else f"[{p!r}]")
    return out


def _is_null_branch(err: Any) -> bool:
    return err.message.endswith('is not of type "null"')


def _explain(err: Any) -> list[FieldError]:
    """One or more precise errors for a jsonschema-rs error, descending into anyOf/oneOf branches."""
    kind = err.kind
    name = type(kind).__name__
    path = list(err.instance_path)
    if name in ("AnyOf", "OneOfNotValid") and getattr(kind, "context", None):
        branches = [[e for e in b if not _is_null_branch(e)] for b in kind.context]
        branches = [b for b in branches if b]
        if branches:
            # The branch that got furthest into the instance says most about what is wrong.
            best = max(branches, key=lambda b: (max(len(list(e.instance_path)) for e in b), -len(b)))
            out: list[FieldError] = []
            for e in best:
                out.extend(_explain(e))
            return out
    if name == "Required":
        prop = re.match(r'"?(.*?)"? is a required property', err.message)
        return [FieldError(_json_path((*path, prop.group(1) if prop else "?")), "required field is missing")]
    if name == "AdditionalProperties":
        unexpected = getattr(kind, "unexpected", None) or []
        return [FieldError(_json_path((*path, u)), "unknown field, not part of the schema") for u in unexpected]
    message = err.message
    if name == "Enum" and isinstance(getattr(kind, "options", None), list):
        message = f"{json.dumps(err.instance)[:80]} is not allowed; use one of: " + ", ".join(
            json.dumps(o) for o in kind.options)
    if len(message) > 300:
        message = message[:297] + "..."
    return [FieldError(_json_path(tuple(path)), message)]


def validate(doc: object, version: str) -> list[FieldError]:
    """Every schema error of ``doc`` against the official schema of ``version``; [] when valid."""
    validator = _validator(ALIASES.get(version, version))
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for err in validator.iter_errors(doc):
        for fe in _explain(err):
            if (fe.path, fe.message) not in seen:
                seen.add((fe.path, fe.message))
                errors.append(fe)
    errors.sort(key=lambda e: e.path)
    return errors
