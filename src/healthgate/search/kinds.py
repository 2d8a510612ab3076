"""What each kind of record declares to search: its facets, and how its subject ids read.

A domain that wants its records searchable declares a ``Kind`` in its own package (datasets: in
``catalogue/indexing.py``), registers it with ``register`` when that module is imported, names the module in
``PROVIDERS`` so search can find it, and feeds entries through ``search.index.put`` / ``withdraw``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# kind -> the module that declares it (imported on first use)
PROVIDERS = {"dataset": "healthgate.catalogue.indexing"}
PROVIDERS["data_use"] = "healthgate.register.indexing"  # the public data use register

Row = Mapping[str, Any]  # an entry as the snapshot reads it: its columns, and ``data`` (a dict)


def _same(value: str) -> str | None:
    return value


@dataclass(frozen=True)
class FacetSpec:
    """One facet of a kind.

    ``read`` gives an entry's raw values; ``normalise`` turns one into the value the facet counts and shows
    (its label), or None to leave it out of the facet (the record keeps its original text); labels with the
    same ``fold`` (say, ignoring case and punctuation) are one value, shown by one of their spellings. ``order`` is "count" (commonest first, then by label) or the
    fixed list of labels in the order shown. Past ``limit`` values a facet offers "more"."""

    name: str
    label: str
    read: Callable[[Row], Iterable[Any]]
    multi: bool = True
    normalise: Callable[[str], str | None] = _same
    fold: Callable[[str], str] | None = None  # labels with the same fold(label) are one value
    order: str | Sequence[str] = "count"
    limit: int | None = None

    def canonical(self, value: Any) -> str | None:
        """The label this raw value counts under (None: not a facet value)."""
        if not isinstance(value, str) or not value.strip():
            return None
        return self.normalise(" ".join(value.split()))

    def key(self, label: str) -> str:
        return self.fold(label) if self.fold else label


@dataclass(frozen=True)
class Kind:
    name: str
    facets: tuple[FacetSpec, ...]
    subject: Callable[[str], Any] = str  # a subject id as the kind's hits carry it (datasets: a UUID)
    label: str = "records"  # plural, for messages ("no datasets match")
    facet_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facet_names", tuple(f.name for f in self.facets))

    def facet(self, name: str) -> FacetSpec:
        return self.facets[self.facet_names.index(name)]


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    _KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    kind = _KINDS.get(name)
    if kind is None and name in PROVIDERS:
        importlib.import_module(PROVIDERS[name])
        kind = _KINDS.get(name)
    if kind is None:
        raise KeyError(f"no search kind {name!r}")
    return kind
