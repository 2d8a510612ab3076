"""Every state-changing form of the workspace, for anonymous, a signed-in researcher, a member of another team,
each team role and an alliance admin: allowed or denied, and a denied post changes nothing (no audit event).
The forms are found by walking ``app.routes``: a new workspace form without an entry here fails."""

from __future__ import annotations

import base64
import json
import re
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from healthgate.audit.models import AuditEvent
from healthgate.catalogue import service
from healthgate.context import Context
from healthgate.identity import tokens, users
from healthgate.identity.models import Membership
from healthgate.identity.permissions import SYSTEM, Role
from tests.access.custodian import matrix as custodian_matrix
from tests.catalogue.test_workspace import People
from tests.conftest import load_fixture

PERSONAS = ["anonymous", "researcher", "other team admin", *[r.value for r in Role], "alliance admin"]
EDIT = {Role.TEAM_ADMIN.value, Role.METADATA_MANAGER.value, Role.METADATA_EDITOR.value, "alliance admin"}
PUBLISH = {Role.TEAM_ADMIN.value, Role.METADATA_MANAGER.value, "alliance admin"}
MANAGE = {Role.TEAM_ADMIN.value, "alliance admin"}
SIGNED_IN = set(PERSONAS) - {"anonymous"}
DATA_USE = {Role.TEAM_ADMIN.value, Role.METADATA_MANAGER.value, Role.ACCESS_MANAGER.value, "alliance admin"}
ACCESS_MANAGE = {Role.TEAM_ADMIN.value, Role.ACCESS_MANAGER.value, "alliance admin"}
ACCESS_Q = "safeproject.project-details.title-project"


@dataclass
class Case:
    allowed: set[str]
    prepare: Callable[[People], tuple[dict[str, str], dict]]  # path parameters, request keyword arguments
    writes: bool = True  # False: even when allowed nothing is written (the upload's dry run)


def _doc() -> dict:
    return load_fixture("hdruk-4.0.0-minimal.json") | {"identifier": str(uuid.uuid4())}


def _dataset(people: People, *, publish: bool = False, archive: bool = False) -> str:
    with people.db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, people.clock)
        dataset, _ = service.create_draft(ctx, people.team, {"schemaVersion": "4.0.0", "metadata": _doc()})
        if publish or archive:
            service.publish(ctx, dataset.id)
        if archive:
            service.archive(ctx, dataset.id)
        return str(dataset.id)


def _person(people: People, role: Role | None = None) -> uuid.UUID:
    with people.db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, people.clock)
        user = users.create_user(ctx, f"{uuid.uuid4().hex[:10]}@example.org", "Somebody", verified=True)
        if role is not None:
            s.add(Membership(team_id=people.team, user_id=user.id, role=role.value, created_at=people.clock.now()))
        return user.id


def _victims_token(people: People) -> str:
    with people.db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, people.clock)
        owner = users.get_user(ctx, _person(people))
        tokens.create_token(ctx, owner, "theirs")
        return str(tokens.list_tokens(ctx, owner)[0].id)


def _file() -> dict:
    return {"files": {"file": ("one.json", json.dumps(_doc()).encode(), "application/json")}}


def _packed() -> dict:
    raw = json.dumps(_doc()).encode()
    return {"data": {"filename": "one.json", "content": base64.b64encode(zlib.compress(raw)).decode()}}


def _access_draft(people: People) -> dict:
    """A draft of the team's application form, to publish."""
    from healthgate.access import templates

    with people.db.sessions.begin() as s:
        templates.save_draft(Context(s, SYSTEM, people.clock), people.team, [{"id": ACCESS_Q, "required": True}])
    return {}


TEAM = {"team_ref": "wessex-heart"}
ACCESS_MANAGE = {Role.TEAM_ADMIN.value, Role.ACCESS_MANAGER.value, "alliance admin"}


def _webhook(people: People) -> dict[str, str]:
    """A webhook of the team (access.webhooks), as path parameters."""
    from healthgate.access import webhooks

    with people.db.sessions.begin() as s:
        hook, _ = webhooks.register(Context(s, SYSTEM, people.clock), people.team, "https://receiver.example.org/h")
        return {**TEAM, "webhook_id": str(hook.id)}


def _dead_delivery(people: People) -> dict[str, str]:
    """A dead delivery of a webhook of the team, as path parameters."""
    from healthgate.access.models import WebhookDelivery
    from healthgate.outbox import service as outbox

    params = _webhook(people)
    with people.db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, people.clock)
        message = outbox.enqueue(ctx, "webhook", {"webhook_id": params["webhook_id"], "body": {}})
        message.status, message.last_error = "dead", "the receiver answered 500"
        s.flush()
        delivery = WebhookDelivery(id=uuid.uuid4(), webhook_id=uuid.UUID(params["webhook_id"]), outbox_id=message.id,
                                   event_type="submitted", created_at=people.clock.now())
        s.add(delivery)
        return {**TEAM, "delivery_id": str(delivery.id)}


HARVEST = {Role.TEAM_ADMIN.value, Role.METADATA_MANAGER.value, "alliance admin"}  # harvest:manage


def _harvest_source(people: People) -> dict[str, str]:
    """A harvest source of the team (federation.service), as path parameters."""
    from healthgate.federation import service as harvest

    with people.db.sessions.begin() as s:
        source = harvest.create_source(Context(s, SYSTEM, people.clock), people.team,
                                       name=f"source {uuid.uuid4().hex[:8]}", kind="hdruk-fma",
                                       url="https://catalogue.example.org")
        return {**TEAM, "source_id": str(source.id)}


def _harvest_form() -> dict[str, str]:
    return {"name": f"source {uuid.uuid4().hex[:8]}", "kind": "hdruk-fma", "url": "https://catalogue.example.org",
            "auth": "none", "enabled": "1"}


REGISTER = {Role.TEAM_ADMIN.value, Role.ACCESS_MANAGER.value, "alliance admin"}  # register:manage
_REGISTER_FORM = {
    "organisation_name": "University of Exeter", "project_title": "Kidney outcomes", "lay_summary": "Who recovers.",
    "public_benefit": "Better care.", "approval_date": "2025-03-01", "access_type": "TRE",
    "dataset_dataset_id": [""], "dataset_name": ["A dataset outside the catalogue"],
}


def _register_entry(people: People, *, publish: bool = False) -> dict[str, str]:
    """An entry of the team's data use register (register.service), as path parameters."""
    from datetime import date

    from healthgate.register import service as register

    with people.db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, people.clock)
        entry = register.create(ctx, people.team, register.EntryData(
            organisation_name="University of Exeter", project_title="Kidney outcomes", lay_summary="Who recovers.",
            public_benefit="Better care.", approval_date=date(2025, 3, 1), access_type="TRE",
            datasets=[register.DatasetRef("A dataset outside the catalogue")]))
        if publish:
            register.publish(ctx, entry.id)
        return {**TEAM, "entry_id": str(entry.id)}


CASES: dict[str, Case] = {
    "/workspace/teams/{team_ref}/datasets/new": Case(EDIT, lambda p: (TEAM, {"data": {"summary.title": "New"}})),
    "/workspace/datasets/{dataset_id}/edit": Case(
        EDIT, lambda p: ({"dataset_id": _dataset(p)}, {"data": {"summary.title": "Changed"}})),
    "/workspace/datasets/{dataset_id}/publish": Case(PUBLISH, lambda p: ({"dataset_id": _dataset(p)}, {})),
    "/workspace/datasets/{dataset_id}/archive": Case(PUBLISH, lambda p: ({"dataset_id": _dataset(p, publish=True)}, {})),
    "/workspace/datasets/{dataset_id}/unarchive": Case(
        PUBLISH, lambda p: ({"dataset_id": _dataset(p, archive=True)}, {})),
    "/workspace/datasets/{dataset_id}/discard": Case(EDIT, lambda p: ({"dataset_id": _dataset(p)}, {})),
    "/workspace/teams/{team_ref}/upload": Case(PUBLISH, lambda p: (TEAM, _file()), writes=False),
    "/workspace/teams/{team_ref}/upload/confirm": Case(PUBLISH, lambda p: (TEAM, _packed())),
    "/workspace/teams/{team_ref}/members": Case(MANAGE, lambda p: (TEAM, {"data": {
        "email": users.get_user(Context(p.db.sessions(), SYSTEM, p.clock), _person(p)).email,
        "role": Role.METADATA_EDITOR.value}})),
    "/workspace/teams/{team_ref}/members/remove": Case(MANAGE, lambda p: (TEAM, {"data": {
        "user": str(_person(p, Role.METADATA_EDITOR)), "role": Role.METADATA_EDITOR.value}})),
    "/workspace/teams/{team_ref}/access/webhooks": Case(ACCESS_MANAGE, lambda p: (TEAM, {"data": {
        "url": "https://receiver.example.org/hook", "events": ["submitted", "approved"]}})),
    "/workspace/teams/{team_ref}/access/webhooks/{webhook_id}/active": Case(
        ACCESS_MANAGE, lambda p: (_webhook(p), {"data": {"active": "0"}})),
    "/workspace/teams/{team_ref}/access/webhooks/{webhook_id}/secret": Case(ACCESS_MANAGE, lambda p: (_webhook(p), {})),
    "/workspace/teams/{team_ref}/access/webhooks/{webhook_id}/delete": Case(ACCESS_MANAGE, lambda p: (_webhook(p), {})),
    "/workspace/teams/{team_ref}/access/webhooks/deliveries/{delivery_id}/retry": Case(
        ACCESS_MANAGE, lambda p: (_dead_delivery(p), {})),
    "/workspace/tokens": Case(SIGNED_IN, lambda p: ({}, {"data": {"name": "mine", "scope": "read"}})),
    # someone else's token: only an alliance admin (user:manage) may revoke it
    "/workspace/tokens/{token_id}/revoke": Case({"alliance admin"}, lambda p: ({"token_id": _victims_token(p)}, {})),
    # access requests, the custodian's side (tests/access/custodian/matrix.py)
    **{path: Case(allowed, prepare) for path, (allowed, prepare) in custodian_matrix.CASES.items()},
    # access: a dataset's GA4GH DUO data-use conditions (dataset:data-use)
    "/workspace/datasets/{dataset_id}/data-use": Case(DATA_USE, lambda p: (
        {"dataset_id": _dataset(p, publish=True)},
        {"data": {"permission": "DUO:0000007", "diseases": "E11, I21", "modifiers": ["DUO:0000021"]}})),
    # access: the nation whose bank holidays the team's clocks skip (application:manage)
    "/workspace/teams/{team_ref}/access/dashboard/nation": Case(
        {Role.TEAM_ADMIN.value, Role.ACCESS_MANAGER.value, "alliance admin"},
        lambda p: (TEAM, {"data": {"nation": "WLS"}})),
    # a team's data access application form (access.templates): application:manage
    "/workspace/teams/{team_ref}/access/form": Case(ACCESS_MANAGE, lambda p: (TEAM, {"data": {
        "include": [ACCESS_Q], "required": [ACCESS_Q]}})),
    "/workspace/teams/{team_ref}/access/form/publish": Case(ACCESS_MANAGE, lambda p: (TEAM, _access_draft(p))),
    # harvest sources (federation.pages): harvest:manage on the team
    "/workspace/teams/{team_ref}/harvest": Case(HARVEST, lambda p: (TEAM, {"data": _harvest_form()})),
    "/workspace/teams/{team_ref}/harvest/{source_id}": Case(
        HARVEST, lambda p: (_harvest_source(p), {"data": _harvest_form()})),
    "/workspace/teams/{team_ref}/harvest/{source_id}/run": Case(HARVEST, lambda p: (_harvest_source(p), {})),
    "/workspace/teams/{team_ref}/harvest/{source_id}/delete": Case(HARVEST, lambda p: (_harvest_source(p), {})),
    # the data use register (register:manage)
    "/workspace/teams/{team_ref}/data-uses/new": Case(REGISTER, lambda p: (TEAM, {"data": _REGISTER_FORM})),
    "/workspace/teams/{team_ref}/data-uses/{entry_id:uuid}": Case(
        REGISTER, lambda p: (_register_entry(p), {"data": {**_REGISTER_FORM, "project_title": "Changed",
                                                             "row_version": "1"}})),
    "/workspace/teams/{team_ref}/data-uses/{entry_id:uuid}/publish": Case(
        REGISTER, lambda p: (_register_entry(p), {"data": {"row_version": "1"}})),
    "/workspace/teams/{team_ref}/data-uses/{entry_id:uuid}/withdraw": Case(
        REGISTER, lambda p: (_register_entry(p, publish=True), {"data": {"row_version": "2"}})),
    # the data use register's upload (register:manage): the dry run writes nothing, applying the kept file does
    "/workspace/teams/{team_ref}/data-uses/upload": Case(ACCESS_MANAGE, lambda p: (TEAM, _register_file()),
                                                          writes=False),
    "/workspace/teams/{team_ref}/data-uses/upload/apply": Case(ACCESS_MANAGE, lambda p: (TEAM, _register_kept(p))),
}


@pytest.fixture
def people(db, clock, tmp_path):
    return People(db, clock, tmp_path)


def _routes(routes) -> list[APIRoute]:
    """Every route, those of included routers too (FastAPI may keep an included router as one entry)."""
    out = []
    for r in routes:
        inner = getattr(getattr(r, "original_router", None), "routes", None)
        if inner is not None:
            out.extend(_routes(inner))
        elif isinstance(r, APIRoute):
            out.append(r)
    return out


def _forms(app) -> set[str]:
    return {r.path for r in _routes(app.routes) if r.path.startswith("/workspace")
            and r.methods & {"POST", "PUT", "PATCH", "DELETE"}}


def _client(people: People, persona: str) -> TestClient:
    if persona == "anonymous":
        return TestClient(people.app)
    if persona == "researcher":
        return people.browser("Rae Researcher")
    if persona == "other team admin":
        return people.browser("Olly Other", [Role.TEAM_ADMIN], team=people.other_team)
    if persona == "alliance admin":
        return people.browser("Ada Admin", admin=True)
    return people.browser("Member", [Role(persona)])


def _events(people: People) -> int:
    with people.db.sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def test_every_workspace_form_has_a_matrix_entry(people):
    assert _forms(people.app) == set(CASES)


@pytest.mark.parametrize("path", sorted(CASES))
def test_workspace_form_matrix(people, path):
    case = CASES[path]
    outcomes = {}
    for persona in PERSONAS:
        client = _client(people, persona)
        csrf = ""
        if persona != "anonymous":
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/workspace/tokens").text).group(1)
        params, kwargs = case.prepare(people)
        kwargs = {**kwargs, "data": {**kwargs.get("data", {}), "csrf_token": csrf}}
        before = _events(people)
        r = client.post(re.sub(r":\w+}", "}", path).format(**params), follow_redirects=False, **kwargs)
        allowed = persona in case.allowed
        outcomes[persona] = r.status_code
        if allowed:
            assert r.status_code in (200, 201, 303), (persona, r.status_code, r.text[:300])
            assert (_events(people) > before) == case.writes, persona  # the change was recorded
        else:
            assert r.status_code in (401, 403, 404), (persona, r.status_code, r.text[:300])
            assert _events(people) == before, persona  # nothing changed
    assert outcomes["anonymous"] == 401


def _register_csv() -> bytes:
    from tests.register.upload_files import csv_bytes, row

    return csv_bytes([row(uuid.uuid4().int % 10**9)])


def _register_file() -> dict:
    return {"files": {"file": ("register.csv", _register_csv(), "text/csv")}}


def _register_kept(people: People) -> dict:
    """A register file kept by a dry run of the upload page, as the apply form names it."""
    import hashlib

    from healthgate.access import storage

    data = _register_csv()
    sha = hashlib.sha256(data).hexdigest()
    storage.from_settings(people.app.state.settings).put(f"register-uploads/{people.team}/{sha}", data)
    return {"data": {"sha256": sha, "filename": "register.csv", "publish": "on"}}
