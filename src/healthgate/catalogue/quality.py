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


def medallion(score: float) -> str:
    return next((name for floor, name in MEDALLIONS if score >= floor), NOT_RATED)


def _filled(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return any(_filled(v) for v in (value.values() if isinstance(value, dict) else value))
    return True


def _get(doc: object, dotted: str) -> object:
    cur = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _field_of(error_path: str, fields: list[str]) -> str | None:
    """The weighted field an error path ($.summary.keywords[2]) belongs to: the longest matching prefix."""
    dotted = re.sub(r"\[[^\]]*\]", "", error_path.removeprefix("$")).strip(".")
    best = None
    for f in fields:
        if (dotted == f or dotted.startswith(f + ".")) and (best is None or len(f) > len(best)):
            best = f
    return best


def assess(doc: dict[str, Any], errors: list[FieldError]) -> dict[str, Any]:
    """Score a canonical (4.0.0) document given its schema errors."""
    w = weights()
    fields = list(w)
    total = sum(w.values())
    errors_by_field: dict[str, list[str]] = {}
    for e in errors:
        f = _field_of(e.path, fields)
        if f is not None:
            errors_by_field.setdefault(f, []).append(e.message)
    breakdown = []
    filled_weight = error_weight = 0.0
    for f in fields:
        filled = _filled(_get(doc, f))
        errs = errors_by_field.get(f, [])
        filled_weight += w[f] if filled else 0.0
        error_weight += w[f] if errs else 0.0
        lost = 50 * w[f] / total * ((0 if filled else 1) + (1 if errs else 0))
        breakdown.append({"field": f, "weight": w[f], "filled": filled, "errors": errs, "points_lost": round(lost, 2)})
    completeness = filled_weight / total
    error_rate = error_weight / total
    score = round(50 * (completeness + (1 - error_rate)), 2)
    breakdown.sort(key=lambda b: (-b["points_lost"], b["field"]))
    return {
        "score": score,
        "medallion": medallion(score),
        "weighted_completeness": round(completeness, 4),
        "weighted_error_rate": round(error_rate, 4),
        "schema_errors": len(errors),
        "fields": breakdown,
    }
