"""Forms posted to the workspace pages: read once, with limits sized for dataset forms and uploads, and
checked against the CSRF token the page put in them."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from healthgate.errors import FieldError, Forbidden, TooLarge
from healthgate.web.csrf import csrf_token

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
    """The posted form, refused (403) unless it carries this browser session's CSRF token."""
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
    sent = (fields.get("csrf_token") or [""])[0]
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
        raise Forbidden("this form has expired or did not come from this site: reload the page and try again")
    return Posted(fields, files)


PostedDep = Annotated[Posted, Depends(read_posted)]
