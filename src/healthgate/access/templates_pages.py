"""Workspace pages for a custodian team's application form (template builder) and the admin's question bank;
the printable application. No SQL here: they call ``access.templates``, ``access.bank`` and
``access.printout``, as the API does."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from healthgate.access import bank as qbank
from healthgate.access import printout, templates
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.identity.permissions import Permission
from healthgate.web.deps import WriterContextDep
from healthgate.web.posted import Posted, PostedDep
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)
SEP = "::"  # show_if:<question> = "<question id>::<option>"

# -- the team's form builder ---------------------------------------------------------------------------------


def _builder(request: Request, ctx: Context, team: Team, *, errors: list[FieldError] | None = None,
             done: str = "", status_code: int = 200, items: list[dict[str, Any]] | None = None) -> HTMLResponse:
    rows = templates.history(ctx, team.id)
    working = templates.working(ctx, team.id)
    b = qbank.get(ctx)
    chosen = {i["id"]: i for i in items} if items is not None else {
        i.id: {"id": i.id, "required": i.required, "guidance": i.guidance,
               "show_if": {"question": i.show_if[0], "value": i.show_if[1]} if i.show_if else None}
        for i in working.items}
    pairs = [(qid, str(o["value"]), f"{b.entries[qid].question['title'][:80]} = {str(o['value'])[:60]}")
             for qid in chosen if qid in b.entries and b.entries[qid].question["component"] in qbank.CHOICES
             for o in b.entries[qid].question.get("options") or []]
    return render(request, "access/forms/builder.html", status_code=status_code, team=team, bank=b,
                  chosen=chosen, pairs=pairs, sep=SEP, rows=rows, errors=errors or [], done=done,
                  draft=next((r for r in rows if r.status == "draft"), None),
                  published=next((r for r in rows if r.status == "published"), None),
                  current=templates.current(ctx, team.id).ref,
                  can_manage=ctx.actor.can(Permission.APPLICATION_MANAGE, team.id))


@router.get("/workspace/teams/{team_ref}/access/form", response_class=HTMLResponse)
def builder(request: Request, team_ref: str, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    return _builder(request, ctx, identity.resolve_team(ctx, team_ref), done=done)


def _items(posted: Posted) -> list[dict[str, Any]]:
    required = set(posted.fields.get("required", []))
    out = []
    for qid in dict.fromkeys(posted.fields.get("include", [])):
        cond = posted.one(f"show_if:{qid}")
        show_if = None
        if SEP in cond:
            question, value = cond.split(SEP, 1)
            show_if = {"question": question, "value": value}
        out.append({"id": qid, "required": qid in required, "guidance": posted.one(f"guidance:{qid}").strip(),
                    "show_if": show_if})
    return out


@router.post("/workspace/teams/{team_ref}/access/form", response_class=HTMLResponse)
def save(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    items = _items(posted)
    try:
        templates.save_draft(ctx, team.id, items)
    except Invalid as exc:
        ctx.session.rollback()
        return _builder(request, ctx, team, errors=exc.errors, status_code=422, items=items)
    return RedirectResponse(f"/workspace/teams/{team.slug}/access/form?done=saved", status_code=303)


@router.post("/workspace/teams/{team_ref}/access/form/publish", response_class=HTMLResponse)
def publish(request: Request, team_ref: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    try:
        templates.publish(ctx, team.id)
    except (Invalid, Conflict) as exc:
        ctx.session.rollback()
        return _builder(request, ctx, team, errors=exc.errors or [FieldError("template", exc.detail)],
                        status_code=exc.status)
    return RedirectResponse(f"/workspace/teams/{team.slug}/access/form?done=published", status_code=303)


# -- the alliance's question bank --------------------------------------------------------------------------------


def _bank_page(request: Request, ctx: Context, *, errors: list[FieldError] | None = None, done: str = "",
               status_code: int = 200) -> HTMLResponse:
    b, versions = qbank.for_admin(ctx)
    return render(request, "access/forms/bank.html", status_code=status_code, bank=b, versions=versions,
                  sections=qbank.SECTIONS, components=qbank.COMPONENTS, errors=errors or [], done=done)


@router.get("/admin/access/question-bank", response_class=HTMLResponse)
def bank_page(request: Request, ctx: WriterContextDep, done: str = "") -> HTMLResponse:
    return _bank_page(request, ctx, done=done)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _expected(posted: Posted) -> int | None:
    raw = posted.one("version")
    return int(raw) if raw.isdigit() else None


@router.post("/admin/access/question-bank/questions", response_class=HTMLResponse)
def add_question(request: Request, ctx: WriterContextDep, posted: PostedDep) -> Any:
    question: dict[str, Any] = {"title": posted.one("title"), "component": posted.one("component"),
                                "guidance": posted.one("guidance"), "required": bool(posted.one("required")),
                                "options": _lines(posted.one("options"))}
    try:
        qbank.add_question(ctx, posted.one("section"), posted.one("subsection").strip(), question,
                           parent=posted.one("parent").strip() or None, option=posted.one("option").strip() or None,
                           expected_version=_expected(posted))
    except Invalid as exc:
        ctx.session.rollback()
        return _bank_page(request, ctx, errors=exc.errors, status_code=422)
    return RedirectResponse("/admin/access/question-bank?done=added", status_code=303)


@router.post("/admin/access/question-bank/questions/{question_id}/edit", response_class=HTMLResponse)
def edit_question(request: Request, question_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    changes: dict[str, Any] = {"title": posted.one("title"), "guidance": posted.one("guidance"),
                               "required": bool(posted.one("required"))}
    if "options" in posted.fields:
        changes["options"] = _lines(posted.one("options"))
    try:
        qbank.edit_question(ctx, question_id, changes, expected_version=_expected(posted))
    except Invalid as exc:
        ctx.session.rollback()
        return _bank_page(request, ctx, errors=exc.errors, status_code=422)
    return RedirectResponse("/admin/access/question-bank?done=edited", status_code=303)


@router.post("/admin/access/question-bank/questions/{question_id}/retire", response_class=HTMLResponse)
def retire_question(request: Request, question_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    qbank.retire_question(ctx, question_id, expected_version=_expected(posted))
    return RedirectResponse("/admin/access/question-bank?done=retired", status_code=303)


# -- the printable application -------------------------------------------------------------------------------


@router.get("/applications/{application_id}/print", response_class=HTMLResponse)
def print_view(request: Request, application_id: uuid.UUID, ctx: WriterContextDep) -> HTMLResponse:
    """The whole application for a data access committee (print it from the browser)."""
    page = render(request, "access/forms/print.html", p=printout.printable(ctx, application_id))
    page.headers["Cache-Control"] = "private, no-store"
    return page
