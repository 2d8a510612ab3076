"""The custodian workspace over HTTP, on both databases, signed in by browser session: the dataset form, inline
errors, drafts, preview, diff, publish, archive, uploads with a dry run, members and tokens; who may do what;
and that nothing of a draft shows to anyone outside its team."""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from healthgate.app import create_app
from healthgate.audit.models import AuditEvent
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import service as identity
from healthgate.identity import sessions, users
from healthgate.identity.models import ApiToken, Membership
from healthgate.identity.permissions import SYSTEM, Role
from tests.conftest import CORPUS, load_fixture


class People:
    """One app and a browser (a TestClient with its own session cookie) per person."""

    def __init__(self, db, clock, tmp_path):
        self.db, self.clock = db, clock
        self.app = create_app(Settings(data_dir=tmp_path, database_url=db.url), clock=clock)
        with db.sessions.begin() as s:
            ctx = Context(s, SYSTEM, clock)
            self.team = identity.get_or_create_team(ctx, "Wessex Heart", member_group="ALLIANCE").id
            self.other_team = identity.get_or_create_team(ctx, "Other Unit", member_group=None).id

    def browser(self, name: str, roles=(), *, team=None, admin: bool = False) -> TestClient:
        """A signed-in person holding ``roles`` in the team (sign-in: a session started for them)."""
        with self.db.sessions.begin() as s:
            ctx = Context(s, SYSTEM, self.clock)
            email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.org"
            user = users.create_user(ctx, email, name, is_admin=admin, verified=True)
            for role in roles:
                s.add(Membership(team_id=team or self.team, user_id=user.id, role=role.value,
                                 created_at=self.clock.now()))
            s.flush()
            cookie = sessions.start(ctx, user, "password")
        client = TestClient(self.app, cookies={sessions.COOKIE: cookie})
        client.email = email  # type: ignore[attr-defined]
        return client

    def count(self, model) -> int:
        with self.db.sessions() as s:
            return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def people(db, clock, tmp_path):
    return People(db, clock, tmp_path)


def _csrf(client: TestClient, url: str = "/workspace/tokens") -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text[:300]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _post(client, url, data, csrf=None, **kw):
    return client.post(url, data={**data, "csrf_token": csrf or _csrf(client)}, follow_redirects=False, **kw)


def _field_error(html: str, name: str) -> str | None:
    fid = "f-" + name.replace(".", "-").replace("[", "-").replace("]", "")
    m = re.search(rf'id="{re.escape(fid)}-error"><span class="visually-hidden">Error: </span>([^<]*)<', html)
    return html_lib.unescape(m.group(1)) if m else None


def _form_fields(doc: dict) -> dict[str, list[str]]:
    from healthgate.catalogue import forms

    return forms.values(doc)


def _create(client, team_slug="wessex-heart", **fields) -> str:
    r = _post(client, f"/workspace/teams/{team_slug}/datasets/new", fields)
    assert r.status_code == 303, r.text[:500]
    return re.search(r"/workspace/datasets/([0-9a-f-]+)/edit", r.headers["location"]).group(1)


def test_the_form_is_generated_from_the_schema(people):
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    html = editor.get("/workspace/teams/wessex-heart/datasets/new").text
    # sections, required marks, choices from the schema's enumerations, repeatable groups, help text
    for section in ("Summary", "Coverage", "Provenance", "Accessibility", "Observations", "Structural metadata"):
        assert f">{section}</h2>" in html
    assert re.search(r'<label for="f-summary-title">Title <span class="req">\(required\)</span>', html)
    assert re.search(r'<label for="f-summary-doiName">[^<]*</label>', html)  # optional: no mark
    assert '<option value="Annual"' in html  # publishing frequency choices
    assert 'value="add:observations"' in html and 'value="add:structuralMetadata.tables[0].columns"' in html
    assert "Title of the dataset limited to 150 characters" in html
    assert "<script" not in html.split("</head>")[1]  # no inline script
    assert 'value="Wessex Heart"' in html  # the custodian filled in from the team


def test_editor_sees_inline_errors_saves_a_draft_and_cannot_publish(people):
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    csrf = _csrf(editor)
    # no title: refused, shown beside the title field, nothing stored
    r = _post(editor, "/workspace/teams/wessex-heart/datasets/new",
              {"summary.abstract": "Annual audit of anticoagulation", "summary.populationSize": "lots"}, csrf)
    assert r.status_code == 422
    assert _field_error(r.text, "summary.title") == "a dataset needs a title"
    assert 'value="Annual audit of anticoagulation"' in r.text  # what was typed is kept
    assert people.count(Dataset) == 0
    # with a title: saved as a draft; the schema's complaints show beside their fields
    dsid = _create(editor, **{"summary.title": "Wessex AF audit", "summary.populationSize": "lots"})
    page = editor.get(f"/workspace/datasets/{dsid}/edit?saved=1").text
    assert "Draft saved." in page
    assert _field_error(page, "summary.populationSize") == '"lots" is not of type "integer"'
    assert _field_error(page, "summary.contactPoint") == "required field is missing"
    # fix it: the error goes
    fields = {k: v for k, v in _form_fields({"summary": {"title": "Wessex AF audit", "populationSize": 38211}}).items()}
    r = _post(editor, f"/workspace/datasets/{dsid}/edit", fields, csrf)
    assert r.status_code == 303
    page = editor.get(f"/workspace/datasets/{dsid}/edit").text
    assert _field_error(page, "summary.populationSize") is None
    # an editor may not publish
    assert "/publish" not in editor.get(f"/workspace/datasets/{dsid}").text
    assert _post(editor, f"/workspace/datasets/{dsid}/publish", {}, csrf).status_code == 403
    with people.db.sessions() as s:
        assert s.get(Dataset, uuid.UUID(dsid)).latest_version == 0


def test_manager_previews_diffs_publishes_archives(people):
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    manager = people.browser("Manny Manager", [Role.METADATA_MANAGER])
    outsider = people.browser("Otto Outsider", [Role.TEAM_ADMIN], team=people.other_team)
    anonymous = TestClient(people.app)
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    doc["identifier"] = str(uuid.uuid4())
    dsid = _create(editor, **_form_fields(doc))
    assert dsid == doc["identifier"]  # the form's identifier is the persistent id
    # preview: the public page of the draft, to the team only
    preview = manager.get(f"/workspace/datasets/{dsid}/preview")
    assert preview.status_code == 200 and "Preview of the draft" in preview.text
    assert "<h1>Wessex Atrial Fibrillation Audit</h1>" in preview.text
    assert preview.headers["cache-control"] == "no-store"
    for who, status in ((outsider, 404), (anonymous, 401)):
        for path in ("", "/preview", "/diff", "/edit"):
            r = who.get(f"/workspace/datasets/{dsid}{path}")
            assert r.status_code == status, (path, r.status_code)
            assert "Wessex Atrial" not in r.text
    assert anonymous.get(f"/datasets/{dsid}").status_code == 404
    assert "Wessex Atrial" not in anonymous.get("/search?q=wessex").text
    # the diff of a never-published draft lists what will be published
    assert "What will be published" in manager.get(f"/workspace/datasets/{dsid}/diff").text
    csrf = _csrf(manager)
    r = _post(manager, f"/workspace/datasets/{dsid}/publish", {}, csrf)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=publish")
    assert anonymous.get(f"/datasets/{dsid}").status_code == 200
    assert "Wessex Atrial Fibrillation Audit" in anonymous.get("/search?q=anticoagulation").text
    # a second draft: the diff names the changed field against version 1
    doc["summary"]["title"] = "Wessex Atrial Fibrillation Audit (revised)"
    assert _post(editor, f"/workspace/datasets/{dsid}/edit", _form_fields(doc)).status_code == 303
    diff = manager.get(f"/workspace/datasets/{dsid}/diff").text
    assert "Draft against version 1" in diff and "$.summary.title" in diff and "(revised)" in diff
    assert "(revised)" not in anonymous.get(f"/datasets/{dsid}").text  # drafts never leak
    # a stale form (someone saved meanwhile) is refused, not silently overwritten
    r = _post(manager, f"/workspace/datasets/{dsid}/publish", {"row_version": "1"}, csrf)
    assert r.status_code == 409
    assert _post(manager, f"/workspace/datasets/{dsid}/publish", {}, csrf).status_code == 303
    assert "(revised)" in anonymous.get(f"/datasets/{dsid}").text
    # archive and unarchive
    assert _post(manager, f"/workspace/datasets/{dsid}/archive", {}, csrf).status_code == 303
    assert anonymous.get(f"/datasets/{dsid}").status_code == 410
    team_page = manager.get("/workspace/teams/wessex-heart?status=archived").text
    assert "(revised)" in team_page and "Archived (1)" in team_page
    assert _post(manager, f"/workspace/datasets/{dsid}/unarchive", {}, csrf).status_code == 303
    assert anonymous.get(f"/datasets/{dsid}").status_code == 200
    with people.db.sessions() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == dsid)))
    assert {"dataset.created", "dataset.draft_updated", "dataset.published", "dataset.archived",
            "dataset.unarchived"} <= actions


def test_publishing_a_draft_with_schema_problems_says_which(people):
    manager = people.browser("Manny Manager", [Role.METADATA_MANAGER])
    dsid = _create(manager, **{"summary.title": "Half done"})
    r = _post(manager, f"/workspace/datasets/{dsid}/publish", {})
    assert r.status_code == 422
    assert "Not done: the document does not follow its schema" in r.text
    assert "summary.contactPoint</a>: required field is missing" in r.text
    # publish anyway, with the box ticked
    assert _post(manager, f"/workspace/datasets/{dsid}/publish", {"accept_invalid": "1"}).status_code == 303
    with people.db.sessions() as s:
        assert s.scalar(select(DatasetVersion.schema_valid).where(DatasetVersion.dataset_id == uuid.UUID(dsid))) \
            is False


def test_add_another_and_remove_change_the_form_not_the_draft(people):
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    dsid = _create(editor, **{"summary.title": "Items"})
    fields = {"summary.title": "Items", "observations[0]": "", "observations[0].measuredValue": "5",
              "op": "add:observations"}
    r = _post(editor, f"/workspace/datasets/{dsid}/edit", fields)
    assert r.status_code == 200 and "Not saved yet" in r.text
    assert 'name="observations[1].measuredValue"' in r.text and 'id="f-observations-1" tabindex="-1" autofocus' in r.text
    r = _post(editor, f"/workspace/datasets/{dsid}/edit", {**fields, "op": "remove:observations[0]"})
    assert 'name="observations[0].measuredValue" value=""' in r.text
    with people.db.sessions() as s:
        assert s.get(Dataset, uuid.UUID(dsid)).draft["metadata"]["observations"] == []


def test_forms_need_this_sessions_csrf_token(people):
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    other = people.browser("Edna Editor", [Role.METADATA_EDITOR])
    theirs = _csrf(other)
    for token in ("", "forged", theirs):
        r = editor.post("/workspace/teams/wessex-heart/datasets/new",
                        data={"summary.title": "Forged", "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403
    assert people.count(Dataset) == 0
    # not signed in at all: 401 before anything else
    r = TestClient(people.app).post("/workspace/teams/wessex-heart/datasets/new", data={"summary.title": "x"})
    assert r.status_code == 401


def test_teams_page_lists_drafts_published_and_archived_to_the_team_only(people):
    manager = people.browser("Manny Manager", [Role.METADATA_MANAGER])
    reviewer = people.browser("Rita Reviewer", [Role.REVIEWER])
    admin = people.browser("Alice Admin", admin=True)
    nobody = people.browser("Nora Nobody")
    _create(manager, **{"summary.title": "Secret draft"})
    public = _create(manager, **_form_fields(load_fixture("hdruk-4.0.0-minimal.json") | {"identifier": str(uuid.uuid4())}))
    assert _post(manager, f"/workspace/datasets/{public}/publish", {}).status_code == 303
    home = manager.get("/workspace").text
    assert "Wessex Heart" in home and "Other Unit" not in home and "Metadata manager" in home
    team = manager.get("/workspace/teams/wessex-heart").text
    assert "Secret draft" in team and "Wessex Atrial Fibrillation Audit" in team and "never published" in team
    assert "New dataset" in team and "Upload" in team
    assert "Other Unit" in admin.get("/workspace").text  # an alliance admin sees every team
    # someone without draft rights sees only what is public
    for who in (reviewer, nobody):
        page = who.get("/workspace/teams/wessex-heart")
        assert page.status_code == 200 and "Secret draft" not in page.text
        assert "Wessex Atrial Fibrillation Audit" in page.text and "New dataset" not in page.text
    assert "not a member of any team" in nobody.get("/workspace").text
    assert nobody.get("/workspace/teams/wessex-heart/datasets/new").status_code == 403
    # not even the "add another" button echoes the form to someone who may not edit
    assert _post(nobody, "/workspace/teams/wessex-heart/datasets/new", {"op": "add:observations"}).status_code == 403


def _legacy_csv(rows: int) -> bytes:
    with CORPUS.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        out = io.StringIO()
        writer = csv.writer(out)
        for i, row in enumerate(reader):
            if i > rows:
                break
            writer.writerow(row)
    return out.getvalue().encode()


def test_upload_shows_a_dry_run_then_imports(people):
    manager = people.browser("Manny Manager", [Role.METADATA_MANAGER])
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    csrf = _csrf(manager)
    doc = load_fixture("hdruk-4.0.0-minimal.json")
    broken = {"summary": {"abstract": "no title"}}
    body = json.dumps([doc, broken]).encode()
    r = manager.post("/workspace/teams/wessex-heart/upload", data={"csrf_token": csrf},
                     files={"file": ("catalogue.json", body, "application/json")})
    assert r.status_code == 422 and "<strong>1</strong> would be created" in r.text
    assert "<strong>1</strong> refused" in r.text and "catalogue.json[1]" in r.text
    assert "upload/confirm" not in r.text and "/tmp" not in r.text  # nothing to confirm; no server paths
    # a good file: dry run, nothing written, then confirmed
    r = manager.post("/workspace/teams/wessex-heart/upload", data={"csrf_token": csrf},
                     files={"file": ("catalogue.json", json.dumps([doc]).encode(), "application/json")})
    assert r.status_code == 200 and "Dry run of catalogue.json: nothing written yet" in r.text
    assert people.count(Dataset) == 0
    content = re.search(r'name="content" value="([^"]+)"', r.text).group(1)
    r = _post(manager, "/workspace/teams/wessex-heart/upload/confirm",
              {"filename": "catalogue.json", "content": content}, csrf)
    assert r.status_code == 200 and "Imported catalogue.json" in r.text and "<strong>1</strong> created" in r.text
    with people.db.sessions() as s:
        assert s.get(Dataset, uuid.UUID(doc["identifier"])).team_id == people.team
    # the legacy gateway CSV: the same dry run, every row into this team
    r = manager.post("/workspace/teams/wessex-heart/upload", data={"csrf_token": csrf},
                     files={"file": ("export.csv", _legacy_csv(3), "text/csv")})
    assert r.status_code == 200 and "<strong>3</strong> would be created" in r.text
    assert people.count(Dataset) == 1
    # importing publishes: an editor is refused, record by record
    r = editor.post("/workspace/teams/wessex-heart/upload", data={"csrf_token": _csrf(editor)},
                    files={"file": ("export.csv", _legacy_csv(1), "text/csv")})
    assert r.status_code == 403 and "you may not dataset:import" in r.text
    r = _post(editor, "/workspace/teams/wessex-heart/upload/confirm", {"filename": "x.json", "content": "!!"})
    assert r.status_code == 403
    r = _post(manager, "/workspace/teams/wessex-heart/upload/confirm", {"filename": "x.json", "content": "!!"}, csrf)
    assert r.status_code == 422 and "upload the file again" in r.text


def test_members_page_team_admin_adds_and_removes(people):
    admin = people.browser("Tess Teamadmin", [Role.TEAM_ADMIN])
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    newcomer = people.browser("Nick Newcomer")
    csrf = _csrf(admin)
    page = admin.get("/workspace/teams/wessex-heart/members").text
    assert "Tess Teamadmin" in page and "Add a member" in page
    r = _post(admin, "/workspace/teams/wessex-heart/members",
              {"email": newcomer.email.upper(), "role": Role.METADATA_EDITOR.value}, csrf)
    assert r.status_code == 303
    assert "Wessex Heart" in newcomer.get("/workspace").text  # the role counts at once
    r = _post(admin, "/workspace/teams/wessex-heart/members",
              {"email": "nobody-here@example.org", "role": Role.METADATA_EDITOR.value}, csrf)
    assert r.status_code == 303 and r.headers["location"].endswith("/members?done=invited")
    assert "an invitation has been emailed" in admin.get(r.headers["location"]).text
    with people.db.sessions() as s:  # the invitation went to the outbox, with its single-use link
        from healthgate.outbox.models import OutboxMessage

        mail = [m.payload for m in s.scalars(select(OutboxMessage)) if m.payload["to"] == "nobody-here@example.org"]
    assert len(mail) == 1 and "/invitations/" in mail[0]["body"]
    assert _post(admin, "/workspace/teams/wessex-heart/members", {"email": "x@example.org", "role": "king"},
                 csrf).status_code == 422
    # an editor sees the members, may not change them
    page = editor.get("/workspace/teams/wessex-heart/members").text
    assert "Tess Teamadmin" in page and "Add a member" not in page
    assert _post(editor, "/workspace/teams/wessex-heart/members",
                 {"email": editor.email, "role": Role.TEAM_ADMIN.value}).status_code == 403
    # the last team admin stays
    with people.db.sessions() as s:
        admin_id = s.scalar(select(Membership.user_id).where(Membership.role == Role.TEAM_ADMIN.value))
    r = _post(admin, "/workspace/teams/wessex-heart/members/remove",
              {"user": str(admin_id), "role": Role.TEAM_ADMIN.value}, csrf)
    assert r.status_code == 409
    with people.db.sessions() as s:
        newcomer_id = users.find_by_email(Context(s, SYSTEM, people.clock), newcomer.email).id
    assert _post(admin, "/workspace/teams/wessex-heart/members/remove",
                 {"user": str(newcomer_id), "role": Role.METADATA_EDITOR.value}, csrf).status_code == 303
    assert "Wessex Heart" not in newcomer.get("/workspace").text
    assert TestClient(people.app).get("/workspace/teams/wessex-heart/members").status_code == 401


def test_my_tokens_are_shown_once_listed_and_revoked(people):
    me = people.browser("Manny Manager", [Role.METADATA_MANAGER])
    someone = people.browser("Sam Someone")
    csrf = _csrf(me)
    r = _post(me, "/workspace/tokens", {"name": "nightly sync", "scope": "write", "teams": str(people.team),
                                        "expires_days": "30"}, csrf)
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    token = re.search(r'<code id="new-token" class="token">(hg_[^<]+)</code>', r.text).group(1)
    listed = me.get("/workspace/tokens").text
    assert "nightly sync" in listed and token not in listed and token[:10] in listed
    # the token works on the API, within its owner's powers
    assert TestClient(people.app).get("/api/v1/datasets", headers={"Authorization": f"Bearer {token}"}).status_code \
        == 200
    assert _post(me, "/workspace/tokens", {"name": " ", "scope": "read"}, csrf).status_code == 422
    assert _post(me, "/workspace/tokens", {"name": "x", "scope": "admin"}, csrf).status_code == 422
    with people.db.sessions() as s:
        token_id = s.scalar(select(ApiToken.id).where(ApiToken.name == "nightly sync"))
    # someone else cannot revoke it (it is not theirs: 404), the owner can
    assert _post(someone, f"/workspace/tokens/{token_id}/revoke", {}).status_code == 404
    assert _post(me, f"/workspace/tokens/{token_id}/revoke", {}, csrf).status_code == 303
    assert TestClient(people.app).get("/api/v1/datasets", headers={"Authorization": f"Bearer {token}"}).status_code \
        == 401
    assert "revoked" in me.get("/workspace/tokens").text


def test_discarding_a_never_published_draft_and_starting_again(people):
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    csrf = _csrf(editor)
    dsid = _create(editor, **{"summary.title": "Short lived"})
    r = _post(editor, f"/workspace/datasets/{dsid}/discard", {}, csrf)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=discard")
    assert "Short lived" not in editor.get("/workspace/teams/wessex-heart").text
    assert "(untitled)" not in editor.get("/workspace/teams/wessex-heart").text  # the empty shell is not listed
    page = editor.get(f"/workspace/datasets/{dsid}/edit")
    assert page.status_code == 200 and f'value="{dsid}"' in page.text
    assert _post(editor, f"/workspace/datasets/{dsid}/edit", {"summary.title": "Back again"}, csrf).status_code == 303
    assert "Back again" in editor.get("/workspace/teams/wessex-heart").text
    assert _post(editor, f"/workspace/datasets/{dsid}/discard", {}, csrf).status_code == 303
    assert _post(editor, f"/workspace/datasets/{dsid}/discard", {}, csrf).status_code == 409  # nothing left to discard


def test_a_draft_in_an_older_schema_is_edited_in_4_0_0(people):
    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    old = load_fixture("hdruk-2.1.2-full.json")
    with people.db.sessions.begin() as s:
        from healthgate.catalogue import service

        dataset, checked = service.create_draft(Context(s, SYSTEM, people.clock), people.team, old)
        dsid, title = str(dataset.id), checked.extracted.title
    page = editor.get(f"/workspace/datasets/{dsid}/edit").text
    assert "This draft is in HDR UK 2.1.2; the form shows it in 4.0.0" in page
    assert f'value="{html_lib.escape(title, quote=True)}"' in page
    r = _post(editor, f"/workspace/datasets/{dsid}/edit", {"summary.title": title + " (4.0.0)"})
    assert r.status_code == 303
    with people.db.sessions() as s:
        draft = s.get(Dataset, uuid.UUID(dsid)).draft
    assert draft["schemaVersion"] == "4.0.0" and draft["metadata"]["summary"]["title"].endswith("(4.0.0)")


def test_a_huge_structural_metadata_section_is_kept_not_edited(people):
    from healthgate.catalogue import forms, service

    editor = people.browser("Edith Editor", [Role.METADATA_EDITOR])
    doc = load_fixture("hdruk-4.0.0-full.json")
    table = doc["structuralMetadata"]["tables"][0]
    doc["structuralMetadata"]["tables"] = [dict(table, name=f"t{i}", columns=table["columns"] * 40) for i in range(8)]
    with people.db.sessions.begin() as s:
        dataset, _ = service.create_draft(Context(s, SYSTEM, people.clock), people.team,
                                          {"schemaVersion": "4.0.0", "metadata": doc})
        dsid = str(dataset.id)
    page = editor.get(f"/workspace/datasets/{dsid}/edit").text
    assert "too large to edit field by field" in page
    assert f'name="structuralMetadata{forms.KEPT_MARK}"' in page
    assert 'name="structuralMetadata.tables[0].name"' not in page
    assert len(page) < 400_000
