"""The catalogue's HTML pages: home listing and dataset page. No SQL here."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from healthgate.catalogue import service
from healthgate.interop.schemaorg import dataset_jsonld, script_tag_json
from healthgate.search import engine as search_engine
from healthgate.web.deps import ActorDep, SessionDep
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)

SECTIONS = [
    ("summary", "Summary"), ("documentation", "Documentation"), ("coverage", "Coverage"),
    ("provenance", "Provenance"), ("accessibility", "Accessibility"), ("enrichmentAndLinkage", "Linkage"),
    ("observations", "Observations"), ("structuralMetadata", "Structural metadata"),
    ("demographicFrequency", "Demographic frequency"), ("omics", "Omics"),
]


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    request: Request, dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    dataset = service.get_dataset(session, actor, dataset_id)
    v = service.version(session, actor, dataset_id, version) if version else service.latest_version(
        session, actor, dataset_id)
    base_url = request.app.state.settings.base_url
    return render(request, "dataset.html", dataset=dataset, v=v, sections=SECTIONS,
                  versions=service.versions(session, actor, dataset_id),
                  quality=service.quality_report(v), can_edit=service.can_see_private(actor, dataset),
                  jsonld=script_tag_json(dataset_jsonld(dataset, v, base_url)),
                  similar=search_engine.similar(session, dataset_id, 5) if dataset.status.value == "active" else [])


@router.get("/datasets/{dataset_id}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request, dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=2**31 - 1)],
) -> HTMLResponse:
    dataset = service.get_dataset(session, actor, dataset_id)
    changes = service.diff_versions(session, actor, dataset_id, from_version, to_version)
    title = service.version(session, actor, dataset_id, to_version).title
    return render(request, "diff.html", dataset=dataset, title=title, changes=changes, a=from_version,
                  b=to_version)
