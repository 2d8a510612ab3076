"""Datasets, drafts, versions, archive, diff and permissions through the service layer, on both databases."""

from __future__ import annotations

import copy
import uuid

import pytest
from sqlalchemy import select, text

from healthgate.audit import service as audit
from healthgate.catalogue import service
from healthgate.catalogue.models import DatasetStatus
from healthgate.clock import SystemClock
from healthgate.context import Context
from healthgate.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge, Unauthorized
from healthgate.identity import service as identity
from healthgate.identity.permissions import ANONYMOUS, SYSTEM, Actor, Role
from healthgate.search.engine import search
from tests.conftest import load_fixture


@pytest.fixture
def team(db, clock):
    with db.sessions.begin() as s:
        t = identity.get_or_create_team(Context(s, SYSTEM, clock), "SAIL", member_group="ALLIANCE")
    return t.id


def _doc(title="Welsh cardiovascular cohort"):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["summary"]["title"] = title
    doc["identifier"] = None
    return doc


def test_draft_publish_versions_and_diff(db, clock, team):
    with db.sessions.begin() as s:
        ds, checked = service.create_draft(Context(s, SYSTEM, clock), team, _doc())
        dataset_id = ds.id
        assert checked.valid, checked.errors
        assert ds.status == DatasetStatus.DRAFT
    with db.sessions() as s:  # a draft is not public
        with pytest.raises(NotFound):
            service.get_dataset(Context(s, ANONYMOUS, SystemClock()), dataset_id)
        assert service.list_public(s).total == 0
    with db.sessions.begin() as s:
        v1 = service.publish(Context(s, SYSTEM, clock), dataset_id)
        assert v1.number == 1 and v1.schema_valid
    clock.advance(days=1)
    with db.sessions.begin() as s:
        doc = _doc("Welsh cardiovascular cohort, 2001-2024")
        doc["summary"]["keywords"] = ["stroke", "heart failure"]
        service.update_draft(Context(s, SYSTEM, clock), dataset_id, doc)
        service.publish(Context(s, SYSTEM, clock), dataset_id)
    with db.sessions() as s:
        public = service.latest_version(Context(s, ANONYMOUS, SystemClock()), dataset_id)
        assert public.number == 2 and public.title == "Welsh cardiovascular cohort, 2001-2024"
        assert [v.number for v in service.versions(Context(s, ANONYMOUS, SystemClock()), dataset_id)] == [2, 1]
        assert service.version(Context(s, ANONYMOUS, SystemClock()), dataset_id, 1).title == "Welsh cardiovascular cohort"
        changes = {c["path"]: c for c in service.diff_versions(Context(s, ANONYMOUS, SystemClock()), dataset_id, 1, 2)}
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
        ds, checked = service.create_draft(Context(s, SYSTEM, clock), team, source)
        assert checked.schema_version == "2.1.2" and checked.valid, checked.errors
        v = service.publish(Context(s, SYSTEM, clock), ds.id)
    with db.sessions() as s:
        stored = service.version(Context(s, ANONYMOUS, SystemClock()), ds.id, 1)
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
        ds, checked = service.create_draft(Context(s, SYSTEM, clock), team, doc)
        paths = {e.path for e in checked.errors}
        assert paths == {"$.issued", "$.summary.unknownField", "$.summary.contactPoint"}
    with db.sessions.begin() as s, pytest.raises(Invalid) as exc:
        service.publish(Context(s, SYSTEM, clock), ds.id)
    assert {e.path for e in exc.value.errors} >= {"$.issued", "$.summary.unknownField"}
    with db.sessions.begin() as s:
        v = service.publish(Context(s, SYSTEM, clock), ds.id, accept_invalid=True)
        assert not v.schema_valid and v.schema_errors
        clean = copy.deepcopy(_doc())
    with db.sessions.begin() as s:
        ds2, _ = service.create_draft(Context(s, SYSTEM, clock), team, clean)
        v2 = service.publish(Context(s, SYSTEM, clock), ds2.id)
        assert v2.quality_score > v.quality_score


def test_strict_create_refuses_schema_errors(db, clock, team):
    doc = _doc()
    del doc["summary"]["abstract"]
    with db.sessions.begin() as s, pytest.raises(Invalid) as exc:
        service.create_draft(Context(s, SYSTEM, clock), team, doc, strict=True)
    assert [e.path for e in exc.value.errors] == ["$.summary.abstract"]


def test_archive_and_unarchive(db, clock, team):
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team, _doc())
        service.publish(Context(s, SYSTEM, clock), ds.id)
        service.archive(Context(s, SYSTEM, clock), ds.id)
    with db.sessions() as s:
        with pytest.raises(NotFound):
            service.latest_version(Context(s, ANONYMOUS, SystemClock()), ds.id)
        assert service.list_public(s).total == 0
        assert service.get_dataset(Context(s, SYSTEM, SystemClock()), ds.id).status == DatasetStatus.ARCHIVED
        assert s.execute(text("SELECT count(*) FROM search_entries WHERE visible")).scalar() == 0
        assert search(s, "").total == 0
    with db.sessions.begin() as s, pytest.raises(Conflict):
        service.archive(Context(s, SYSTEM, clock), ds.id)
    with db.sessions.begin() as s:
        service.unarchive(Context(s, SYSTEM, clock), ds.id)
    with db.sessions() as s:
        assert service.latest_version(Context(s, ANONYMOUS, SystemClock()), ds.id).number == 1
        assert s.execute(text("SELECT count(*) FROM search_entries WHERE visible")).scalar() == 1
        assert search(s, "").total == 1


def test_persistent_id_from_document_and_duplicates(db, clock, team):
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    pid = uuid.UUID(doc["identifier"])
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team, doc)
        assert ds.id == pid
    with db.sessions.begin() as s, pytest.raises(Conflict) as exc:
        service.create_draft(Context(s, SYSTEM, clock), team, doc)
    assert exc.value.errors[0].path == "$.identifier"


def test_permissions(db, clock, team):
    other = Actor(name="editor-elsewhere", roles={uuid.uuid4(): frozenset({Role.TEAM_ADMIN})})
    editor = Actor(name="editor", roles={team: frozenset({Role.METADATA_EDITOR})})
    with db.sessions.begin() as s, pytest.raises(Unauthorized):
        service.create_draft(Context(s, ANONYMOUS, clock), team, _doc())
    with db.sessions.begin() as s, pytest.raises(Forbidden):
        service.create_draft(Context(s, other, clock), team, _doc())
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(Context(s, editor, clock), team, _doc())
    with db.sessions.begin() as s, pytest.raises(Forbidden):  # editors edit; managers publish
        service.publish(Context(s, editor, clock), ds.id)
    with db.sessions() as s:  # the team sees its draft; others do not
        assert service.get_dataset(Context(s, editor, SystemClock()), ds.id).id == ds.id
        with pytest.raises(NotFound):
            service.get_dataset(Context(s, other, SystemClock()), ds.id)


def test_optimistic_concurrency(db, clock, team):
    with db.sessions.begin() as s:
        ds, _ = service.create_draft(Context(s, SYSTEM, clock), team, _doc())
        seen = ds.row_version
    with db.sessions.begin() as s:
        service.update_draft(Context(s, SYSTEM, clock), ds.id, _doc("first"), expected_row_version=seen)
    with db.sessions.begin() as s, pytest.raises(Conflict):
        service.update_draft(Context(s, SYSTEM, clock), ds.id, _doc("second"), expected_row_version=seen)


def test_bad_documents(db, clock, team):
    with db.sessions.begin() as s:
        with pytest.raises(Invalid) as exc:
            service.create_draft(Context(s, SYSTEM, clock), team, ["not", "an", "object"])
        assert exc.value.errors[0].path == "$"
        with pytest.raises(Invalid) as exc:
            service.create_draft(Context(s, SYSTEM, clock), team, {"schemaVersion": "9.9.9", "metadata": _doc()})
        assert exc.value.errors[0].path == "$.schemaVersion"
        with pytest.raises(Invalid) as exc:  # an envelope without schemaVersion: detected from the inside
            service.create_draft(Context(s, SYSTEM, clock), team, {"metadata": {"title": "no sections"}})
        assert exc.value.errors[0].path == "$.metadata.summary"
        with pytest.raises(Invalid) as exc:
            service.create_draft(Context(s, SYSTEM, clock), team, {"title": "no sections"})
        assert exc.value.errors[0].path == "$.summary"
        big = _doc()
        big["padding"] = "x" * (6 * 1024 * 1024)
        with pytest.raises(TooLarge):
            service.create_draft(Context(s, SYSTEM, clock), team, big)
    with db.sessions() as s:
        assert s.scalar(select(text("count(*)")).select_from(text("datasets"))) == 0
