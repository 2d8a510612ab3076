"""Attachments: the storage interface round trip (local directory, and S3 against moto's server on
127.0.0.1), size and type limits by content, and who may add, list, download and delete (both databases)."""

from __future__ import annotations

import io
import socket
import zipfile

import pytest
from sqlalchemy import select

from healthgate.access import attachments, forms
from healthgate.access import service as access
from healthgate.access.storage import LocalStorage, S3Storage, check_key
from healthgate.audit.models import AuditEvent
from healthgate.errors import Conflict, NotFound, TooLarge, UnsupportedMediaType
from tests.access.harness import build

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64 + b"This program cannot be run"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17


def _zip(names: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in names.items():
            z.writestr(name, data)
    return buf.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>"})


@pytest.mark.parametrize(("name", "data"), [
    ("protocol.pdf", PDF), ("letter.docx", DOCX), ("fields.xlsx", XLSX), ("plan.odt", ODT), ("diagram.png", PNG),
    ("photo.JPG", b"\xff\xd8\xff\xe0\x00\x10JFIF"), ("fields.csv", b"table,field\nGP,dob\n"),
    ("notes.txt", "Café données\n".encode())])
def test_accepted_types(name, data):
    assert attachments.check_file(name, data, 1024)[0] == name


@pytest.mark.parametrize(("name", "data"), [
    ("cv.pdf", EXE), ("cv.exe", EXE), ("letter.docx", XLSX), ("plan.odt", DOCX), ("notes.txt", EXE),
    ("archive.zip", DOCX), ("image.png", PDF), ("noextension", PDF), ("fake.docx", b"PK\x03\x04broken")])
def test_refused_types(name, data):
    with pytest.raises(UnsupportedMediaType):
        attachments.check_file(name, data, 1024 * 1024)


def test_oversized_is_refused():
    with pytest.raises(TooLarge) as big:
        attachments.check_file("protocol.pdf", PDF + b"x" * 2048, 1024)
    assert big.value.errors[0].path == "file"


def test_keys_are_checked(tmp_path):
    for bad in ("../etc/passwd", "/abs", "a/../b", "a//b", ""):
        with pytest.raises(ValueError):
            check_key(bad)
    store = LocalStorage(tmp_path)
    with pytest.raises(ValueError):
        store.put("../x", b"no")


def _round_trip(store):
    key = "applications/abc/one"
    assert not store.exists(key)
    store.put(key, PDF, "application/pdf")
    assert store.exists(key)
    assert store.get(key) == PDF
    store.put(key, b"second", "text/plain")
    assert store.get(key) == b"second"
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(NotFound):
        store.get(key)
    store.delete(key)  # deleting what is not there is fine


def test_local_storage_round_trip(tmp_path):
    _round_trip(LocalStorage(tmp_path / "attachments"))
    assert not list((tmp_path / "attachments").rglob(".upload-*"))


@pytest.fixture(scope="module")
def moto_s3():
    """moto's S3 server on 127.0.0.1 (a test extra); the bucket ``healthgate``."""
    boto3 = pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="eu-west-2",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="healthgate", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    yield port
    server.stop()


def test_s3_storage_round_trip_against_moto(moto_s3):
    store = S3Storage("healthgate", prefix="dar", endpoint_url=f"http://127.0.0.1:{moto_s3}", region="eu-west-2",
                      access_key_id="testing", secret_access_key="testing")
    _round_trip(store)
    store.put("applications/x/y", b"kept", "text/plain")
    keys = [o["Key"] for o in store.client.list_objects_v2(Bucket="healthgate")["Contents"]]
    assert keys == ["dar/applications/x/y"]


@pytest.fixture
def world(db, clock):
    return build(db.sessions, clock)


def test_applicant_adds_custodian_downloads_nobody_else(db, world, tmp_path):
    w = world
    store = LocalStorage(tmp_path / "files")
    with db.sessions.begin() as s:
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    with db.sessions.begin() as s:
        row = attachments.add(w.ctx(s, "applicant"), store, app_id, "C:\\Users\\me\\protocol.pdf", PDF)
        att_id = row.id
        assert row.filename == "protocol.pdf" and row.content_type == "application/pdf" and row.size == len(PDF)
        with pytest.raises(TooLarge):
            attachments.add(w.ctx(s, "applicant"), store, app_id, "big.pdf", PDF + b"0" * 2048, max_bytes=1024)
        with pytest.raises(UnsupportedMediaType):
            attachments.add(w.ctx(s, "applicant"), store, app_id, "cv.pdf", EXE)
        for who in ("stranger", "manager_A", "collaborator"):  # a draft is the applicant's alone
            with pytest.raises(NotFound):
                attachments.list_for(w.ctx(s, who), app_id)
    with db.sessions.begin() as s:
        files = forms.form_for(w.ctx(s, "applicant"), access.get(w.ctx(s, "applicant"), app_id).state).attachments
        assert files == {str(att_id): "protocol.pdf"}
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    with db.sessions.begin() as s:
        assert attachments.download(w.ctx(s, "reviewer_A"), store, app_id, att_id).data == PDF
        assert [a.id for a in attachments.list_for(w.ctx(s, "manager_A"), app_id)] == [att_id]
        for who in ("stranger", "manager_B"):
            with pytest.raises(NotFound):
                attachments.download(w.ctx(s, who), store, app_id, att_id)
        with pytest.raises(Conflict):  # submitted: no longer editable
            attachments.delete(w.ctx(s, "applicant"), store, app_id, att_id)
        with pytest.raises(NotFound):
            attachments.add(w.ctx(s, "manager_A"), store, app_id, "x.pdf", PDF)
    with db.sessions.begin() as s:
        access.run(w.ctx(s, "manager_A"), app_id, "return", {"reason": "Replace the protocol"})
    with db.sessions.begin() as s:
        attachments.delete(w.ctx(s, "applicant"), store, app_id, att_id)
        assert attachments.list_for(w.ctx(s, "applicant"), app_id) == []
        assert not store.exists(f"applications/{app_id}/{att_id}")
        actions = sorted(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("attachment.%"))))
        assert actions == ["attachment.added", "attachment.deleted", "attachment.downloaded"]


def test_a_required_file_question_is_answered_by_uploading_for_it(db, world, tmp_path):
    from healthgate.access import templates
    from healthgate.errors import Invalid

    w = world
    files_q = "additionalinfo.files.additional-information-files-requested-by-data"
    store = LocalStorage(tmp_path / "files")
    with db.sessions.begin() as s:
        templates.save_draft(w.ctx(s, "manager_A"), w.teams["A"], [{"id": files_q, "required": True}])
        templates.publish(w.ctx(s, "manager_A"), w.teams["A"])
        app_id = access.create(w.ctx(s, "applicant"), [w.datasets["A1"]]).id
    with db.sessions.begin() as s, pytest.raises(Invalid) as missing:
        access.run(w.ctx(s, "applicant"), app_id, "submit")
    assert [e.path for e in missing.value.errors] == [f"answers/{files_q}"]
    with db.sessions.begin() as s:
        with pytest.raises(Invalid):
            attachments.add(w.ctx(s, "applicant"), store, app_id, "a.pdf", PDF, question_id="no.such")
        row = attachments.add(w.ctx(s, "applicant"), store, app_id, "letter.pdf", PDF, question_id=files_q)
        state = access.get(w.ctx(s, "applicant"), app_id).state
        assert forms.form_for(w.ctx(s, "applicant"), state).index()[files_q].answer == [str(row.id)]
        with pytest.raises(Invalid):  # an answer may name only this application's files
            access.run(w.ctx(s, "applicant"), app_id, "save", {"answers": {files_q: ["not-a-file"]}})
        assert access.run(w.ctx(s, "applicant"), app_id, "submit").state.submitted
