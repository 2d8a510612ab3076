"""Jinja2 templates shared by every domain's pages."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from healthgate import __version__
from healthgate.errors import FieldError
from healthgate.web.format import field_label, humanize, linkify, record_date, thousands

__all__ = ["error_page", "humanize", "render", "site_url", "templates"]

env = Environment(loader=PackageLoader("healthgate.web", "templates"), autoescape=select_autoescape(["html"]))
env.globals["version"] = __version__
env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)
env.filters["humanize"] = humanize
env.filters["field_label"] = field_label
env.filters["thousands"] = thousands
env.filters["linkify"] = linkify
env.filters["record_date"] = record_date
# Integer fields that count people or events: shown with thousands separators (codes and identifiers are not).
env.globals["count_fields"] = frozenset({"populationSize", "count", "frequency", "measuredValue"})
env.tests["descriptor"] = lambda v: (  # a DatasetDescriptor: {title, url, pid}, as linkage sections hold
    isinstance(v, dict) and bool(v) and set(v) <= {"title", "url", "pid"} and bool(v.get("title") or v.get("url")))

def _csrf_token(request: Request) -> str:
    from healthgate.web.csrf import csrf_token

    return csrf_token(request)


def _signed_in(request: Request) -> Any:
    from healthgate.identity.pages import signed_in

    return signed_in(request)


def _basket_count(request: Request) -> int | None:
    from healthgate.access.applicant_web import basket_count

    return basket_count(request)


env.globals["csrf_token"] = _csrf_token
env.globals["basket_count"] = _basket_count  # the header's basket link (access.applicant_web.basket_count)
env.globals["signed_in"] = _signed_in  # the person the page header greets (identity.pages.signed_in)
templates = Jinja2Templates(env=env)


def site_url(request: Request) -> str:
    """The public address of this site, without a trailing slash: HEALTHGATE_BASE_URL when it is set,
    else the address the request came in on (so a server on another port links to itself)."""
    settings = request.app.state.settings
    configured = getattr(settings, "base_url", None) if "base_url" in settings.model_fields_set else None
    return str(configured or request.base_url).rstrip("/")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


# What a visitor is told, by status: a heading and what to do next. The HTTP phrase ("Not Found") says neither.
_FRIENDLY = {
    400: ("Bad request", "The address or form could not be read."),
    401: ("Sign in needed", "This page needs you to sign in."),
    403: ("Not allowed", "You do not have permission to see this page."),
    404: ("Page not found", "There is no page at this address. The link may be mistyped or out of date."),
    405: ("Not allowed here", "This address does not accept that kind of request."),
    409: ("Changed meanwhile", "Someone else changed this at the same time. Reload the page and try again."),
    410: ("No longer available", "This page has been withdrawn."),
    422: ("Invalid input", "Some of what was sent could not be used."),
    429: ("Too many requests", "Please wait a moment and try again."),
    500: ("Something went wrong", "The server could not answer. Please try again later."),
}


def error_page(request: Request, status: int, title: str, detail: str, errors: list[FieldError]) -> HTMLResponse:
    """The HTML answer for an error on a page (the API answers problem+json instead)."""
    heading, advice = _FRIENDLY.get(status, (title, ""))
    phrases = {title, _phrase(status)}
    # The specific message ("no dataset 1234...") is kept, in smaller print, when it says more than the phrase.
    specific = detail if detail and detail not in phrases and detail.casefold() != heading.casefold() else ""
    return render(request, "error.html", status_code=status, title=heading, advice=advice, detail=specific,
                  errors=errors, status=status, path=request.url.path)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
