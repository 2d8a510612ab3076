"""HDR UK JSON files: reading one document or a list, naming broken files, and an export that imports back
unchanged."""

from __future__ import annotations

import json
import uuid

from healthgate.catalogue import service
from healthgate.catalogue.importer import ImportItem, import_items
from healthgate.context import Context
from healthgate.identity.permissions import SYSTEM
from healthgate.interop import hdruk
from healthgate.interop.sources import read_sources
from tests.conftest import load_fixture


def test_read_file_single_list_and_broken(tmp_path):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    (tmp_path / "one.json").write_text(json.dumps({"schemaVersion": "4.0.0", "metadata": doc}))
    (tmp_path / "many.json").write_text(json.dumps([doc, doc]))
    (tmp_path / "broken.json").write_text('{\n  "summary": [')
    one, errors = hdruk.read_file(tmp_path / "one.json")
    assert not errors and [i.source for i in one] == [str(tmp_path / "one.json")] and one[0].size
    many, errors = hdruk.read_file(tmp_path / "many.json")
    assert not errors and [i.source for i in many] == [f"{tmp_path / 'many.json'}[{i}]" for i in (0, 1)]
    none, errors = hdruk.read_file(tmp_path / "broken.json")
    assert none == [] and errors[0].path == str(tmp_path / "broken.json") and "line 2" in errors[0].message
    items, errors, legacy = read_sources([tmp_path, tmp_path / "missing.json"])
    assert len(items) == 3 and not legacy
    assert {e.path for e in errors} == {str(tmp_path / "broken.json"), str(tmp_path / "missing.json")}


def test_export_imports_back_unchanged(db, clock, tmp_path):
    docs = [load_fixture(f) for f in ("hdruk-2.1.2-full.json", "hdruk-3.0.0-full.json", "hdruk-4.0.0-full.json")]
    for d in docs[:2]:
        d["identifier"] = str(uuid.uuid4())
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem(f"{i}.json", d) for i, d in enumerate(docs)], team="T")
    assert report.created == 3, report.errors
    with db.sessions() as s:
        assert hdruk.export_folder(service.iter_public_versions(s), tmp_path / "out") == 3
    files = sorted((tmp_path / "out").glob("*.json"))
    assert len(files) == 3 and all(uuid.UUID(f.stem) for f in files)
    items, errors, _ = read_sources([tmp_path / "out"])
    assert not errors
    with db.sessions.begin() as s:
        again = import_items(Context(s, SYSTEM, clock), items, team="T")
    assert again.unchanged == 3 and again.created == again.updated == again.failed == 0, again.errors
