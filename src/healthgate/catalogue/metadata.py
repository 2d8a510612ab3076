"""From a submitted document to everything a version stores: version detection, translation up to the
canonical HDR UK 4.0.0 form, validation, quality and extracted fields. Pure: no database."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from healthgate.catalogue import quality
from healthgate.catalogue.standard import translate
from healthgate.catalogue.standard._gc import paused_gc
from healthgate.catalogue.standard.extract import Extracted, extract
from healthgate.catalogue.standard.validate import CANONICAL, unwrap, validate
from healthgate.config import DEFAULT_MAX_DOCUMENT_BYTES
from healthgate.errors import FieldError, Invalid, TooLarge

MAX_DOCUMENT_BYTES = DEFAULT_MAX_DOCUMENT_BYTES  # the default of Settings.max_document_bytes


@dataclass
class Checked:
    """A submitted document, checked."""

    source: dict[str, Any]  # as submitted (envelope removed)
    schema_version: str  # the version it was read as
    canonical: dict[str, Any]  # HDR UK 4.0.0 form
    errors: list[FieldError]  # schema errors, against ``schema_version``, paths into ``source``
    canonical_errors: list[FieldError]  # the same, against 4.0.0, paths into ``canonical``
    quality: dict[str, Any]  # score and medallion (no per-field table: see ``report``)
    extracted: Extracted

    @property
    def valid(self) -> bool:
        return not self.errors

    def report(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "schema_version": self.schema_version,
            "errors": [e.as_dict() for e in self.errors],
            "quality": quality.assess(self.canonical, self.canonical_errors),
        }


def check_size(payload: object, limit: int | None = None, size: int | None = None) -> None:
    """Refuse documents over ``limit`` bytes (the caller passes ``Settings.max_document_bytes``; None: its
    default); ``size`` when the caller already knows it (file, request body)."""
    if limit is None:
        limit = MAX_DOCUMENT_BYTES
    if size is None:
        try:
            size = len(orjson.dumps(payload))
        except TypeError:  # not plain JSON (e.g. huge integers): measure the slow way
            size = len(json.dumps(payload, separators=(",", ":"), default=str).encode())
    if size > limit:
        raise TooLarge("document too large", [FieldError("$", f"document is {size} bytes; the limit is {limit}")])


def check(payload: object, schema_version: str | None = None) -> Checked:
    """Detect, translate, validate and score. Raises Invalid only when the input is not a metadata
    document at all (not an object, unknown schema version); schema errors are returned, not raised.
    Linear in the size of the document (benchmarks/hostile.py measures the worst documents we know)."""
    with paused_gc():
        return _check(payload, schema_version)


def _check(payload: object, schema_version: str | None) -> Checked:
    values = check_values(payload)
    sub = unwrap(payload, schema_version)
    errors = validate(sub.document, sub.schema_version, values=values)
    if sub.schema_version == CANONICAL:
        canonical = sub.document
        canonical_errors = errors
    else:
        canonical = translate.upgrade(sub.document, sub.schema_version)
        # Translation keeps the document's shape: about as many values (a guess only saves counting them).
        canonical_errors = validate(canonical, CANONICAL, values=2 * values)
    return Checked(
        source=sub.document,
        schema_version=sub.schema_version,
        canonical=canonical,
        errors=errors,
        canonical_errors=canonical_errors,
        quality=quality.assess(canonical, canonical_errors, breakdown=False),
        extracted=extract(canonical),
    )


class _NonFinite:
    """Stands in for ``NaN``/``Infinity``/``-Infinity`` while parsing, so the walk can say where they were."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


# A \uD800-\uDFFF escape: the only way JSON text that decoded as UTF-8 can hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_KEY_SURROGATE = "this field name holds an unpaired surrogate escape (\\ud800-\\udfff): not Unicode text"
_PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]*")


def parse_json(raw: bytes | str, where: str = "$") -> Any:
    """JSON text to a value, or Invalid naming where it is wrong: the line and column of a syntax error, the
    JSON path of an unpaired surrogate escape (not Unicode text: it cannot be stored or sent on) or of
    ``NaN``/``Infinity`` (not JSON: they would be stored as null). Linear in the size of the text."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Invalid("not UTF-8", [FieldError(where, f"not UTF-8 text (byte {exc.start})")]) from None
    constants: list[_NonFinite] = []

    def constant(text: str) -> _NonFinite:
        constants.append(_NonFinite(text))
        return constants[-1]

    def number(text: str) -> float | _NonFinite:
        f = float(text)
        return f if math.isfinite(f) else constant(text)  # 1e999 overflows to infinity

    try:
        with paused_gc():
            value = json.loads(raw, parse_constant=constant, parse_float=number)
    except json.JSONDecodeError as exc:
        raise Invalid("malformed JSON", [FieldError(where, f"malformed JSON at line {exc.lineno} column {exc.colno}: "
                                                           f"{exc.msg}")]) from None
    except (RecursionError, ValueError) as exc:  # absurd nesting, integers of thousands of digits
        raise Invalid("unreadable JSON", [FieldError(where, f"cannot read this JSON: {str(exc)[:120]}")]) from None
    if constants or _SURROGATE_ESCAPE.search(raw):
        errors = _not_text_or_not_numbers(value, where)
        if errors:
            raise Invalid("the JSON holds values healthgate cannot accept", errors)
    return value


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{json.dumps(key)}]"


def _not_text_or_not_numbers(value: object, where: str) -> list[FieldError]:
    """The first few unpaired surrogates and NaN/Infinity in ``value``, by JSON path (one pass)."""
    errors: list[tuple[str, str]] = []
    stack: list[tuple[object, str]] = [(value, "$")]
    while stack and len(errors) < 20:
        v, path = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if _SURROGATE.search(k):
                    errors.append((_child(path, k), _KEY_SURROGATE))
                stack.append((x, _child(path, k)))
        elif isinstance(v, list):
            stack.extend((x, f"{path}[{i}]") for i, x in enumerate(v))
        elif isinstance(v, str) and _SURROGATE.search(v):
            errors.append((path, "holds an unpaired surrogate escape (\\ud800-\\udfff): not Unicode text"))
        elif isinstance(v, _NonFinite):
            errors.append((path, f"{v.text[:40]} is not a finite number; send a number or null"))
    errors.sort()
    if where == "$":
        return [FieldError(p, m) for p, m in errors]
    return [FieldError(where, f"at {p}: {m}") for p, m in errors]


MAX_DEPTH = 64
INT64 = 2**63


_Where = tuple[Any, str | int] | None  # (the parent's _Where, key or index); None at the root


def _path_of(where: _Where) -> str:
    """The JSON path of a place, built only when an error needs it (building one per value costs more than
    everything else the walk does)."""
    keys: list[str | int] = []
    while where is not None:
        where, key = where
        keys.append(key)
    path = "$"
    for key in reversed(keys):
        path = f"{path}[{key}]" if isinstance(key, int) else _child(path, key)
    return path


def check_values(value: object) -> int:
    """Refuse what no metadata document needs and storage cannot keep: nesting deeper than MAX_DEPTH,
    integers beyond 64 bits, NUL characters (PostgreSQL text cannot hold them), unpaired surrogates (not
    Unicode text) and non-finite numbers (not JSON). For documents that did not come through parse_json.
    Returns how many values the document holds. One pass, linear in the size of the document."""
    errors: list[tuple[_Where, str]] = []
    stack: list[tuple[object, _Where, int]] = [(value, None, 0)]
    count = 0
    while stack and len(errors) < 20:
        v, where, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            errors.append((where, f"nested deeper than {MAX_DEPTH} levels"))
        elif isinstance(v, dict):
            for k, x in v.items():
                if "\x00" in k:
                    errors.append((where, "a field name contains a NUL character"))
                if _SURROGATE.search(k):
                    errors.append(((where, k), "this field name holds an unpaired surrogate"))
                stack.append((x, (where, k), depth + 1))
        elif isinstance(v, list):
            stack.extend((x, (where, i), depth + 1) for i, x in enumerate(v))
        elif isinstance(v, str):
            if "\x00" in v:
                errors.append((where, "contains a NUL character"))
            if _SURROGATE.search(v):
                errors.append((where, "holds an unpaired surrogate: not Unicode text"))
        elif isinstance(v, float) and not math.isfinite(v):
            errors.append((where, f"{v} is not a finite number; send a number or null"))
        elif isinstance(v, int) and not isinstance(v, bool) and not -INT64 <= v < INT64:
            errors.append((where, "integer too large"))
    if errors:
        found = [FieldError(_path_of(where), message) for where, message in errors]
        raise Invalid("the document cannot be stored", sorted(found, key=lambda e: e.path))
    return count


def require_title(checked: Checked) -> None:
    summary = checked.canonical.get("summary")
    title = summary.get("title") if isinstance(summary, dict) else None
    if not isinstance(title, str) or not title.strip():
        raise Invalid("a dataset needs a title", [FieldError("$.summary.title", "a dataset needs a title")])
