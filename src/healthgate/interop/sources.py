"""Files to import: walk the paths given, read each file with its format's reader (HDR UK JSON, the legacy
gateway CSV) and return import items with every read error (file, or row of a file)."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

from healthgate.catalogue.importer import ImportItem
from healthgate.errors import FieldError
from healthgate.interop import hdruk
from healthgate.interop.legacy_csv import is_legacy_csv, read_legacy_csv

SUFFIXES = (".json", ".csv")


def _files(paths: list[Path]) -> tuple[list[Path], list[FieldError]]:
    files: list[Path] = []
    errors: list[FieldError] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES))
        elif p.is_file():
            files.append(p)
        else:
            errors.append(FieldError(str(p), "no such file or folder"))
    return files, errors


def read_legacy_file(path: Path) -> tuple[list[ImportItem], list[FieldError]]:
    """A legacy gateway CSV export: one item per row (source ``FILE: row N``), accepted with its schema gaps
    unless the import says otherwise."""
    raw = path.read_bytes()
    try:
        header = next(csv.reader(io.StringIO(raw[:65536].decode("utf-8-sig", errors="replace"))), [])
    except csv.Error:
        header = []
    if not is_legacy_csv(header):
        return [], [FieldError(f"{path}: row 1", "not a recognised CSV: expected the HDR UK gateway export "
                                                 "columns (title, publisher, abstract, ...)")]
    records, errors = read_legacy_csv(raw)
    items = []
    for r in records:
        try:
            dataset_id = uuid.UUID(r.pid) if r.pid else None
        except ValueError:
            dataset_id = None
        items.append(ImportItem(source=f"{path}: row {r.row}", payload=r.document, team=r.team,
                                member_group=r.member_group, dataset_id=dataset_id, schema_version="4.0.0",
                                accept_invalid=True))  # a legacy catalogue is messy: show its gaps
    return items, [FieldError(f"{path}: {e.path}", e.message) for e in errors]


def read_sources(paths: list[Path]) -> tuple[list[ImportItem], list[FieldError], bool]:
    """Items from every file under ``paths``, read errors (file or row), and whether any was legacy CSV."""
    files, errors = _files(paths)
    items: list[ImportItem] = []
    legacy = False
    for f in files:
        if f.suffix.lower() == ".csv":
            got, errs = read_legacy_file(f)
            legacy = True
        elif f.suffix.lower() == ".json":
            got, errs = hdruk.read_file(f)
        else:
            got, errs = [], [FieldError(str(f), "unsupported file type; give .json (HDR UK) or .csv (gateway export)")]
        items.extend(got)
        errors.extend(errs)
    return items, errors, legacy
