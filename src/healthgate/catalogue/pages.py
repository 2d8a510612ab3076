"""The catalogue's HTML pages: a dataset's page (any of its versions) and the changes between two versions.
No SQL here.

An archived dataset keeps its page, answered with HTTP 410 Gone: people who follow a cited link read what the
dataset was, who holds it and that it is withdrawn, while search engines drop it from their index.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from healthgate.access import data_use
from healthgate.audit import service as audit
from healthgate.catalogue import service
from healthgate.catalogue.diff import diff, item_key, list_delta
from healthgate.context import Context
from healthgate.errors import NotFound
from healthgate.federation import dcat_routes
from healthgate.interop.schemaorg import dataset_jsonld, script_tag_json
from healthgate.search import engine as search_engine
from healthgate.web.deps import ContextDep
from healthgate.web.templates import render, site_url

router = APIRouter(include_in_schema=False)

SECTIONS = [
    ("summary", "Summary"), ("documentation", "Documentation"), ("coverage", "Coverage"),
    ("provenance", "Provenance"), ("accessibility", "Accessibility"), ("enrichmentAndLinkage", "Linkage"),
    ("observations", "Observations"), ("structuralMetadata", "Structural metadata"),
    ("demographicFrequency", "Demographic frequency"), ("omics", "Omics"),
]
VersionQ = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


def _parse_id(raw: str) -> uuid.UUID:
    """A dataset id from the address; anything that is not a UUID names no page (404, not a parser's 422)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        shown = raw if len(raw) <= 60 else raw[:60] + "…"
        raise NotFound(f"“{shown}” is not a dataset identifier: a dataset's address ends in one like "
                       "0f8fad5b-d9cb-469f-a165-70867728950e.") from None


def _record(ctx: Context, raw_id: str) -> service.PublicRecord:
    record = service.public_record(ctx, _parse_id(raw_id))
    if record.latest is None:
        raise NotFound(f"dataset {record.dataset.id} has no published version yet")
    return record


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    request: Request, dataset_id: str, ctx: ContextDep, version: VersionQ = None,
) -> Response:
    rdf = dcat_routes.negotiated(request, dataset_id)  # DCAT-AP by Accept or .ttl/.jsonld/.rdf (federation)
    if rdf is not None:
        return dcat_routes.dataset_rdf(request, ctx.session, rdf[0], rdf[1], version)
    record = _record(ctx, dataset_id)
    dataset, latest = record.dataset, record.latest
    assert latest is not None
    v = record.version(version) if version else latest
    base = site_url(request)
    active = not record.archived and dataset.status.value == "active"
    page = render(
        request, "dataset.html", status_code=410 if record.archived else 200,
        dataset=dataset, v=v, latest=latest, record=record, sections=SECTIONS, versions=record.versions,
        quality=service.quality_report(v), can_edit=record.team_view, base_url=base,
        jsonld=script_tag_json(dataset_jsonld(dataset, v, base)) if active else None,
        similar=search_engine.similar(ctx.session, dataset.id, 5) if active else [],
        publishers=audit.publishers(ctx, dataset) if record.team_view else {},  # who, for the team's eyes
        duo_conditions=data_use.for_datasets(ctx, [dataset.id])[dataset.id].as_dict() if active else None,
        access=_access_box(ctx, dataset) if active else None,
        data_uses=_data_uses(ctx, dataset) if active else None,
    )
    page.headers["Vary"] = "Accept"  # the same address also answers DCAT-AP (above)
    return page


def _access_box(ctx: Context, dataset: Any) -> Any:
    """The "Terms of access" box (cost, lead time, measured time to decision; enquire, request, basket)."""
    from healthgate.access.pages import dataset_access  # access builds on the catalogue, not the reverse

    return dataset_access(ctx, dataset)


def _data_uses(ctx: Context, dataset: Any) -> Any:
    """The "How this dataset has been used" section (published data use register entries)."""
    from healthgate.register.pages import dataset_uses  # the register builds on the catalogue

    return dataset_uses(ctx, dataset.id)


def _cell(value: Any, marked: list[Any]) -> dict[str, Any]:
    """One side of a change: a list as ``(item, marked)`` pairs (marked = added or removed), else the value."""
    keys = {item_key(x) for x in marked}
    return {"entries": [(x, item_key(x) in keys) for x in value] if isinstance(value, list) else None,
            "value": value}


def diff_rows(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes as the page shows them: lists as items added and removed, not as Python reprs."""
    rows = []
    for c in changes:
        added: list[Any] = []
        removed: list[Any] = []
        if isinstance(c["old"], list) or isinstance(c["new"], list):
            added, removed = list_delta(c["old"], c["new"])
        rows.append({**c, "added": added, "removed": removed, "before": _cell(c["old"], removed),
                     "after": _cell(c["new"], added)})
    return rows


@router.get("/datasets/{dataset_id}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request, dataset_id: str, ctx: ContextDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=2**31 - 1)],
) -> HTMLResponse:
    record = _record(ctx, dataset_id)
    a, b = record.version(from_version), record.version(to_version)
    changes = diff(a.document, b.document)  # the versions the record holds: public, archived or not
    return render(request, "diff.html", status_code=410 if record.archived else 200, dataset=record.dataset,
                  record=record, title=b.title, rows=diff_rows(changes), a=a.number, b=b.number)

