"""Forms posted to the workspace pages: read once, with limits sized for dataset forms and uploads. Their CSRF
token is checked before they get here, by ``web.csrf.CSRFMiddleware`` (as for every unsafe request). ``by_field``
puts a refused form's errors by field, as every form page shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from healthgate.errors import FieldError, HealthgateError, TooLarge

MAX_UPLOAD_BYTES = 8 * 1024 * 1024  # an uploaded metadata file (HDR UK JSON or the legacy gateway CSV)
MAX_FIELDS = 20_000  # a dataset form with many tables and columns has thousands of fields


@dataclass
class Posted:
    """The fields of a posted form (every value of each name, in order) and its uploaded files."""

    fields: dict[str, list[str]]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def one(self, name: str, default: str = "") -> str:
        got = self.fields.get(name) or []
        return got[0] if got else default


async def read_posted(request: Request) -> Posted:
    """The posted form: every value of each field, and the uploaded file (at most MAX_UPLOAD_BYTES)."""
    # max_part_size: the upload preview posts the file back in a hidden field (compressed, base64).
    form = await request.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=2 * MAX_UPLOAD_BYTES)
    fields: dict[str, list[str]] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read(MAX_UPLOAD_BYTES + 1)
            if len(data) > MAX_UPLOAD_BYTES:
                raise TooLarge("file too large", [FieldError("file", f"the limit is {MAX_UPLOAD_BYTES // 2**20} MB")])
            files[name] = (value.filename or "upload", data)
        else:
            fields.setdefault(name, []).append(value)
    return Posted(fields, files)


PostedDep = Annotated[Posted, Depends(read_posted)]


def by_field(exc: HealthgateError) -> dict[str, list[str]]:
    """The error's messages by field path (``form`` for the error as a whole), as a form page shows them."""
    out: dict[str, list[str]] = {}
    for e in exc.errors:
        out.setdefault(e.path, []).append(e.message)
    if not out:
        out["form"] = [exc.detail]
    return out
