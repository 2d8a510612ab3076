"""The GA4GH Data Use Ontology terms healthgate ships (``access/data/duo/duo.csv``, from EBISPOT/DUO,
CC BY 4.0), and the facts about them the file does not hold: which terms are permissions and which are
modifiers, and how the permissions nest (GRU > HMB > DS; POA apart; NRES above all).

Terms are immutable and read once per process (they change only with a new release of the package)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

SOURCE = "EBISPOT/DUO duo.csv (GA4GH Data Use Ontology), CC BY 4.0"

NRES, GRU, HMB, DS, POA = "DUO:0000004", "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011"
# Permissions, broadest first. What each one lets a dataset be used for, as a set of the purpose kinds it
# covers: a purpose fits a permission when its kind is in the set (GRU covers HMB covers DS; POA only POA).
PERMISSIONS: tuple[str, ...] = (NRES, GRU, HMB, DS, POA)
COVERS: dict[str, frozenset[str]] = {
    NRES: frozenset({GRU, HMB, DS, POA}),
    GRU: frozenset({GRU, HMB, DS, POA}),
    HMB: frozenset({HMB, DS}),
    DS: frozenset({DS}),
    POA: frozenset({POA}),
}
# The terms an application may state as its purpose (NRES is a dataset's permission, never a purpose).
PURPOSES: tuple[str, ...] = (GRU, HMB, DS, POA)

NPUNCU, NPU, NCU = "DUO:0000018", "DUO:0000045", "DUO:0000046"
IRB, PUB, COL, GS, MOR, TS = "DUO:0000021", "DUO:0000019", "DUO:0000020", "DUO:0000022", "DUO:0000024", "DUO:0000025"
US, PS, IS, RTN, GSO, NMDS = "DUO:0000026", "DUO:0000027", "DUO:0000028", "DUO:0000029", "DUO:0000016", "DUO:0000015"
RS, CC, NPOA = "DUO:0000012", "DUO:0000043", "DUO:0000044"
MODIFIERS: tuple[str, ...] = (NPUNCU, NPU, NCU, IRB, PUB, COL, GS, MOR, TS, US, PS, IS, RTN, GSO, NMDS, RS, CC, NPOA)
# The two roots of the ontology's tree ("data use permission", "data use modifier"): never set on a dataset.
ROOTS: tuple[str, ...] = ("DUO:0000001", "DUO:0000017")


@dataclass(frozen=True, slots=True)
class Term:
    id: str  # DUO:0000042
    shorthand: str  # GRU ("" for the two roots)
    label: str
    description: str

    @property
    def kind(self) -> str:
        """permission | modifier | root"""
        if self.id in PERMISSIONS:
            return "permission"
        if self.id in MODIFIERS:
            return "modifier"
        return "root"

    @property
    def name(self) -> str:
        """How people see it: ``GRU (general research use)``."""
        return f"{self.shorthand} ({self.label})" if self.shorthand else self.label


@cache
def terms() -> tuple[Term, ...]:
    """Every term of the shipped file, in the order of its DUO id."""
    text = files("healthgate.access").joinpath("data/duo/duo.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return tuple(sorted((Term(id=r["id"].strip(), shorthand=r["shorthand"].strip(), label=r["label"].strip(),
                              description=r["description"].strip()) for r in rows), key=lambda t: t.id))


@cache
def _index() -> dict[str, Term]:
    out: dict[str, Term] = {}
    for t in terms():
        out[t.id.upper()] = t
        out[t.id.upper().replace("DUO:", "DUO_")] = t
        if t.shorthand:
            out[t.shorthand.upper()] = t
    return out


def find(ref: str) -> Term | None:
    """The term named by its id (``DUO:0000042``, ``DUO_0000042``) or shorthand (``GRU``), any case."""
    return _index().get(ref.strip().upper()) if isinstance(ref, str) else None


def get(term_id: str) -> Term:
    term = find(term_id)
    if term is None:
        raise KeyError(term_id)
    return term


def permissions() -> list[Term]:
    return [get(t) for t in PERMISSIONS]


def purposes() -> list[Term]:
    return [get(t) for t in PURPOSES]


def modifiers() -> list[Term]:
    return [get(t) for t in MODIFIERS]


def shorthand(term_id: str) -> str:
    term = find(term_id)
    return term.shorthand if term is not None and term.shorthand else term_id
