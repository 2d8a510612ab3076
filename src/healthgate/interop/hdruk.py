"""HDR UK metadata as JSON files: reading documents to import, writing the catalogue out.

In: a file holds one document (bare, or in a ``{"schemaVersion", "metadata"}`` envelope) or a list of them;
the catalogue detects each document's schema version. Out: one HDR UK 4.0.0 document per dataset, the
canonical form of its latest published version, in a file named by the dataset's persistent id.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from healthgate.catalogue.importer import ImportItem
from healthgate.catalogue.metadata import parse_json
from healthgate.catalogue.models import DatasetVersion
from healthgate.errors import FieldError, Invalid

SCHEMA_VERSION = "4.0.0"  # what an export holds


def read_file(path: Path) -> tuple[list[ImportItem], list[FieldError]]:
    """The documents in one JSON file, or why it cannot be read (naming the file, line and column)."""
    raw = path.read_bytes()
    try:
        value = parse_json(raw, str(path))
    except Invalid as exc:
        return [], exc.errors
    if isinstance(value, list):
        return [ImportItem(source=f"{path}[{i}]", payload=v) for i, v in enumerate(value)], []
    return [ImportItem(source=str(path), payload=value, size=len(raw))], []


def document(version: DatasetVersion) -> dict[str, Any]:
    """A published version as an HDR UK 4.0.0 document."""
    return version.document


def dumps(version: DatasetVersion) -> bytes:
    """A published version as an HDR UK 4.0.0 JSON file (UTF-8, indented)."""
    return orjson.dumps(document(version), option=orjson.OPT_INDENT_2) + b"\n"


def export_folder(versions: Iterable[DatasetVersion], out: Path) -> int:
    """Write one ``{dataset id}.json`` per version into ``out`` (created if need be); how many were written."""
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for version in versions:
        (out / f"{version.dataset_id}.json").write_bytes(dumps(version))
        n += 1
    return n
