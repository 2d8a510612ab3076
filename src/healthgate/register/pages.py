"""The public data use register's pages: search (``/data-uses``), an entry (``/data-uses/{id}``), and the
activity of an organisation (``/organisations/{ref}``) or a researcher (``/researchers/{orcid}``) across every
custodian. No SQL here: ``register.search`` and ``register.activity_reads`` read; only published entries show.
"""

from __future__ import annotations

import math
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthgate.errors import FieldError, NotFound
from healthgate.interop.data_use_schemaorg import entry_jsonld
from healthgate.interop.schemaorg import script_tag_json
from healthgate.register import activity_reads as reads
from healthgate.register import search as register_search
from healthgate.web.deps import ContextDep
from healthgate.web.templates import render, site_url

router = APIRouter(include_in_schema=False)


def _url(path: str, pairs: list[tuple[str, str]]) -> str:
    return path + ("?" + urlencode(pairs) if pairs else "")


def _links(request: Request) -> dict[str, Any]:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if v != ""]

    def without(key: str, value: str | None = None) -> str:
        return _url("/data-uses", [(k, v) for k, v in pairs
                                   if not (k == key and (value is None or v == value)) and k != "page"])

    def with_page(n: int) -> str:
        return _url("/data-uses", [(k, v) for k, v in pairs if k != "page"] + [("page", str(n))])

    def more(name: str, show: bool) -> str:
        kept = [(k, v) for k, v in pairs if not (k == "more" and v == name)]
        return _url("/data-uses", kept + ([("more", name)] if show else [])) + f"#facet-{name}"

    return {"without": without, "with_page": with_page, "more": more}


@router.get("/data-uses", response_class=HTMLResponse)
def data_uses(request: Request, ctx: ContextDep) -> Response:
    pairs = request.query_params.multi_items()
    if any(v == "" for _, v in pairs):  # a form's empty fields make no URL of ours
        return RedirectResponse(_url("/data-uses", [(k, v) for k, v in pairs if v != ""]), status_code=303)
    args, notes = register_search.parse(request.query_params)
    result = register_search.search(ctx.session, **args, max_per_page=request.app.state.settings.max_per_page)
    labels = register_search.FACET_LABELS
    chips = [(labels[f], v, f) for f in register_search.FACET_PARAMS for v in args["values"].get(f, [])]
    for key, label in (("approved_from", "Approved from"), ("approved_to", "Approved to")):
        if request.query_params.get(key):
            chips.append((label, request.query_params[key], key))
    return render(
        request, "register/public_search.html", result=result, notes=notes + result.notes, q=args["q"],
        chips=chips, facet_labels=labels, facet_params=register_search.FACET_PARAMS,
        sort_labels=register_search.SORT_LABELS, last_page=max(1, math.ceil(result.total / result.per_page)),
        params=request.query_params, **_links(request),
    )


def _entry_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound("no such data use", [FieldError("id", "a data use's address ends in its id, a UUID")]) \
            from None


@router.get("/data-uses/{entry_id}", response_class=HTMLResponse)
def data_use(request: Request, entry_id: str, ctx: ContextDep) -> HTMLResponse:
    found = reads.public_entry(ctx, _entry_id(entry_id))
    base = site_url(request)
    return render(request, "register/public_entry.html", e=found, entry=found.entry, base_url=base,
                  jsonld=script_tag_json(entry_jsonld(found, base)))


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 10 else 1


@router.get("/organisations/{ref}", response_class=HTMLResponse)
def organisation(request: Request, ref: str, ctx: ContextDep) -> Response:
    found = reads.organisation_activity(ctx, ref, _page(request))
    if ref != found.canonical_ref:  # one address per organisation: its ROR id, else its slug
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/organisations/{quote(found.canonical_ref)}{query}", status_code=301)
    return render(request, "register/public_organisation.html", o=found, a=found.activity,
                  base_url=site_url(request), pages=max(1, math.ceil(found.activity.total / reads.PAGE)))


@router.get("/researchers/{orcid}", response_class=HTMLResponse)
def researcher(request: Request, orcid: str, ctx: ContextDep) -> Response:
    canonical = reads.canonical_orcid(orcid)
    if orcid != canonical:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/researchers/{canonical}{query}", status_code=301)
    found = reads.researcher_activity(ctx, canonical, _page(request))
    return render(request, "register/public_researcher.html", r=found, a=found.activity,
                  base_url=site_url(request), pages=max(1, math.ceil(found.activity.total / reads.PAGE)))


def dataset_uses(ctx: Any, dataset_id: uuid.UUID) -> reads.DatasetUses:
    """The "How this dataset has been used" section of a dataset's page (``catalogue.pages`` calls it)."""
    return reads.dataset_uses(ctx.session, dataset_id)
