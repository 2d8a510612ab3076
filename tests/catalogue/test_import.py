"""Bulk import and export: the real 605-dataset corpus, JSON files, all-or-nothing, dry runs, the CLI."""

from __future__ import annotations

import csv
import io
import json
import shutil
import uuid
from importlib import resources

import jsonschema
import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from healthgate.audit import service as audit
from healthgate.catalogue import quality, service
from healthgate.catalogue.importer import ImportItem, import_items
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.catalogue.standard.validate import schema
from healthgate.cli import app
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.errors import Conflict, Unauthorized
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.identity.permissions import ANONYMOUS, SYSTEM, Actor, Role
from healthgate.interop.sources import read_sources
from healthgate.search import engine as search_engine
from tests.conftest import CORPUS, FIXTURES, load_fixture

V4 = jsonschema.Draft202012Validator(schema("4.0.0"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _count(s, model) -> int:
    return s.scalar(select(func.count()).select_from(model))


def test_real_corpus_imports_and_is_searchable(db, clock):
    items, errors, legacy = read_sources([CORPUS])
    assert not errors and legacy and len(items) == 605
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), items, accept_invalid=True)
    assert report.created == 605 and report.failed == 0 and report.written
    with db.sessions() as s:
        assert service.list_public(s).total == 605
        assert s.execute(text("SELECT count(*) FROM search_entries")).scalar() == 605
        versions = list(s.scalars(select(DatasetVersion)))
        # messy records are imported with their problems and a score that shows them
        invalid = [v for v in versions if not v.schema_valid]
        assert invalid and all(v.schema_errors for v in invalid)
        # ... and their schema errors cost them score
        penalised = [v for v in invalid if v.quality["weighted_error_rate"] > 0]
        assert len(penalised) > len(invalid) / 2
        for v in penalised[:50]:
            assert v.quality_score < quality.assess(v.document, [], breakdown=False)["score"]
        assert len({v.medallion for v in versions}) >= 3
        # every record that was schema-valid on import exports as valid HDR UK 4.0.0 (checked by a second,
        # independent validator)
        valid = [v for v in versions if v.schema_valid]
        assert len(valid) >= 40
        for v in valid:
            assert not list(V4.iter_errors(v.document)), v.title
        sail = [v for v in versions if v.facets.get("member_group") == "ALLIANCE"]
        assert sail
        teams = {r[0] for r in s.execute(text("SELECT name FROM teams"))}
        assert "SAIL" in teams
    # importing the same file again changes nothing
    with db.sessions.begin() as s:
        again = import_items(Context(s, SYSTEM, clock), items, accept_invalid=True)
    assert again.created == 0 and again.unchanged == 605


def test_json_round_trip_and_export_validates(db, clock, tmp_path):
    files = ["hdruk-2.1.2-full.json", "hdruk-3.0.0-full.json", "hdruk-4.0.0-full.json", "hdruk-4.0.0-minimal.json"]
    src = tmp_path / "in"
    src.mkdir()
    for i, f in enumerate(files):
        doc = load_fixture(f)
        if i < 3:
            doc["identifier"] = str(uuid.uuid4())
        (src / f).write_text(json.dumps(doc))
    items, errors, _ = read_sources([src])
    assert not errors and len(items) == 4
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), items, team="Test Team")
    assert report.created == 4, report.errors
    with db.sessions() as s:
        docs = [v.document for v in service.iter_public_versions(s)]
    assert len(docs) == 4
    for doc in docs:
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in V4.iter_errors(doc)]
        assert not problems, problems


def test_all_or_nothing_and_partial(db, clock):
    good = ImportItem(source="good.json", payload=load_fixture("hdruk-4.0.0-minimal.json"))
    bad = load_fixture("hdruk-4.0.0-minimal.json")
    bad["identifier"] = None
    bad["summary"]["title"] = ""
    items = [good, ImportItem(source="bad.json", payload=bad)]
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), items, team="T")
    assert report.failed == 1 and not report.written and report.created == 1
    assert report.errors[0].path.startswith("bad.json: $.summary.title")
    with db.sessions() as s:
        assert _count(s, Dataset) == 0
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), items, team="T", dry_run=True, partial=True)
    assert report.dry_run and not report.written
    with db.sessions() as s:
        assert _count(s, Dataset) == 0
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), items, team="T", partial=True)
    assert report.written and report.created == 1 and report.failed == 1
    with db.sessions() as s:
        assert _count(s, Dataset) == 1


def test_duplicate_persistent_id_in_one_batch(db, clock):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    items = [ImportItem(source="a.json", payload=doc), ImportItem(source="b.json", payload=doc)]
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), items, team="T")
    assert report.failed == 1 and not report.written
    assert report.errors[0].path == "b.json: $.identifier" and "a.json" in report.errors[0].message


def test_strict_json_import_names_the_schema_errors(db, clock):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["modified"] = "yesterday"
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem(source="x.json", payload=doc)], team="T")
    assert report.failed == 1 and report.errors[0].path == "x.json: $.modified"


def test_update_makes_a_new_version(db, clock):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    with db.sessions.begin() as s:
        import_items(Context(s, SYSTEM, clock), [ImportItem(source="a.json", payload=doc)], team="T")
    doc["summary"]["abstract"] = "A revised abstract for this dataset."
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem(source="a.json", payload=doc)], team="T")
    assert report.updated == 1
    with db.sessions() as s:
        v = service.latest_version(Context(s, ANONYMOUS, SystemClock()), uuid.UUID(doc["identifier"]))
        assert v.number == 2 and v.abstract == "A revised abstract for this dataset."
    with db.sessions.begin() as s:  # another team may not overwrite it
        report = import_items(Context(s, SYSTEM, clock), [ImportItem(source="a.json", payload=doc)], team="Other")
    assert report.failed == 1 and "belongs to team" in report.errors[0].message


def test_cli_import_dry_run_broken_csv_and_export(tmp_path, monkeypatch):
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HEALTHGATE_DATABASE_URL", raising=False)
    runner = CliRunner()
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(FIXTURES / "hdruk-4.0.0-full.json", folder / "a.json")
    (folder / "broken.json").write_text('{"summary": ')
    r = runner.invoke(app, ["import", str(folder), "--team", "SAIL"])
    assert r.exit_code == 1 and "broken.json" in r.output and "line 1" in r.output
    r = runner.invoke(app, ["import", str(folder / "a.json"), "--team", "SAIL", "--dry-run"])
    assert r.exit_code == 0 and "created 1" in r.output and "nothing written" in r.output
    r = runner.invoke(app, ["import", str(folder), "--team", "SAIL", "--partial"])
    assert r.exit_code == 0 and "created 1" in r.output
    bad_csv = tmp_path / "bad.csv"
    lines = CORPUS.read_text(encoding="utf-8").splitlines(keepends=True)
    bad_csv.write_bytes("".join(lines[:30]).encode("utf-8") + "é\n".encode("latin-1"))
    r = runner.invoke(app, ["import", str(bad_csv)])
    assert r.exit_code == 1 and "row" in r.output
    out = tmp_path / "export"
    r = runner.invoke(app, ["export", "--format", "hdruk", "--out", str(out)])
    assert r.exit_code == 0, r.output
    exported = list(out.glob("*.json"))
    assert len(exported) == 1
    assert not list(V4.iter_errors(json.loads(exported[0].read_text())))
    assert runner.invoke(app, ["--version"]).output.startswith("healthgate ")


@pytest.mark.parametrize("argv", [["export", "--format", "dcat", "--out", "x"]])
def test_cli_rejects_unknown_format(tmp_path, monkeypatch, argv):
    """An unknown choice is a usage error (exit 2) that lists the valid ones, before anything is touched."""
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 2 and "--format" in r.output and "'hdruk'" in r.output and "dcat" in r.output
    assert not (tmp_path / "data").exists() and not (tmp_path / "x").exists()


def _minimal(abstract: str | None = None) -> dict:
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    if abstract:
        doc["summary"]["abstract"] = abstract
    return doc


def test_draft_import_publish_never_reverts_the_imported_change(db, clock):
    """An import onto a dataset with an unpublished draft is refused for that record (naming it), so that
    publishing the draft later cannot silently undo an imported version."""
    doc = _minimal()
    dataset_id = uuid.UUID(doc["identifier"])
    with db.sessions.begin() as s:
        assert import_items(Context(s, SYSTEM, clock), [ImportItem("v1.json", doc)], team="T").created == 1
    with db.sessions.begin() as s:
        service.update_draft(Context(s, SYSTEM, clock), dataset_id, _minimal("Edited in the web form."))
    imported = _minimal("Changed by the custodian's own catalogue.")
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem("v2.json", imported)], team="T")
    assert report.failed == 1 and not report.written
    assert report.errors[0].path == "v2.json: $.identifier"
    assert str(dataset_id) in report.errors[0].message and "unpublished draft" in report.errors[0].message
    with db.sessions.begin() as s:  # the draft is still there and publishing it makes version 2
        assert service.publish(Context(s, SYSTEM, clock), dataset_id).number == 2
    with db.sessions.begin() as s:  # now the import goes through, as version 3 ...
        report = import_items(Context(s, SYSTEM, clock), [ImportItem("v2.json", imported)], team="T")
    assert report.updated == 1 and report.written
    with db.sessions.begin() as s, pytest.raises(Conflict):  # ... and there is no stale draft to publish over it
        service.publish(Context(s, SYSTEM, clock), dataset_id)
    with db.sessions() as s:
        latest = service.latest_version(Context(s, ANONYMOUS, SystemClock()), dataset_id)
        assert latest.number == 3 and latest.abstract == "Changed by the custodian's own catalogue."
        ds = s.get(Dataset, dataset_id)
        assert ds.draft is None and ds.row_version > 1
        actions = [e.action for e in audit.history(s, "dataset", dataset_id)]
        assert actions == ["dataset.imported", "dataset.draft_updated", "dataset.published", "dataset.imported"]
        assert audit.verify(s, "dataset", dataset_id)


def test_partial_import_refuses_only_the_dataset_with_a_draft(db, clock):
    a, b = _minimal(), _minimal()
    b["identifier"] = str(uuid.uuid4())
    with db.sessions.begin() as s:
        import_items(Context(s, SYSTEM, clock), [ImportItem("a.json", a), ImportItem("b.json", b)], team="T")
        service.update_draft(Context(s, SYSTEM, clock), uuid.UUID(a["identifier"]), _minimal("A draft abstract."))
    a["summary"]["abstract"] = b["summary"]["abstract"] = "Both changed upstream."
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem("a.json", a), ImportItem("b.json", b)], team="T", partial=True)
    assert report.written and report.updated == 1 and report.failed == 1
    assert report.errors[0].path == "a.json: $.identifier"
    with db.sessions() as s:
        assert service.latest_version(Context(s, ANONYMOUS, SystemClock()), uuid.UUID(b["identifier"])).number == 2
        assert service.latest_version(Context(s, ANONYMOUS, SystemClock()), uuid.UUID(a["identifier"])).number == 1


def test_import_refuses_archived_datasets(db, clock):
    doc = _minimal()
    dataset_id = uuid.UUID(doc["identifier"])
    with db.sessions.begin() as s:
        import_items(Context(s, SYSTEM, clock), [ImportItem("a.json", doc)], team="T")
        service.archive(Context(s, SYSTEM, clock), dataset_id)
    with db.sessions.begin() as s:
        report = import_items(Context(s, SYSTEM, clock), [ImportItem("a.json", _minimal("A new abstract upstream."))], team="T")
    assert report.failed == 1 and "archived" in report.errors[0].message
    with db.sessions() as s:
        assert s.get(Dataset, dataset_id).latest_version == 1


def test_import_checks_permission_per_team_and_audits_each_change(db, clock):
    with db.sessions.begin() as s:
        mine = identity.get_or_create_team(Context(s, SYSTEM, clock), "Mine", member_group=None)
        identity.get_or_create_team(Context(s, SYSTEM, clock), "Theirs", member_group=None)
    manager = Actor(name="manager", roles={mine.id: frozenset({Role.METADATA_MANAGER})})
    docs = [_minimal() for _ in range(4)]
    for d in docs:
        d["identifier"] = str(uuid.uuid4())
    items = [ImportItem("mine-1.json", docs[0], team="Mine"), ImportItem("mine-2.json", docs[1], team="MINE "),
             ImportItem("theirs.json", docs[2], team="Theirs"), ImportItem("new.json", docs[3], team="New team")]
    with db.sessions.begin() as s:
        report = import_items(Context(s, manager, clock), items, partial=True)
    assert report.created == 2 and report.failed == 2
    assert [e.path for e in report.errors] == ["theirs.json: team", "new.json: team"]
    with db.sessions.begin() as s, pytest.raises(Unauthorized):
        import_items(Context(s, ANONYMOUS, clock), items)
    with db.sessions() as s:
        assert {ds.team.name for ds in s.scalars(select(Dataset))} == {"Mine"}
        assert s.scalar(select(func.count()).select_from(Team)) == 2  # no team made for the refused record
        for d in docs[:2]:
            events = audit.history(s, "dataset", d["identifier"])
            assert [e.action for e in events] == ["dataset.imported"]
            assert events[0].actor == "manager" and events[0].data["version"] == 1


# ---- storage limits: dry run and real run agree, a row the database refuses fails alone ----------------

def _legacy_csv(tmp_path, edits: dict[int, dict[str, str]], rows: int = 5):
    """The first ``rows`` records of the packaged gateway export, with cells edited (by record index)."""
    text = resources.files("healthgate").joinpath("data/hdruk-gateway-datasets-2022.csv").read_text("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    records = [row for _, row in zip(range(rows), reader, strict=False)]
    for i, cells in edits.items():
        for column, value in cells.items():
            records[i][header.index(column)] = value
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([header, *records])
    return path


def test_population_of_2_31_and_more_publishes(db, clock):
    doc = _minimal()
    doc["summary"]["populationSize"] = 2**31 + 7
    with db.sessions.begin() as s:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "T", member_group=None)
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team.id, doc)
        assert service.publish(Context(s, SYSTEM, clock), ds.id).population_size == 2**31 + 7
    with db.sessions() as s:
        hits = search_engine.search(s, "").items
        assert [h.population_size for h in hits] == [2**31 + 7]
        assert search_engine.search(s, "", search_engine.Filters({"population": ["10,000,000+"]})).total == 1


def _cli(db, tmp_path, monkeypatch, *args: str):
    monkeypatch.setenv("HEALTHGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HEALTHGATE_DATABASE_URL", db.url)
    return CliRunner().invoke(app, ["import", *args, "--json"])


def test_csv_dry_run_agrees_with_the_real_run(db, tmp_path, monkeypatch):
    path = _legacy_csv(tmp_path, {1: {"statisticalPopulation": "3000000000"}})
    dry = _cli(db, tmp_path, monkeypatch, str(path), "--dry-run")
    real = _cli(db, tmp_path, monkeypatch, str(path))
    assert dry.exit_code == real.exit_code == 0, (dry.output, real.output)
    dry_report, real_report = json.loads(dry.output), json.loads(real.output)
    assert dry_report["created"] == 5 and not dry_report["written"] and real_report["written"]
    assert {k: v for k, v in dry_report.items() if k not in ("dry_run", "written")} == \
        {k: v for k, v in real_report.items() if k not in ("dry_run", "written")}
    with db.sessions() as s:
        assert 3_000_000_000 in set(s.scalars(select(DatasetVersion.population_size)))


@pytest.fixture
def storage_refuses(monkeypatch):
    """Make the database refuse (NOT NULL) the version of any record titled "Refused by storage"."""
    real = service.version_row

    def version_row(*args, **kwargs):
        row = real(*args, **kwargs)
        if row["title"] == "Refused by storage":
            row["title"] = None
        return row

    monkeypatch.setattr(service, "version_row", version_row)


def test_partial_import_isolates_a_row_the_database_refuses(db, tmp_path, monkeypatch, storage_refuses):
    path = _legacy_csv(tmp_path, {2: {"title": "Refused by storage"}})
    runs = {flags: _cli(db, tmp_path, monkeypatch, str(path), *flags)
            for flags in [("--dry-run",), (), ("--dry-run", "--partial"), ("--partial",)]}
    reports = {flags: json.loads(r.output) for flags, r in runs.items()}
    for flags, report in reports.items():
        assert report["failed"] == 1, (flags, report)
        assert [e["path"] for e in report["errors"]] == [f"{path}: row 4: $"]
        assert "the database refused this record" in report["errors"][0]["message"]
        assert report["created"] == 4
    assert runs[()].exit_code == runs[("--dry-run",)].exit_code == 1
    assert not reports[()]["written"] and reports[("--partial",)]["written"]
    with db.sessions() as s:
        assert _count(s, Dataset) == 4 and _count(s, DatasetVersion) == 4
        assert s.execute(text("SELECT count(*) FROM search_entries")).scalar() == 4

