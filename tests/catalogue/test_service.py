"""Datasets, drafts, versions, archive, diff and permissions through the service layer, on both databases."""

from __future__ import annotations

import copy
import uuid

import pytest
from sqlalchemy import select, text

from healthgate.audit import service as audit
from healthgate.catalogue import service
from healthgate.catalogue.models import DatasetStatus
from healthgate.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unauthorized
from healthgate.identity import service as identity
from healthgate.identity.permissions import ANONYMOUS, SYSTEM, Actor, Role
from healthgate.search.engine import search
from tests.conftest import load_fixture


@pytest.fixture
def team(db, clock):
    with db.sessions.begin() as s:
        t = identity.get_or_create_team(s, SYSTEM, "SAIL", member_group="ALLIANCE", clock=clock)
    return t.id


def _doc(title="Welsh cardiovascular cohort"):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["summary"]["title"] = title
    doc["identifier"] = None
    return doc


def test_draft_publish_versions_and_diff(db, clock, team):
    with db.sessions.begin() as s:
        ds, checked = service.create_draft(s, SYSTEM, team, _doc(), clock=clock)
        dataset_id = ds.id
        assert checked.valid, checked.errors
        assert ds.status == DatasetStatus.DRAFT
    with db.sessions() as s:  # a draft is not public
        with pytest.raises(NotFound):
            service.get_dataset(s, ANONYMOUS, dataset_id)
        assert service.list_public(s).total == 0
    with db.sessions.begin() as s:
        v1 = service.publish(s, SYSTEM, dataset_id, clock=clock)
        assert v1.number == 1 and v1.schema_valid
    clock.advance(days=1)
    with db.sessions.begin() as s:
        doc = _doc("Welsh cardiovascular cohort, 2001-2024")
        doc["summary"]["keywords"] = ["stroke", "heart failure"]
        service.update_draft(s, SYSTEM, dataset_id, doc, clock=clock)
        service.publish(s, SYSTEM, dataset_id, clock=clock)
    with db.sessions() as s:
        public = service.latest_version(s, ANONYMOUS, dataset_id)
        assert public.number == 2 and public.title == "Welsh cardiovascular cohort, 2001-2024"
        assert [v.number for v in service.versions(s, ANONYMOUS, dataset_id)] == [2, 1]
        assert service.version(s, ANONYMOUS, dataset_id, 1).title == "Welsh cardiovascular cohort"
        changes = {c["path"]: c for c in service.diff_versions(s, ANONYMOUS, dataset_id, 1, 2)}
        assert changes["$.summary.title"]["change"] == "changed"
        assert changes["$.summary.title"]["old"] == "Welsh cardiovascular cohort"
        assert changes["$.summary.keywords"]["new"] == ["stroke", "heart failure"]
        page = service.list_public(s)
        assert page.total == 1 and page.items[0].number == 2
        # every state change left an audit event, and the chain verifies
        actions = [e.action for e in audit.history(s, "dataset", dataset_id)]
        assert actions == ["dataset.created", "dataset.published", "dataset.draft_updated", "dataset.published"]
        assert audit.verify(s, "dataset", dataset_id)


def test_published_versions_are_immutable_and_keep_the_submitted_document(db, clock, team):
    source = load_fixture("hdruk-2.1.2-full.json")
    with db.sessions.begin() as s:
        ds, checked = service.create_draft(s, SYSTEM, team, source, clock=clock)
        assert checked.schema_version == "2.1.2" and checked.valid, checked.errors
        v = service.publish(s, SYSTEM, ds.id, clock=clock)
    with db.sessions() as s:
        stored = service.version(s, ANONYMOUS, ds.id, 1)
        assert stored.source_schema_version == "2.1.2"
        assert stored.source_document == source  # exactly as published
        assert "dataCustodian" in stored.document["summary"]  # canonical 4.0.0 form
    assert v.number == 1


def test_invalid_document_is_refused_at_publish_unless_accepted(db, clock, team):
    doc = _doc()
    doc["issued"] = "2024-02-30T00:00:00Z"
    doc["summary"]["unknownField"] = 1
    doc["summary"]["contactPoint"] = "not an e-mail address"
    with db.sessions.begin() as s:
        ds, checked = service.create_draft(s, SYSTEM, team, doc, clock=clock)
        paths = {e.path for e in checked.errors}
        assert paths == {"$.issued", "$.summary.unknownField", "$.summary.contactPoint"}
    with db.sessions.begin() as s, pytest.raises(Invalid) as exc:
        service.publish(s, SYSTEM, ds.id, clock=clock)
    assert {e.path for e in exc.value.errors} >= {"$.issued", "$.summary.unknownField"}
    with db.sessions.begin() as s:
        v = service.publish(s, SYSTEM, ds.id, clock=clock, accept_invalid=True)
        assert not v.schema_valid and v.schema_errors
        clean = copy.deepcopy(_doc())
    with db.sessions.begin() as s:
        ds2, _ = service.create_draft(s, SYSTEM, team, clean, clock=clock)
        v2 = service.publish(s, SYSTEM, ds2.id, clock=clock)
        assert v2.quality_score > v.quality_score


def test_strict_create_refuses_schema_errors(db, clock, team):
    doc = _doc()
    del doc["summary"]["abstract"]
    with db.sessions.begin() as s, pytest.raises(Invalid) as exc:
        service.create_draft(s, SYSTEM, team, doc, clock=clock, strict=True)
    assert [e.path for e in exc.value.errors] == ["$.summary.abstract"]


def test_archive_and_unarchive(db, clock, team):
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(s, SYSTEM, team, _doc(), clock=clock)
        service.publish(s, SYSTEM, ds.id, clock=clock)
        service.archive(s, SYSTEM, ds.id, clock=clock)
    with db.sessions() as s:
        with pytest.raises(NotFound):
            service.latest_version(s, ANONYMOUS, ds.id)
        assert service.list_public(s).total == 0
        assert service.get_dataset(s, SYSTEM, ds.id).status == DatasetStatus.ARCHIVED
        assert s.execute(text("SELECT count(*) FROM search_entries WHERE visible")).scalar() == 0
        assert search(s, "").total == 0
    with db.sessions.begin() as s, pytest.raises(Conflict):
        service.archive(s, SYSTEM, ds.id, clock=clock)
    with db.sessions.begin() as s:
        service.unarchive(s, SYSTEM, ds.id, clock=clock)
    with db.sessions() as s:
        assert service.latest_version(s, ANONYMOUS, ds.id).number == 1
        assert s.execute(text("SELECT count(*) FROM search_entries WHERE visible")).scalar() == 1
        assert search(s, "").total == 1


def test_persistent_id_from_document_and_duplicates(db, clock, team):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    pid = uuid.UUID(doc["identifier"])
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(s, SYSTEM, team, doc, clock=clock)
        assert ds.id == pid
    with db.sessions.begin() as s, pytest.raises(Conflict) as exc:
        service.create_draft(s, SYSTEM, team, doc, clock=clock)
    assert exc.value.errors[0].path == "$.identifier"


def test_permissions(db, clock, team):
    other = Actor(name="editor-elsewhere", roles={uuid.uuid4(): frozenset({Role.TEAM_ADMIN})})
    editor = Actor(name="editor", roles={team: frozenset({Role.METADATA_EDITOR})})
    with db.sessions.begin() as s, pytest.raises(Unauthorized):
        service.create_draft(s, ANONYMOUS, team, _doc(), clock=clock)
    with db.sessions.begin() as s, pytest.raises(Forbidden):
        service.create_draft(s, other, team, _doc(), clock=clock)
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(s, editor, team, _doc(), clock=clock)
    with db.sessions.begin() as s, pytest.raises(Forbidden):  # editors edit; managers publish
        service.publish(s, editor, ds.id, clock=clock)
    with db.sessions() as s:  # the team sees its draft; others do not
        assert service.get_dataset(s, editor, ds.id).id == ds.id
        with pytest.raises(NotFound):
            service.get_dataset(s, other, ds.id)


def test_optimistic_concurrency(db, clock, team):
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(s, SYSTEM, team, _doc(), clock=clock)
        seen = ds.row_version
    with db.sessions.begin() as s:
        service.update_draft(s, SYSTEM, ds.id, _doc("first"), clock=clock, expected_row_version=seen)
    with db.sessions.begin() as s, pytest.raises(Conflict):
        service.update_draft(s, SYSTEM, ds.id, _doc("second"), clock=clock, expected_row_version=seen)


def test_bad_documents(db, clock, team):
    with db.sessions.begin() as s:
        with pytest.raises(Invalid) as exc:
            service.create_draft(s, SYSTEM, team, ["not", "an", "object"], clock=clock)
        assert exc.value.errors[0].path == "$"
        with pytest.raises(Invalid) as exc:
            service.create_draft(s, SYSTEM, team, {"schemaVersion": "9.9.9", "metadata": _doc()}, clock=clock)
        assert exc.value.errors[0].path == "$.schemaVersion"
        with pytest.raises(Invalid) as exc:  # an envelope without schemaVersion: detected from the inside
            service.create_draft(s, SYSTEM, team, {"metadata": {"title": "no sections"}}, clock=clock)
        assert exc.value.errors[0].path == "$.metadata.summary"
        with pytest.raises(Invalid) as exc:
            service.create_draft(s, SYSTEM, team, {"title": "no sections"}, clock=clock)
        assert exc.value.errors[0].path == "$.summary"
        big = _doc()
        big["padding"] = "x" * (6 * 1024 * 1024)
        with pytest.raises(TooLarge):
            service.create_draft(s, SYSTEM, team, big, clock=clock)
    with db.sessions() as s:
        assert s.scalar(select(text("count(*)")).select_from(text("datasets"))) == 0
