"""Where the parts meet, on both databases: files attached on the applicant's edit page (per question and for
the application; a required file question answered by its upload; a refused file shown beside its question),
listed, downloaded and removed; the custodian reads and downloads them, strangers get 404; and the links between
the parts' pages (team page, dashboard, printable view, admin pages) for those allowed only."""

from __future__ import annotations

import re
import uuid

import pytest

from healthgate.access import attachments, templates
from healthgate.access import service as access
from healthgate.context import Context
from healthgate.identity.models import Membership
from healthgate.identity.permissions import SYSTEM, Role
from tests.access.applicant.conftest import app_id_of, version_of
from tests.access.harness import Q1

FILE_Q = "additionalinfo.files.additional-information-files-requested-by-data"
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


@pytest.fixture
def file_form(site):
    """Team A's published form asks one required file question (and Q1, optional)."""
    with site.db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, site.world.clock)
        templates.save_draft(ctx, site.world.teams["A"], [{"id": FILE_Q, "required": True}, {"id": Q1}])
        templates.publish(ctx, site.world.teams["A"])


def start(site, who="applicant"):
    me = site.browser(who)
    r = me.post("/applications", {"dataset": [str(site.world.datasets["A1"])]})
    assert r.status_code == 303, r.text[:300]
    return me, app_id_of(r.headers["location"])


def files_of(site, app_id: str) -> list:
    with site.db.sessions.begin() as s:
        return attachments.list_for(site.world.ctx(s, "applicant"), uuid.UUID(app_id))


def question_block(html: str, qid: str) -> str:
    """The question's block on the form (its input, its files and its error)."""
    m = re.search(rf'<div class="dar-q[^"]*" id="q-{re.escape(qid)}".*?\n  </div>', html, re.DOTALL)
    assert m, f"no question {qid} on the page"
    return m.group(0)


def test_required_file_question_is_answered_by_uploading_on_the_edit_page(site, file_form, db):
    me, app_id = start(site)
    edit = me.get(f"/applications/{app_id}/edit")
    assert 'enctype="multipart/form-data"' in edit.text
    assert f'name="file:{FILE_Q}"' in edit.text and 'name="file" multiple' in edit.text
    # submitting without the file: 422, the missing answer beside its question and in the summary
    r = me.post(f"/applications/{app_id}/edit", {"version": version_of(edit.text), "title": "Heart study",
                                                  "action": "submit"})
    assert r.status_code == 422
    assert "is required" in question_block(r.text, FILE_Q) and f'href="#q-{FILE_Q}"' in r.text
    # uploading the file with the submission answers the question
    r = me.post(f"/applications/{app_id}/edit", {"version": version_of(r.text), "title": "Heart study",
                                                  "action": "submit"},
                files=[(f"file:{FILE_Q}", ("protocol.pdf", PDF, "application/pdf")),
                       ("file", ("", b"", "application/octet-stream"))])  # an empty input is skipped
    assert r.status_code == 303, r.text[:2000]
    assert r.headers["location"].endswith(f"/applications/{app_id}?done=submitted")
    [f] = files_of(site, app_id)
    assert (f.filename, f.question_id, f.content_type, f.size) == ("protocol.pdf", FILE_Q, "application/pdf",
                                                                   len(PDF))
    with db.sessions.begin() as s:
        assert access.load_state(site.world.ctx(s, "applicant"), uuid.UUID(app_id)).submitted
    page = me.get(r.headers["location"])
    assert f'href="/applications/{app_id}/attachments/{f.id}"' in page.text
    assert f'href="/applications/{app_id}/print"' in page.text


def test_refused_files_are_shown_beside_their_question_and_nothing_is_submitted(site, file_form):
    me, app_id = start(site)
    v = version_of(me.get(f"/applications/{app_id}/edit").text)
    # an executable renamed .pdf: 415, beside the question; the answers typed are saved; not submitted
    r = me.post(f"/applications/{app_id}/edit", {"version": v, "title": "Kept title", "action": "submit"},
                files=[(f"file:{FILE_Q}", ("protocol.pdf", EXE, "application/pdf"))])
    assert r.status_code == 415, r.text[:500]
    block = question_block(r.text, FILE_Q)
    assert 'class="field-error"' in block and "protocol.pdf: protocol.pdf is not a PDF file" in block
    assert "some files were not attached, so nothing was submitted" in r.text
    assert 'value="Kept title"' in r.text and "status-draft" in r.text
    assert files_of(site, app_id) == []
    # a type not accepted, for the application as a whole: beside the general file input
    r = me.post(f"/applications/{app_id}/edit", {"version": version_of(r.text), "title": "Kept title"},
                files=[("file", ("tool.exe", EXE, "application/octet-stream"))])
    assert r.status_code == 415
    assert re.search(r'<p class="field-error" id="f-attachments-error-1">tool.exe: attach a PDF', r.text)
    assert 'href="#f-attachments"' in r.text
    # too large: 413, and a good file in the same post is kept
    site.app.state.settings = site.app.state.settings.model_copy(update={"attachment_max_bytes": 1024})
    r = me.post(f"/applications/{app_id}/edit", {"version": version_of(r.text), "title": "Kept title"},
                files=[(f"file:{FILE_Q}", ("big.txt", b"a" * 2000, "text/plain")),
                       (f"file:{FILE_Q}", ("small.txt", b"fine", "text/plain"))])
    assert r.status_code == 413
    assert "big.txt: larger than the limit of 1,024 bytes" in question_block(r.text, FILE_Q)
    assert [f.filename for f in files_of(site, app_id)] == ["small.txt"]


def test_files_are_listed_downloaded_and_removed_while_editable(site, file_form):
    me, app_id = start(site)
    v = version_of(me.get(f"/applications/{app_id}/edit").text)
    r = me.post(f"/applications/{app_id}/edit", {"version": v, "title": "Files"},
                files=[(f"file:{FILE_Q}", ("protocol.pdf", PDF, "application/pdf")),
                       (f"file:{FILE_Q}", ("notes.txt", b"plain notes\n", "text/plain")),
                       ("file", ("budget.csv", b"item,cost\nstorage,10\n", "text/csv"))])
    assert r.status_code == 303 and r.headers["location"].endswith("/edit?done=saved")
    files = {f.filename: f for f in files_of(site, app_id)}
    assert set(files) == {"protocol.pdf", "notes.txt", "budget.csv"}
    assert files["budget.csv"].question_id is None and files["notes.txt"].question_id == FILE_Q
    edit = me.get(r.headers["location"])
    block = question_block(edit.text, FILE_Q)
    assert f'/applications/{app_id}/attachments/{files["protocol.pdf"].id}' in block
    assert f'/applications/{app_id}/attachments/{files["budget.csv"].id}' not in block
    table = re.search(r'<div class="attachments" id="files">.*?</div>', edit.text, re.DOTALL).group(0)
    for f in files.values():
        assert f'action="/applications/{app_id}/attachments/{f.id}/delete"' in table
    assert "the application" in table and "Any additional information" in table
    # download by the signed-in browser: as an attachment, with the stored type, never sniffed
    got = me.get(f"/applications/{app_id}/attachments/{files['protocol.pdf'].id}")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith('attachment; filename="protocol.pdf"')
    assert got.headers["x-content-type-options"] == "nosniff"
    # strangers: 404; anonymous: sign in first
    assert site.browser("stranger").get(f"/applications/{app_id}/attachments/{files['protocol.pdf'].id}"
                                        ).status_code == 404
    anon = site.browser(None).get(f"/applications/{app_id}/attachments/{files['protocol.pdf'].id}")
    assert anon.status_code == 303 and "/login?next=" in anon.headers["location"]
    assert site.browser("stranger").post(f"/applications/{app_id}/attachments/{files['notes.txt'].id}/delete"
                                         ).status_code == 404
    # remove one
    r = me.post(f"/applications/{app_id}/attachments/{files['notes.txt'].id}/delete")
    assert r.status_code == 303 and "done=file_deleted" in r.headers["location"]
    assert {f.filename for f in files_of(site, app_id)} == {"protocol.pdf", "budget.csv"}
    assert me.get(f"/applications/{app_id}/attachments/{files['notes.txt'].id}").status_code == 404
    # once submitted, files cannot be removed (409) and the application page lists them read-only
    r = me.post(f"/applications/{app_id}/command", {"command": "submit",
                                                     "version": version_of(me.get(f"/applications/{app_id}").text)})
    assert r.status_code == 303, r.text[:1000]
    r = me.post(f"/applications/{app_id}/attachments/{files['budget.csv'].id}/delete")
    assert r.status_code == 409
    page = me.get(f"/applications/{app_id}")
    assert f'/applications/{app_id}/attachments/{files["budget.csv"].id}"' in page.text
    assert "/delete" not in re.search(r'<div class="attachments" id="files">.*?</div>', page.text,
                                      re.DOTALL).group(0)


def test_custodian_reads_and_downloads_the_files_strangers_get_404(site, file_form):
    me, app_id = start(site)
    v = version_of(me.get(f"/applications/{app_id}/edit").text)
    r = me.post(f"/applications/{app_id}/edit", {"version": v, "title": "For the custodian", "action": "submit"},
                files=[(f"file:{FILE_Q}", ("protocol.pdf", PDF, "application/pdf"))])
    assert r.status_code == 303
    [f] = files_of(site, app_id)
    link = f"/applications/{app_id}/attachments/{f.id}"
    for who in ("manager_A", "reviewer_A"):
        custodian = site.browser(who)
        page = custodian.get(f"/workspace/teams/{site.world.teams['A']}/applications/{app_id}")
        assert page.status_code == 200, page.text[:500]
        assert f'href="{link}"' in page.text and f'href="/applications/{app_id}/print"' in page.text
        assert "/delete" not in page.text
        got = custodian.get(link)
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-disposition"].startswith("attachment;")
        printed = custodian.get(f"/applications/{app_id}/print")
        assert printed.status_code == 200 and f'href="{link}"' in printed.text
    for who in ("stranger", "manager_B", "reviewer_B"):
        assert site.browser(who).get(link).status_code == 404


def test_links_between_the_parts_for_those_allowed(site, file_form):
    team_a = site.world.teams["A"]
    with site.db.sessions.begin() as s:  # a metadata editor of team A: a member without access roles
        s.add(Membership(team_id=team_a, user_id=site.world.people["stranger"],
                         role=Role.METADATA_EDITOR.value, created_at=site.world.clock.now()))
    pages = {who: site.browser(who).get(f"/workspace/teams/{team_a}") for who in
             ("manager_A", "reviewer_A", "admin", "stranger")}
    slug = re.search(r'href="/workspace/teams/([^/"]+)/applications"', pages["manager_A"].text).group(1)
    base = f"/workspace/teams/{slug}/access"
    for who in ("manager_A", "admin"):
        assert pages[who].status_code == 200
        for path in ("/dashboard", "/form", "/webhooks"):
            assert f'href="{base}{path}"' in pages[who].text, (who, path)
    assert f'href="{base}/dashboard"' in pages["reviewer_A"].text and f'href="{base}/form"' in pages["reviewer_A"].text
    assert f'href="{base}/webhooks"' not in pages["reviewer_A"].text
    assert pages["stranger"].status_code == 200
    assert f"{base}/" not in pages["stranger"].text
    # every linked page opens for those it is shown to
    for who, paths in (("manager_A", ("/dashboard", "/form", "/webhooks")), ("reviewer_A", ("/dashboard", "/form"))):
        for path in paths:
            assert site.browser(who).get(base + path).status_code == 200, (who, path)
    # the dashboard's queue links each row to the custodian's part page
    me, app_id = start(site)
    v = version_of(me.get(f"/applications/{app_id}/edit").text)
    assert me.post(f"/applications/{app_id}/edit", {"version": v, "title": "Queued", "action": "submit"},
                   files=[(f"file:{FILE_Q}", ("p.pdf", PDF, "application/pdf"))]).status_code == 303
    board = site.browser("manager_A").get(f"{base}/dashboard")
    assert f'href="/workspace/teams/{slug}/applications/{app_id}"' in board.text
    # the applicant's pages link the printable view
    assert f'href="/applications/{app_id}/print"' in me.get(f"/applications/{app_id}").text
    # the admin pages are linked from an alliance admin's account page, and only there
    admin = site.browser("admin").get("/account")
    for path in ("/admin/access/standards", "/admin/access/question-bank", "/admin/audit"):
        assert f'href="{path}"' in admin.text
    assert "/admin/access" not in site.browser("applicant").get("/account").text
