"""The DCAT-AP 3.0.1 catalogue we serve, with HealthDCAT-AP properties (mapping: docs/federation-dcat.md).

- ``/catalog.ttl``, ``/catalog.jsonld``, ``/catalog.rdf``: the public datasets, a page at a time
  (``?page=N``, 1-based; ``?per_page=`` 1..1000, default 100), each page a ``dcat:Catalog`` with its
  ``dcat:DataService`` and a Hydra ``PartialCollectionView`` (first / previous / next / last) so a harvester
  walks the whole catalogue; ``/catalog`` redirects to the format the client accepts.
- A dataset's own page ``/datasets/{id}`` answers Turtle, JSON-LD or RDF/XML when the request's ``Accept``
  prefers one of them, and ``/datasets/{id}.ttl|.jsonld|.rdf`` name a format outright (``catalogue.pages``
  owns that address and hands such requests to ``negotiated``; ``?version=N`` picks a version). Public datasets only: a draft is not found, an archived dataset is gone (410).

No SQL here (``federation.dcat_catalog`` reads), nothing written. Each page is built and serialised alone:
a request never holds more than ``per_page`` datasets.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from healthgate.catalogue.models import DatasetStatus
from healthgate.errors import NotFound
from healthgate.federation import dcat_catalog
from healthgate.interop import dcat
from healthgate.web.deps import SessionDep
from healthgate.web.templates import site_url

router = APIRouter(include_in_schema=False)

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
MEDIA = {ext: media for ext, (_, media) in dcat.FORMATS.items()}
_BY_MEDIA = {media: ext for ext, media in MEDIA.items()} | {"application/x-turtle": "ttl", "application/json-ld": "jsonld"}
_HTML = ("text/html", "application/xhtml+xml")


def _site(request: Request) -> dcat.Site:
    return dcat.Site(site_url(request))


def _rdf(body: bytes, ext: str, *, cache: str = "public, max-age=300") -> Response:
    media = MEDIA[ext] + ("; charset=utf-8" if ext != "jsonld" else "")
    return Response(body, media_type=media, headers={"Cache-Control": cache, "Vary": "Accept"})


def preferred_format(accept: str | None) -> str | None:
    """The RDF format (ttl / jsonld / rdf) an ``Accept`` header prefers to HTML; None when HTML (or anything
    else) is preferred or equally good (browsers send ``*/*``)."""
    best_q, best = 0.0, None
    html_q = 0.0
    for part in (accept or "").split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media in _HTML or media in ("*/*", "text/*"):
            html_q = max(html_q, q)
        elif media in _BY_MEDIA and q > best_q:
            best_q, best = q, _BY_MEDIA[media]
    return best if best is not None and best_q > html_q else None


def split_suffix(raw_id: str) -> tuple[str, str | None]:
    """``"{uuid}.ttl"`` -> (``"{uuid}"``, ``"ttl"``); an id without a known suffix comes back unchanged."""
    stem, dot, ext = raw_id.rpartition(".")
    return (stem, ext) if dot and ext in MEDIA else (raw_id, None)


def negotiated(request: Request, raw_id: str) -> tuple[str, str] | None:
    """(dataset id, format) when a request for ``/datasets/{raw_id}`` wants RDF rather than the HTML page."""
    stem, ext = split_suffix(raw_id)
    ext = ext or preferred_format(request.headers.get("accept"))
    return (stem, ext) if ext else None


def dataset_rdf(request: Request, session: SessionDep, raw_id: str, ext: str, version: int | None = None) -> Response:
    """One dataset (its latest version, or ``version``) as DCAT-AP in the format ``ext``."""
    try:
        dataset_id = uuid.UUID(raw_id)
    except ValueError:
        raise NotFound(f"“{raw_id[:60]}” is not a dataset identifier") from None
    found = dcat_catalog.version_document(session, dataset_id, version)
    if found is None:
        raise NotFound(f"no published dataset {dataset_id}" + (f" version {version}" if version else ""))
    dataset, doc = found
    if dataset.status == DatasetStatus.ARCHIVED:
        return Response(f"dataset {dataset_id} has been withdrawn by its custodian\n", status_code=410,
                        media_type="text/plain; charset=utf-8", headers={"Vary": "Accept"})
    graph = dcat.dataset_graph(doc, _site(request), dataset_id)
    return _rdf(dcat.serialize(graph, ext), ext)


@router.get("/catalog")
def catalog_negotiated(request: Request) -> RedirectResponse:
    ext = preferred_format(request.headers.get("accept")) or "ttl"
    return RedirectResponse(f"{site_url(request)}/catalog.{ext}", status_code=303, headers={"Vary": "Accept"})


def _catalog(request: Request, session: SessionDep, ext: str, page: int, per_page: int) -> Response:
    site = _site(request)
    total = dcat_catalog.count(session)
    paging = dcat.Page(number=page, size=per_page, total=total)
    if page > paging.last:
        raise NotFound(f"the catalogue has {paging.last} page(s) of {per_page}; there is no page {page}")
    rows = dcat_catalog.page(session, offset=(page - 1) * per_page, limit=per_page)
    suffix = "" if per_page == DEFAULT_PER_PAGE else f"&per_page={per_page}"

    def url_of(n: int) -> str:
        return f"{site.base}/catalog.{ext}?page={n}{suffix}"

    graph = dcat.catalog_graph(rows, site, page=paging, url_of=url_of, modified=dcat_catalog.last_change(session))
    return _rdf(dcat.serialize(graph, ext), ext)


PageQ = Annotated[int, Query(ge=1, le=2**31 - 1, description="1-based page number")]
PerPageQ = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]


@router.get("/catalog.ttl")
def catalog_ttl(request: Request, session: SessionDep, page: PageQ = 1, per_page: PerPageQ = DEFAULT_PER_PAGE) -> Response:
    return _catalog(request, session, "ttl", page, per_page)


@router.get("/catalog.jsonld")
def catalog_jsonld(request: Request, session: SessionDep, page: PageQ = 1,
                   per_page: PerPageQ = DEFAULT_PER_PAGE) -> Response:
    return _catalog(request, session, "jsonld", page, per_page)


@router.get("/catalog.rdf")
def catalog_rdf(request: Request, session: SessionDep, page: PageQ = 1, per_page: PerPageQ = DEFAULT_PER_PAGE) -> Response:
    return _catalog(request, session, "rdf", page, per_page)
