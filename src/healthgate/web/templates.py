"""Jinja2 templates shared by every domain's pages."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from healthgate import __version__
from healthgate.errors import FieldError

env = Environment(loader=PackageLoader("healthgate.web", "templates"), autoescape=select_autoescape(["html"]))
env.globals["version"] = __version__
env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)


def humanize(key: object) -> str:
    """``dataCustodian`` -> ``Data custodian``: metadata field names as people read them."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text else text


env.filters["humanize"] = humanize
templates = Jinja2Templates(env=env)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def error_page(request: Request, status: int, title: str, detail: str, errors: list[FieldError]) -> HTMLResponse:
    return render(request, "error.html", status_code=status, title=title, detail=detail, errors=errors,
                  status=status)
