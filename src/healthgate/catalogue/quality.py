"""Metadata quality, after HDR UK: score = 50 x (weighted completeness + (1 - weighted schema error rate)).

Weights live in ``quality_weights.json``. The per-field breakdown says what each field costs the score, so a
custodian can see which fix gains most.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from healthgate.errors import FieldError

MEDALLIONS = ((90.0, "platinum"), (80.0, "gold"), (70.0, "silver"), (60.0, "bronze"))
NOT_RATED = "not rated"


@cache
def weights() -> dict[str, float]:
    raw = json.loads(resources.files("healthgate.catalogue").joinpath("quality_weights.json").read_text())
    return {k: float(v) for k, v in raw["fields"].items()}


@cache
def _tree() -> dict[str, Any]:
    """The weighted fields as a tree of section names, leaves holding the field's dotted name."""
    tree: dict[str, Any] = {}
    for f in weights():
        *sections, last = f.split(".")
        node = tree
        for part in sections:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise TypeError(f"quality weight {f!r} nests inside another weighted field")
        node[last] = f
    return tree


def _collect_filled(doc: object, tree: dict[str, Any], out: set[str]) -> None:
    if not isinstance(doc, dict):
        return
    for key, sub in tree.items():
        value = doc.get(key)
        if value is None:
            continue
        if isinstance(sub, str):
            if _filled(value):
                out.add(sub)
        else:
            _collect_filled(value, sub, out)


def filled_fields(doc: object) -> set[str]:
    out: set[str] = set()
    _collect_filled(doc, _tree(), out)
    return out


def medallion(score: float) -> str:
    return next((name for floor, name in MEDALLIONS if score >= floor), NOT_RATED)


def _filled(value: object) -> bool:
    if value is None or value == -1:  # -1: HDR UK's "not reported" (e.g. populationSize)
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return any(_filled(v) for v in (value.values() if isinstance(value, dict) else value))
    return True


_INDEX = re.compile(r"\[[^\]]*\]")


def _field_of(error_path: str, fields: dict[str, float]) -> str | None:
    """The weighted field an error path ($.summary.keywords[2]) belongs to: the longest matching prefix."""
    dotted = _INDEX.sub("", error_path.removeprefix("$")).strip(".")
    while dotted:
        if dotted in fields:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def assess(doc: dict[str, Any], errors: list[FieldError], *, breakdown: bool = True) -> dict[str, Any]:
    """Score a canonical (4.0.0) document given its schema errors; ``breakdown`` adds the per-field table."""
    w = weights()
    total = sum(w.values())
    errors_by_field: dict[str, list[str]] = {}
    for e in errors:
        f = _field_of(e.path, w)
        if f is not None:
            errors_by_field.setdefault(f, []).append(e.message)
    filled_set = filled_fields(doc)
    filled_weight = sum(v for f, v in w.items() if f in filled_set)  # in file order: deterministic rounding
    error_weight = sum(v for f, v in w.items() if f in errors_by_field)
    rows: list[dict[str, Any]] = []
    for f, weight in (w.items() if breakdown else ()):
        filled = f in filled_set
        errs = errors_by_field.get(f)
        lost = 50 * weight / total * ((0 if filled else 1) + (1 if errs else 0))
        rows.append({"field": f, "weight": weight, "filled": filled, "errors": errs or [],
                     "points_lost": round(lost, 2)})
    completeness = filled_weight / total
    error_rate = error_weight / total
    score = round(50 * (completeness + (1 - error_rate)), 2)
    result: dict[str, Any] = {
        "score": score,
        "medallion": medallion(score),
        "weighted_completeness": round(completeness, 4),
        "weighted_error_rate": round(error_rate, 4),
        "schema_errors": len(errors),
    }
    if breakdown:
        rows.sort(key=lambda b: (-b["points_lost"], b["field"]))
        result["fields"] = rows
    return result
