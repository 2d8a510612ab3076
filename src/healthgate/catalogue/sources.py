"""Read import sources (HDR UK JSON files and folders, the legacy gateway CSV) into import items."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

from healthgate.catalogue.importer import ImportItem
from healthgate.catalogue.legacy_csv import is_legacy_csv, read_legacy_csv
from healthgate.catalogue.metadata import parse_json
from healthgate.errors import FieldError, Invalid

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


def _read_json(path: Path) -> tuple[list[ImportItem], list[FieldError]]:
    raw = path.read_bytes()
    try:
        value = parse_json(raw, str(path))
    except Invalid as exc:
        return [], exc.errors
    if isinstance(value, list):
        return [ImportItem(source=f"{path}[{i}]", payload=v) for i, v in enumerate(value)], []
    return [ImportItem(source=str(path), payload=value, size=len(raw))], []


def _read_csv(path: Path) -> tuple[list[ImportItem], list[FieldError]]:
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
            got, errs = _read_csv(f)
            legacy = True
        elif f.suffix.lower() == ".json":
            got, errs = _read_json(f)
        else:
            got, errs = [], [FieldError(str(f), "unsupported file type; give .json (HDR UK) or .csv (gateway export)")]
        items.extend(got)
        errors.extend(errs)
    return items, errors, legacy
