"""Field-by-field differences between two metadata documents."""

from __future__ import annotations

from typing import Any


def _walk(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _walk(v, f"{path}.{k}", out)
    elif isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", out)
    else:
        out[path] = value  # leaves, and lists of plain values compared whole


def flatten(doc: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _walk(doc, "$", out)
    return out


def diff(old: Any, new: Any) -> list[dict[str, Any]]:
    """``[{path, change: added|removed|changed, old, new}]`` in path order; empty values count as absent."""
    a, b = flatten(old), flatten(new)
    changes = []
    for path in sorted(a.keys() | b.keys()):
        va, vb = a.get(path), b.get(path)
        if va == vb:
            continue
        if va in (None, "", [], {}):
            kind = "added"
        elif vb in (None, "", [], {}):
            kind = "removed"
        else:
            kind = "changed"
        if (va in (None, "", [], {})) and (vb in (None, "", [], {})):
            continue
        changes.append({"path": path, "change": kind, "old": va, "new": vb})
    return changes


def list_delta(old: Any, new: Any) -> tuple[list[Any], list[Any]]:
    """For a list field: the items ``new`` adds and the items it drops, each in its list's order
    (``['a', 'b']`` -> ``['b', 'c']`` gives ``(['c'], ['a'])``). A single value counts as a list of one."""
    before = old if isinstance(old, list) else ([] if old in (None, "") else [old])
    after = new if isinstance(new, list) else ([] if new in (None, "") else [new])
    had = {item_key(x) for x in before}
    has = {item_key(x) for x in after}
    return [x for x in after if item_key(x) not in had], [x for x in before if item_key(x) not in has]


def item_key(value: Any) -> Any:
    """What two list items are compared by: the value itself when hashable, else its repr."""
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)
