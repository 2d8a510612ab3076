"""Files attached to an application: added and deleted by its applicant side while it can be edited; listed
and downloaded by whoever may read the application (its applicant side, the custodian teams of its parts).
Each file is checked for size and for type by its content (magic bytes and, for the office formats, the
parts of the ZIP package), not by its name; a file whose content does not match its name's type is refused."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy import func, select

from healthgate.access import service
from healthgate.access.lifecycle import Command
from healthgate.access.models import Attachment
from healthgate.access.storage import Storage
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound, TooLarge, UnsupportedMediaType

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_PER_APPLICATION = 100
# extension -> (content type, what it is)
TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "PDF"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word document"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel workbook"),
    "odt": ("application/vnd.oasis.opendocument.text", "OpenDocument text"),
    "csv": ("text/csv", "CSV"),
    "txt": ("text/plain", "plain text"),
    "png": ("image/png", "PNG image"),
    "jpg": ("image/jpeg", "JPEG image"),
    "jpeg": ("image/jpeg", "JPEG image"),
}
ALLOWED = "PDF, DOCX, XLSX, ODT, CSV, TXT, PNG or JPEG"


def sniff(data: bytes) -> str | None:
    """The type the content is (an extension of TYPES), from its bytes alone; None: none we accept."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    if _text(data):
        return "txt"
    return None


def _office(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if "mimetype" in names and z.read("mimetype").strip() == b"application/vnd.oasis.opendocument.text":
                return "odt"
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return "docx"
                if any(n.startswith("xl/") for n in names):
                    return "xlsx"
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
        return None
    return None


def _text(data: bytes) -> bool:
    """Text (UTF-8, or the Latin-1 a spreadsheet exports) without control bytes other than tab and line ends."""
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return not any(ord(c) < 32 and c not in "\t\r\n\f" for c in text)


def check_file(filename: str, data: bytes, max_bytes: int) -> tuple[str, str]:
    """(a safe file name, its content type), or 413/415 saying why the file is refused."""
    if len(data) > max_bytes:
        raise TooLarge("file too large", [FieldError("file", f"the file is {len(data)} bytes; the limit is "
                                                             f"{max_bytes // (1024 * 1024) or max_bytes} "
                                                             f"{'MB' if max_bytes >= 1024 * 1024 else 'bytes'}")])
    if not data:
        raise Invalid("the file is empty", [FieldError("file", "the file is empty")])
    name = PurePath(filename.replace("\\", "/")).name.strip()[:200] or "file"
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in TYPES:
        raise UnsupportedMediaType("this type of file is not accepted",
                                   [FieldError("file", f"attach a {ALLOWED} file")])
    found = sniff(data)
    matches = found == ext or (found == "jpg" and ext == "jpeg") or (found == "txt" and ext in ("csv", "txt"))
    if not matches:
        raise UnsupportedMediaType("the file's content is not what its name says",
                                   [FieldError("file", f"{name} is not a {TYPES[ext][1]} file")])
    return name, TYPES[ext][0]


@dataclass(frozen=True)
class Download:
    row: Attachment
    data: bytes


def _editable(ctx: Context, application_id: uuid.UUID) -> service.View:
    view = service.get(ctx, application_id)
    service.writer_id(ctx)  # a read token reads, never changes
    if not view.applicant_side:
        raise NotFound(f"no application {application_id}")
    if not any(a.command == Command.SAVE for a in view.allowed):
        raise Conflict(f"the application is {view.state.status.value}: its files can change only while it is a "
                       "draft or returned to you", [FieldError("status", view.state.status.value)])
    return view


def add(ctx: Context, store: Storage, application_id: uuid.UUID, filename: str, data: bytes, *,
        question_id: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Attachment:
    """Attach a file (applicant side, while the application can be edited)."""
    view = _editable(ctx, application_id)
    name, content_type = check_file(filename, data, max_bytes)
    if question_id is not None:
        from healthgate.access import forms

        if question_id not in forms.form_for(ctx, view.state).index():
            raise Invalid("no such question", [FieldError("question_id", "a question of this application's form")])
    count = ctx.session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.application_id == application_id, Attachment.deleted_at.is_(None))) or 0
    if count >= MAX_PER_APPLICATION:
        raise Invalid("too many files", [FieldError("file", f"at most {MAX_PER_APPLICATION} files")])
    row = Attachment(id=uuid.uuid4(), application_id=application_id, question_id=question_id, filename=name,
                     content_type=content_type, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                     storage_key="", uploaded_by=ctx.actor.user_id, created_at=ctx.now())
    row.storage_key = f"applications/{application_id}/{row.id}"
    ctx.session.add(row)
    ctx.session.flush()
    store.put(row.storage_key, data, content_type)  # a rollback after this leaves an unreferenced object only
    audit.record(ctx, "attachment.added", "application", application_id,
                 {"attachment_id": str(row.id), "filename": name, "size": len(data), "sha256": row.sha256})
    return row


def list_for(ctx: Context, application_id: uuid.UUID) -> list[Attachment]:
    """The application's files, oldest first, for whoever may read the application."""
    service.get(ctx, application_id)
    return list(ctx.session.scalars(select(Attachment).where(
        Attachment.application_id == application_id, Attachment.deleted_at.is_(None))
        .order_by(Attachment.created_at, Attachment.id)))


def _row(ctx: Context, application_id: uuid.UUID, attachment_id: uuid.UUID) -> Attachment:
    row = ctx.session.get(Attachment, attachment_id)
    if row is None or row.application_id != application_id or row.deleted_at is not None:
        raise NotFound(f"no attachment {attachment_id}")
    return row


def download(ctx: Context, store: Storage, application_id: uuid.UUID, attachment_id: uuid.UUID) -> Download:
    """A file's bytes, for whoever may read the application (recorded in the audit log)."""
    service.get(ctx, application_id)
    row = _row(ctx, application_id, attachment_id)
    data = store.get(row.storage_key)
    audit.record(ctx, "attachment.downloaded", "application", application_id,
                 {"attachment_id": str(row.id), "filename": row.filename})
    return Download(row=row, data=data)


def delete(ctx: Context, store: Storage, application_id: uuid.UUID, attachment_id: uuid.UUID) -> None:
    """Remove a file (applicant side, while the application can be edited); answers naming it lose it."""
    _editable(ctx, application_id)
    row = _row(ctx, application_id, attachment_id)
    row.deleted_at = ctx.now()
    ctx.session.flush()
    audit.record(ctx, "attachment.deleted", "application", application_id,
                 {"attachment_id": str(row.id), "filename": row.filename})
    store.delete(row.storage_key)
