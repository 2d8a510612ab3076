"""The researcher's pages: the terms-of-access box on a dataset's page, the basket, enquiries and the list of
applications (one application's pages: ``access.application_pages``). No SQL here: every read and change is a
call to the access services, as the API makes. Anonymous people are sent to sign in and come back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from healthgate.access import application_pages, basket, enquiries, labels, messages, terms
from healthgate.access import service as applications
from healthgate.access.applicant_web import (
    ids,
    parse_id,
    safe_next,
    see_other,
    signed_in,
    summary,
    to_sign_in,
)
from healthgate.catalogue.models import Dataset
from healthgate.context import Context
from healthgate.errors import Conflict, Invalid, NotFound
from healthgate.web.deps import ContextDep
from healthgate.web.posted import PostedDep, by_field
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)


# -- the box on a dataset's page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetAccess:
    """What the "Terms of access" box on a public dataset page shows."""

    dataset_id: uuid.UUID
    terms: terms.Terms
    signed_in: bool
    in_basket: bool


def dataset_access(ctx: Context, dataset: Dataset) -> DatasetAccess:
    """Called by the catalogue's dataset page for a public (active) dataset."""
    me = signed_in(ctx)
    return DatasetAccess(dataset_id=dataset.id, terms=terms.terms_of_access(ctx, dataset), signed_in=me,
                         in_basket=me and basket.contains(ctx, dataset.id))


# -- the basket ----------------------------------------------------------------------------------------------------


def _basket_page(request: Request, ctx: Context, *, errors: dict[str, list[str]] | None = None,
                 title: str = "", status_code: int = 200, notice: str = "") -> HTMLResponse:
    errors = errors or {}
    return render(request, "access/applicant/basket.html", status_code=status_code, groups=basket.groups(ctx),
                  errors=errors, summary=summary(errors, {"title": "Project title", "basket": "Basket"}),
                  title=title, notice=notice)


@router.get("/basket", response_class=HTMLResponse)
def basket_page(request: Request, ctx: ContextDep, done: str = "") -> Response:
    if not signed_in(ctx):
        return to_sign_in(request)
    notices = {"added": "Added to your basket.", "removed": "Taken out of your basket.",
               "cleared": "Your basket is empty."}
    return _basket_page(request, ctx, notice=notices.get(done, ""))


@router.post("/basket")
def basket_add(request: Request, ctx: ContextDep, posted: PostedDep) -> Response:
    raw = posted.one("dataset")
    dataset_id = parse_id(raw, "dataset")
    back = safe_next(posted.one("next")) or f"/datasets/{dataset_id}"
    if not signed_in(ctx):
        return to_sign_in(request, back)
    basket.add(ctx, dataset_id)
    return see_other(request, back if posted.one("next") else "/basket?done=added")


@router.post("/basket/remove")
def basket_remove(request: Request, ctx: ContextDep, posted: PostedDep) -> Response:
    if not signed_in(ctx):
        return to_sign_in(request, "/basket")
    basket.remove(ctx, parse_id(posted.one("dataset"), "dataset"))
    return see_other(request, "/basket?done=removed")


@router.post("/basket/clear")
def basket_clear(request: Request, ctx: ContextDep, posted: PostedDep) -> Response:
    if not signed_in(ctx):
        return to_sign_in(request, "/basket")
    basket.clear(ctx)
    return see_other(request, "/basket?done=cleared")


@router.post("/basket/apply")
def basket_apply(request: Request, ctx: ContextDep, posted: PostedDep) -> Response:
    """"Apply for these together": one draft application for the basket's datasets; the basket empties."""
    if not signed_in(ctx):
        return to_sign_in(request, "/basket")
    title = posted.one("title")
    try:
        app = basket.apply(ctx, title=title)
    except Invalid as exc:
        return _basket_page(request, ctx, errors=by_field(exc), title=title, status_code=422)
    return see_other(request, f"/applications/{app.id}/edit?done=created")


# -- enquiries --------------------------------------------------------------------------------------------------


def _enquiry_form(request: Request, ctx: Context, dataset_ids: list[uuid.UUID], form: dict[str, Any],
                  errors: dict[str, list[str]], status_code: int = 200) -> HTMLResponse:
    found = labels.datasets(ctx, dataset_ids)
    chosen = [found[d] for d in dataset_ids if d in found]
    names = {"dataset": "Datasets", "kind": "Kind of question", "subject": "Subject", "body": "Your question"}
    return render(request, "access/applicant/enquiry_new.html", status_code=status_code, datasets=chosen,
                  form=form, errors=errors, summary=summary(errors, names), kinds=enquiries.KINDS)


@router.get("/enquiries/new", response_class=HTMLResponse)
def enquiry_new(request: Request, ctx: ContextDep) -> Response:
    if not signed_in(ctx):
        return to_sign_in(request)
    chosen = ids(request.query_params.getlist("dataset"), "dataset")
    return _enquiry_form(request, ctx, chosen, {"kind": "general", "subject": "", "body": ""}, {})


@router.post("/enquiries", response_class=HTMLResponse)
def enquiry_open(request: Request, ctx: ContextDep, posted: PostedDep) -> Response:
    chosen = ids(posted.fields.get("dataset", []), "dataset")
    if not signed_in(ctx):
        return to_sign_in(request, "/enquiries/new?" + "&".join(f"dataset={d}" for d in chosen))
    form = {"kind": posted.one("kind", "general"), "subject": posted.one("subject"), "body": posted.one("body")}
    try:
        enquiry = enquiries.open_enquiry(ctx, chosen, form["subject"], form["body"], kind=form["kind"])
    except Invalid as exc:
        errors = by_field(exc)
        if any(k.startswith("dataset_ids") for k in errors):
            errors["dataset"] = [m for k, ms in errors.items() if k.startswith("dataset_ids") for m in ms]
            errors = {k: v for k, v in errors.items() if not k.startswith("dataset_ids")}
        return _enquiry_form(request, ctx, chosen, form, errors, status_code=422)
    return see_other(request, f"/enquiries/{enquiry.id}?done=opened")


@router.get("/enquiries", response_class=HTMLResponse)
def enquiry_list(request: Request, ctx: ContextDep) -> Response:
    if not signed_in(ctx):
        return to_sign_in(request)
    return render(request, "access/applicant/enquiries.html", enquiries=enquiries.mine(ctx))


def _enquiry_page(request: Request, ctx: Context, enquiry_id: uuid.UUID, *, errors: dict[str, list[str]] | None = None,
                  notice: str = "", drafts: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    enquiry = enquiries.get(ctx, enquiry_id)
    if enquiry.author_id != ctx.actor.user_id:  # custodians answer from their own pages
        raise NotFound(f"no enquiry {enquiry_id} of yours")
    team_ids = enquiries.teams_of(ctx, enquiry_id)
    names = labels.teams(ctx, team_ids)
    found = labels.datasets(ctx, enquiries.dataset_ids(ctx, enquiry_id))
    visible = messages.visible(ctx, "enquiry", enquiry_id)
    people = labels.people(ctx, [m.author_id for m in visible if m.author_id])
    threads = [{"team_id": t, "name": names.get(t, "custodian"),
                "datasets": [d for d in found.values() if d.team_id == t],
                "messages": [m for m in visible if m.team_id == t]} for t in team_ids]
    errors = errors or {}
    return render(request, "access/applicant/enquiry.html", status_code=status_code, enquiry=enquiry,
                  threads=threads, people=people, errors=errors, notice=notice, drafts=drafts or {},
                  summary=summary(errors, {k: "Your reply" for k in errors}))


@router.get("/enquiries/{enquiry_id}", response_class=HTMLResponse)
def enquiry_page(request: Request, enquiry_id: str, ctx: ContextDep, done: str = "") -> Response:
    if not signed_in(ctx):
        return to_sign_in(request)
    notices = {"opened": "Your enquiry was sent to each custodian.", "replied": "Your message was sent."}
    return _enquiry_page(request, ctx, parse_id(enquiry_id, "enquiry"), notice=notices.get(done, ""))


@router.post("/enquiries/{enquiry_id}/messages", response_class=HTMLResponse)
def enquiry_reply(request: Request, enquiry_id: str, ctx: ContextDep, posted: PostedDep) -> Response:
    eid = parse_id(enquiry_id, "enquiry")
    if not signed_in(ctx):
        return to_sign_in(request, f"/enquiries/{eid}")
    team = parse_id(posted.one("team_id"), "team")
    try:
        messages.post(ctx, "enquiry", eid, posted.one("body"), team_id=team)
    except Invalid as exc:
        errors = {f"body-{team}" if k == "body" else k: v for k, v in by_field(exc).items()}
        return _enquiry_page(request, ctx, eid, errors=errors, drafts={str(team): posted.one("body")},
                             status_code=422)
    return see_other(request, f"/enquiries/{eid}?done=replied#thread-{team}")


@router.post("/enquiries/{enquiry_id}/application")
def enquiry_to_application(request: Request, enquiry_id: str, ctx: ContextDep, posted: PostedDep) -> Response:
    """"Turn into an application": a draft for the enquiry's datasets (once; afterwards, that application)."""
    eid = parse_id(enquiry_id, "enquiry")
    if not signed_in(ctx):
        return to_sign_in(request, f"/enquiries/{eid}")
    try:
        app = enquiries.to_application(ctx, eid, title=posted.one("title"))
    except Conflict:
        existing = enquiries.get(ctx, eid).application_id
        return see_other(request, f"/applications/{existing}")
    return see_other(request, f"/applications/{app.id}/edit?done=created")


# -- applications ----------------------------------------------------------------------------------------------


@router.get("/applications", response_class=HTMLResponse)
def application_list(request: Request, ctx: ContextDep) -> Response:
    if not signed_in(ctx):
        return to_sign_in(request)
    rows = applications.mine(ctx)
    me = ctx.actor.user_id
    return render(request, "access/applicant/applications.html", rows=rows, me=me)


@router.post("/applications")
def application_start(request: Request, ctx: ContextDep, posted: PostedDep) -> Response:
    """Start a draft application for the datasets posted (``dataset``, one or more)."""
    chosen = ids(posted.fields.get("dataset", []), "dataset")
    if not signed_in(ctx):
        back = safe_next(posted.one("next")) or (f"/datasets/{chosen[0]}" if len(chosen) == 1 else "/basket")
        return to_sign_in(request, back)
    app = applications.create(ctx, chosen, title=posted.one("title"))
    return see_other(request, f"/applications/{app.id}/edit?done=created")


router.include_router(application_pages.router)
