"""Workspace pages where custodians set a dataset's DUO data-use conditions. No SQL here: ``data_use`` does the
work, as for the API. Also registers the template helpers the DUO partials use (``duo_purpose_form``)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthgate.access import data_use, duo
from healthgate.access import duo_terms as terms
from healthgate.catalogue.models import Dataset
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid, NotFound
from healthgate.web.deps import WriterContextDep
from healthgate.web.posted import PostedDep
from healthgate.web.templates import env, render

router = APIRouter(prefix="/workspace", include_in_schema=False)

# The purpose fields partial builds its own view: {% include "access/duo/_purpose_fields.html" %} needs only
# ``purpose`` (the stored or posted purpose) and, after a 422, ``errors`` in the including page's context.
env.globals["duo_purpose_form"] = duo.purpose_form


def _id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no dataset {raw[:60]!r}") from None


def _page(request: Request, ctx: Context, dataset: Dataset, *, values: dict[str, Any] | None = None,
          errors: list[FieldError] | None = None, done: str = "", status_code: int = 200) -> HTMLResponse:
    current = data_use.get(ctx, dataset.id)
    if values is None:
        values = {"permission": current.permission or "", "diseases": ", ".join(
            d.removeprefix("ICD10:") for d in current.diseases), "modifiers": list(current.modifiers)}
    by_field: dict[str, list[str]] = {}
    for e in errors or []:
        by_field.setdefault(e.path.split("/")[0], []).append(e.message)
    return render(request, "access/duo/data_use.html", status_code=status_code, dataset=dataset,
                  title=data_use.title(ctx, dataset), conditions=current.as_dict(), values=values,
                  errors=errors or [], by_field=by_field, done=done, can_set=data_use.can_set(ctx, dataset.team_id),
                  permissions=terms.permissions(), modifiers=terms.modifiers(), ds=terms.DS)


@router.get("/datasets/{dataset_id}/data-use", response_class=HTMLResponse)
def data_use_page(request: Request, dataset_id: str, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    """The dataset's conditions, and for those who may set them (``dataset:data-use``) the form."""
    return _page(request, ctx, data_use.workspace_dataset(ctx, _id(dataset_id)), done=done)


@router.post("/datasets/{dataset_id}/data-use", response_class=HTMLResponse)
def set_data_use(request: Request, dataset_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    dataset = data_use.workspace_dataset(ctx, _id(dataset_id))
    values = {"permission": posted.one("permission"), "diseases": posted.one("diseases"),
              "modifiers": posted.fields.get("modifiers", [])}
    payload = {"permission": values["permission"] or None,
               "diseases": duo.split_codes(str(values["diseases"])),
               "modifiers": values["modifiers"]}
    try:
        data_use.set_conditions(ctx, dataset.id, payload)
    except Invalid as exc:
        return _page(request, ctx, dataset, values=values, errors=exc.errors, status_code=422)
    return RedirectResponse(f"/workspace/datasets/{dataset.id}/data-use?done=saved", status_code=303)
