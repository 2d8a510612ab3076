"""The HDR UK Federated Metadata Catalogue API, served so that another gateway can harvest this one
(``shared/data/federation/catalogue.openapi.yaml``, under ``/federation``):

- ``GET /federation/datasets?q&limit&offset``: public datasets as gmi.schema.json items, in persistent-id order
  (or ranked by the search engine when ``q`` is given), with ``query.total`` so a harvester knows when it is done;
- ``GET /federation/datasets/{id}``: the HDR UK 4.0.0 document of the dataset's latest public version;
- ``GET /federation/export?from&until``: every dataset that changed in the window, as HDR UK documents, with an
  ``{"identifier", "status": "archived"}`` entry for each one archived in it (streamed);
- ``GET /federation/feed?page``: an Atom feed of the latest changes, paged, archived datasets as tombstones.

Public datasets only: drafts never show, archived ones leave the list and the detail (404). Errors are
``application/problem+json`` naming the parameter, with the status codes the specification lists (400, 404).
No SQL here: ``federation.serving`` reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from healthgate.catalogue.schemas import Problem, ProblemError
from healthgate.db import transaction
from healthgate.errors import FieldError
from healthgate.federation import serving
from healthgate.federation.serve_schemas import ExportEntry, GmiList, GwdmDataset, HdrukDataset
from healthgate.interop import atom, gmi, gwdm
from healthgate.web.deps import SessionDep, SettingsDep
from healthgate.web.openapi import problems
from healthgate.web.templates import site_url

router = APIRouter(prefix="/federation", tags=["federation"])
PROBLEM = "application/problem+json"
ATOM = "application/atom+xml"
MAX_OFFSET = 2**31 - 1
FEED_PAGE = 50
BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter is not valid (named in errors: query.NAME or path.NAME)"}}
_INT = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
_LIST_PARAMS: dict[str, Any] = {"parameters": [
    {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 500},
     "description": "search words (the site's search syntax); empty or absent: every public dataset"},
    {"name": "limit", "in": "query", "required": False, "schema": _INT,
     "description": "the most items to answer; 0 or absent: the server's page size (at most max_per_page)"},
    {"name": "offset", "in": "query", "required": False, "schema": _INT,
     "description": "the position of the first item among all matches (0 first)"},
]}
_EXPORT_PARAMS: dict[str, Any] = {"parameters": [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string", "format": "date-time"},
     "description": desc} for name, desc in (
        ("from", "changes at or after this time (RFC 3339 date-time, or a date); absent: from the beginning"),
        ("until", "changes before this time; absent: up to now"))
]}


class BadRequest(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors[0].message if errors else "bad request")
        self.errors = errors


def _problem(status: int, title: str, detail: str, errors: list[FieldError] | None = None) -> JSONResponse:
    body = Problem(type="about:blank", title=title, status=status, detail=detail,
                   errors=[ProblemError(path=e.path, message=e.message) for e in errors or []])
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM)


def _bad(exc: BadRequest) -> JSONResponse:
    return _problem(400, "Bad request", "; ".join(e.message for e in exc.errors), exc.errors)


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise BadRequest([FieldError(f"query.{name}", f"{name} is given {len(values)} times; give it once")])
    return values[0] if values else None


def _int(request: Request, name: str, default: int) -> int:
    raw = _one(request, name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        try:
            f = float(raw.strip())  # the specification types these as numbers: 10.0 is 10
        except ValueError:
            f = -1.5
        if not f.is_integer():
            raise BadRequest([FieldError(f"query.{name}", f"{name} must be a whole number, not {raw[:40]!r}")])
        value = int(f)
    if not 0 <= value <= MAX_OFFSET:
        raise BadRequest([FieldError(f"query.{name}", f"{name} must be between 0 and {MAX_OFFSET}")])
    return value


def _time(request: Request, name: str) -> datetime | None:
    raw = _one(request, name)
    if raw is None:
        return None
    text = raw.strip()
    try:
        at = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)  # '+' arrives as a space
    except ValueError:
        raise BadRequest([FieldError(f"query.{name}", f"{name} must be an RFC 3339 date-time such as "
                                                      f"2025-01-31T00:00:00Z, not {text[:40]!r}")]) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _item(request: Request, s: serving.Served) -> dict[str, Any]:
    v, d = s.version, s.dataset
    return gmi.item(dataset_id=d.id, document=v.document, number=v.number, title=v.title, abstract=v.abstract,
                    custodian=v.custodian or d.team.name, created=d.created_at, modified=d.updated_at,
                    self_url=f"{site_url(request)}/federation/datasets/{d.id}")


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


@router.get("/datasets", response_model=GmiList, operation_id="federationListDatasets",
            openapi_extra=_LIST_PARAMS, responses={**problems(), **BAD_REQUEST})
def list_datasets(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Public datasets, ``limit`` from ``offset``: in persistent-id order (stable while a harvester pages), or
    ranked by relevance when ``q`` is given. ``query.total`` counts them all; ``query.limit`` is the page size
    used (a larger limit is capped at the server's ``max_per_page``)."""
    try:
        q = (_one(request, "q") or "").strip()
        if len(q) > 500:
            raise BadRequest([FieldError("query.q", "q is at most 500 characters")])
        limit = _int(request, "limit", 0) or settings.max_per_page
        limit = min(limit, settings.max_per_page)
        offset = _int(request, "offset", 0)
    except BadRequest as exc:
        return _bad(exc)
    if q:
        total, page = serving.search_page(session, q, offset=offset, limit=limit, max_per_page=settings.max_per_page)
    else:
        total = serving.count_public(session)
        page = serving.public_page(session, offset=offset, limit=limit) if offset < total else []
    return _json(gmi.listing([_item(request, s) for s in page], q=q, total=total, limit=limit, offset=offset))


SCHEMAS = ("HDRUK/4.0.0", "GWDM/2.0", "GWDM/2.1")
_DETAIL_PARAMS: dict[str, Any] = {"parameters": [
    {"name": "schema", "in": "query", "required": False, "schema": {"type": "string", "enum": list(SCHEMAS)},
     "description": "the form of the answer: HDR UK 4.0.0 (the default), or HDR UK's Gateway Data Model"}]}


@router.get("/datasets/{dataset_id}", response_model=HdrukDataset | GwdmDataset,
            operation_id="federationGetDataset", openapi_extra=_DETAIL_PARAMS,
            responses={**problems(404), **BAD_REQUEST})
def get_dataset(request: Request, dataset_id: Annotated[str, Path(
                    description="the dataset's persistent id (a UUID)", json_schema_extra={"format": "uuid"})],
                session: SessionDep) -> Response:
    """The full HDR UK 4.0.0 metadata of the dataset's latest public version (``?schema=GWDM/2.0``: the same in
    HDR UK's Gateway Data Model). 404 for a dataset that is not public (unknown, never published, or archived by
    its custodian)."""
    try:
        form = _one(request, "schema") or SCHEMAS[0]
        if form not in SCHEMAS:
            raise BadRequest([FieldError("query.schema", f"schema is one of {', '.join(SCHEMAS)}")])
        key = uuid.UUID(dataset_id)
    except BadRequest as exc:
        return _bad(exc)
    except ValueError:
        return _problem(400, "Bad request", "not a dataset id", [FieldError("path.dataset_id",
                                                                           "a dataset id is a UUID")])
    found = serving.get_public(session, key)
    if found is None:
        return _problem(404, "Not found", f"no public dataset {key}")
    doc = gmi.document(found.version.document, key)
    if form.startswith("GWDM/"):
        d = found.dataset
        return _json(gwdm.to_gwdm(doc, pid=str(key), gateway_id=str(key),
                                  issued=gmi.issued_of(doc, d.created_at),
                                  modified=gmi.issued_of({"issued": doc.get("modified")}, d.updated_at)))
    return _json(doc)


def _export_lines(request: Request, since: datetime | None, until: datetime | None) -> Iterator[bytes]:
    """The export as a JSON array, written a dataset at a time from a transaction of its own."""
    with transaction(request.app.state.sessions) as session:
        yield b"["
        first = True
        for s in serving.changed(session, since, until):
            if s.archived:
                entry = gmi.tombstone(s.dataset.id, title=s.version.title, archived_at=s.dataset.updated_at)
            else:
                entry = gmi.document(s.version.document, s.dataset.id)
            yield (b"" if first else b",\n") + orjson.dumps(entry)
            first = False
        yield b"]\n"


@router.get("/export", response_model=list[ExportEntry], operation_id="federationExport",
            openapi_extra=_EXPORT_PARAMS, responses={**problems(), **BAD_REQUEST})
def export(request: Request, session: SessionDep) -> Response:
    """Every dataset whose state changed in ``[from, until)``, oldest change first: the HDR UK document of each
    public one, and ``{"identifier", "status": "archived", "modified", "summary": {"title"}}`` for each one its
    custodian archived (a harvester removes it). Without ``from``, the whole catalogue."""
    try:
        since, until = _time(request, "from"), _time(request, "until")  # from after until: an empty window
    except BadRequest as exc:
        return _bad(exc)
    del session  # the stream reads in a transaction of its own: the request's has ended when the body is sent
    return StreamingResponse(_export_lines(request, since, until), media_type="application/json")


@router.get("/feed", include_in_schema=False)
def feed(request: Request, session: SessionDep) -> Response:
    """An Atom feed of the catalogue, the latest change first, ``FEED_PAGE`` entries a page (``?page=N``), with
    first/previous/next/last links; a dataset archived by its custodian is an ``at:deleted-entry``."""
    try:
        page = _int(request, "page", 1)
        if page < 1:
            raise BadRequest([FieldError("query.page", "page starts at 1")])
    except BadRequest as exc:
        return _bad(exc)
    base = site_url(request)
    total = serving.feed_count(session)
    last = max(1, -(-total // FEED_PAGE))
    if page > last:
        return _problem(404, "Not found", f"page {page} is past the last page ({last})",
                        [FieldError("query.page", f"at most {last}")])
    rows = serving.feed_page(session, offset=(page - 1) * FEED_PAGE, limit=FEED_PAGE)

    def at(n: int) -> str:
        return f"{base}/federation/feed" + (f"?page={n}" if n > 1 else "")

    links = {"first": at(1), "last": at(last), "alternate": f"{base}/"}
    if page > 1:
        links["previous"] = at(page - 1)
    if page < last:
        links["next"] = at(page + 1)
    entries = [atom.Entry(
        id=f"urn:uuid:{s.dataset.id}", title=s.version.title, updated=s.dataset.updated_at,
        published=s.dataset.created_at, summary=s.version.abstract,
        author=s.version.custodian or s.dataset.team.name, html_url=f"{base}/datasets/{s.dataset.id}",
        json_url=f"{base}/federation/datasets/{s.dataset.id}", keywords=list(s.version.keywords or [])[:20],
        deleted=s.archived) for s in rows]
    newest = max((e.updated for e in entries), default=None) or datetime(1970, 1, 1, tzinfo=UTC)
    body = atom.render(atom.Feed(id=f"{base}/federation/feed", title="healthgate catalogue: latest changes",
                                 updated=newest, self_url=at(page), author="healthgate", links=links,
                                 entries=entries))
    return Response(body, media_type=ATOM)
