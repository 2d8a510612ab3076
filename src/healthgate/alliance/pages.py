"""The alliance's pages: the public members page and transparency statistics (each figure also as CSV), and
the alliance admin's compliance dashboard (filterable, sortable, CSV) with the forms that add and edit members
and record their letters of intent. No SQL here: ``alliance.service``, ``.obligations`` and ``.statistics``."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthgate.access.applicant_web import parse_id, see_other
from healthgate.access.templates_api import store
from healthgate.alliance import obligations as ob
from healthgate.alliance import service, statistics
from healthgate.alliance.api import letter_response
from healthgate.alliance.models import Member
from healthgate.context import Context
from healthgate.errors import FieldError, HealthgateError, Invalid, NotFound
from healthgate.web.deps import ContextDep, WriterContextDep
from healthgate.web.posted import Posted, PostedDep
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)
ADMIN = "/admin/alliance"
NOTICES = {"created": "The member was added.", "saved": "The member was saved.",
           "letter": "The letter of intent was recorded.", "letter-deleted": "The letter of intent was removed."}


def _csv(body: str, filename: str, *, public: bool) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "public, max-age=300" if public else "private, no-store"})


# ---- public ---------------------------------------------------------------------------------------------


@router.get("/members", response_class=HTMLResponse)
def members_page(request: Request, ctx: ContextDep) -> HTMLResponse:
    rows = service.members(ctx)
    return render(request, "alliance/members.html", waves=service.by_wave(rows), total=len(rows),
                  types=service.MEMBER_TYPES, can_manage=service.can_manage(ctx))


@router.get("/members/{member_id}", response_class=HTMLResponse)
def member_page(request: Request, member_id: str, ctx: ContextDep) -> HTMLResponse:
    member = service.get(ctx, parse_id(member_id, "member"))
    return render(request, "alliance/member.html", member=member, org=service.organisation_of(ctx, member),
                  types=service.MEMBER_TYPES, can_manage=service.can_manage(ctx))


@router.get("/statistics", response_class=HTMLResponse)
def statistics_page(request: Request, ctx: ContextDep) -> HTMLResponse:
    stats = statistics.compute(ctx)
    return render(request, "alliance/statistics.html", stats=stats, figures=statistics.FIGURES,
                  medallions=statistics.MEDALLION_NAMES, min_decisions=statistics.MIN_DECISIONS)


@router.get("/statistics/{figure}.csv")
def statistics_csv(figure: str, ctx: ContextDep) -> Response:
    if figure not in statistics.FIGURES:
        raise NotFound(f"no figure {figure[:40]!r}")
    body = statistics.figure_csv(statistics.compute(ctx), figure)
    return _csv(body, f"healthgate-{figure}-{ctx.now():%Y-%m-%d}.csv", public=True)


# ---- the compliance dashboard -----------------------------------------------------------------------------


def _filters(request: Request) -> dict[str, Any]:
    p = request.query_params
    return {"status": p.get("status") or None, "obligation": p.get("obligation") or None,
            "member_type": p.get("member_type") or None, "q": (p.get("q") or "").strip()[:200] or None,
            "sort": p.get("sort") or "due", "descending": p.get("desc") in ("1", "yes", "true")}


@router.get(ADMIN, response_class=HTMLResponse)
def dashboard(request: Request, ctx: WriterContextDep) -> HTMLResponse:
    board = ob.board(ctx)
    filters = _filters(request)
    errors: list[FieldError] = []
    try:
        rows = ob.rows(board, **filters)
    except Invalid as exc:
        errors, rows = exc.errors, ob.rows(board)
    query = str(request.url.query)
    return render(request, "alliance/admin.html", status_code=422 if errors else 200, board=board, rows=rows,
                  filters=filters, errors=errors, counts=board.counts(), statuses=ob.STATUSES,
                  obligations=ob.OBLIGATIONS, types=service.MEMBER_TYPES, sorts=ob.SORTS,
                  csv_url=f"{ADMIN}/obligations.csv" + (f"?{query}" if query else ""),
                  letters=service.latest_letters(ctx), notice=NOTICES.get(request.query_params.get("done", ""), ""))


@router.get(ADMIN + "/obligations.csv")
def obligations_csv(request: Request, ctx: WriterContextDep) -> Response:
    rows = ob.rows(ob.board(ctx), **_filters(request))
    return _csv(ob.to_csv(rows), f"alliance-obligations-{ctx.now():%Y-%m-%d}.csv", public=False)


# ---- member forms -----------------------------------------------------------------------------------------


def _date(posted: Posted, name: str, errors: list[FieldError]) -> date | None:
    raw = posted.one(name).strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(name, f"{raw[:20]!r} is not a date (YYYY-MM-DD)"))
        return None


def _member_data(posted: Posted) -> tuple[service.MemberData, list[FieldError]]:
    errors: list[FieldError] = []
    data = service.MemberData(
        organisation=posted.one("organisation").strip(), member_type=posted.one("member_type"),
        join_date=_date(posted, "join_date", errors), wave=posted.one("wave").strip() or None,
        announced_on=_date(posted, "announced_on", errors), left_on=_date(posted, "left_on", errors),
        public=posted.one("public") in ("yes", "on", "true", "1"), description=posted.one("description"))
    return data, errors


def _values(member: Member | None, ctx: Context) -> dict[str, str]:
    if member is None:
        return {"public": "yes"}
    org = service.organisation_of(ctx, member)
    return {"organisation": org.ror_id or org.slug, "member_type": member.member_type,
            "join_date": member.join_date.isoformat(), "wave": member.wave or "",
            "announced_on": member.announced_on.isoformat() if member.announced_on else "",
            "left_on": member.left_on.isoformat() if member.left_on else "",
            "public": "yes" if member.public else "", "description": member.description or "",
            "row_version": str(member.row_version)}


def _form(request: Request, ctx: Context, member: Member | None, *, values: dict[str, str] | None = None,
          errors: list[FieldError] | None = None, letter_values: dict[str, str] | None = None,
          letter_errors: list[FieldError] | None = None, status_code: int = 200) -> HTMLResponse:
    shown = values or _values(member, ctx)
    letters = service.letters(ctx, member.id) if member is not None else []
    proposed = ""
    try:
        proposed = service.propose_wave(date.fromisoformat(shown.get("join_date", "")))
    except ValueError:
        pass
    return render(request, "alliance/member_form.html", status_code=status_code, member=member,
                  org=service.organisation_of(ctx, member) if member is not None else None, values=shown,
                  errors=errors or [], error_paths={e.path for e in errors or []}, types=service.MEMBER_TYPES,
                  letters=letters, letter_values=letter_values or {}, letter_errors=letter_errors or [],
                  letter_error_paths={e.path for e in letter_errors or []}, proposed=proposed,
                  allowed=service.LETTER_ALLOWED, notice=NOTICES.get(request.query_params.get("done", ""), ""))


@router.get(ADMIN + "/members/new", response_class=HTMLResponse)
def new_member(request: Request, ctx: WriterContextDep) -> HTMLResponse:
    service.require_manage(ctx)
    return _form(request, ctx, None)


@router.post(ADMIN + "/members", response_class=HTMLResponse)
def create_member(request: Request, ctx: WriterContextDep, posted: PostedDep) -> Any:
    service.require_manage(ctx)
    data, errors = _member_data(posted)
    values = {k: v[0] for k, v in posted.fields.items() if v}
    try:
        if errors:
            raise Invalid("the member is not valid", errors)
        member = service.create(ctx, data)
    except (Invalid, HealthgateError) as exc:
        if exc.status not in (409, 422):
            raise
        return _form(request, ctx, None, values=values, errors=exc.errors or [FieldError("organisation", exc.detail)],
                     status_code=exc.status)
    return see_other(request, f"{ADMIN}/members/{member.id}?done=created")


def _member(ctx: Context, member_id: str) -> Member:
    service.require_manage(ctx)
    return service.get(ctx, parse_id(member_id, "member"))


@router.get(ADMIN + "/members/{member_id}", response_class=HTMLResponse)
def edit_member(request: Request, member_id: str, ctx: WriterContextDep) -> HTMLResponse:
    return _form(request, ctx, _member(ctx, member_id))


@router.post(ADMIN + "/members/{member_id}", response_class=HTMLResponse)
def save_member(request: Request, member_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    member = _member(ctx, member_id)
    data, errors = _member_data(posted)
    values = {k: v[0] for k, v in posted.fields.items() if v}
    raw_version = posted.one("row_version").strip()
    expected = int(raw_version) if raw_version.isdigit() else None
    try:
        if errors:
            raise Invalid("the member is not valid", errors)
        service.update(ctx, member.id, data, expected_version=expected)
    except HealthgateError as exc:
        if exc.status not in (409, 422):
            raise
        return _form(request, ctx, member, values=values, errors=exc.errors or [FieldError("organisation", exc.detail)],
                     status_code=exc.status)
    return see_other(request, f"{ADMIN}/members/{member.id}?done=saved")


@router.post(ADMIN + "/members/{member_id}/letters", response_class=HTMLResponse)
def add_letter(request: Request, member_id: str, ctx: WriterContextDep, posted: PostedDep) -> Any:
    member = _member(ctx, member_id)
    errors: list[FieldError] = []
    signed_on = _date(posted, "signed_on", errors)
    values = {k: v[0] for k, v in posted.fields.items() if v}
    filename, content = posted.files.get("file", (None, None))
    limit = int(request.app.state.settings.attachment_max_bytes)
    try:
        if errors:
            raise Invalid("the letter of intent is not valid", errors)
        service.add_letter(ctx, store(request), member.id,
                           service.LetterData(signed_on, posted.one("signatory_name"), posted.one("signatory_position")),
                           filename=filename, content=content or None, max_bytes=limit)
    except HealthgateError as exc:
        if exc.status not in (413, 415, 422):
            raise
        return _form(request, ctx, member, letter_values=values,
                     letter_errors=exc.errors or [FieldError("file", exc.detail)], status_code=exc.status)
    return see_other(request, f"{ADMIN}/members/{member.id}?done=letter#letters")


@router.get(ADMIN + "/members/{member_id}/letters/{letter_id}")
def download_letter(request: Request, member_id: str, letter_id: str, ctx: WriterContextDep) -> Response:
    member = _member(ctx, member_id)
    got = service.download_letter(ctx, store(request), member.id, parse_id(letter_id, "letter"))
    return letter_response(got)


@router.post(ADMIN + "/members/{member_id}/letters/{letter_id}/delete")
def delete_letter(request: Request, member_id: str, letter_id: str, ctx: WriterContextDep) -> RedirectResponse:
    member = _member(ctx, member_id)
    service.delete_letter(ctx, store(request), member.id, parse_id(letter_id, "letter"))
    return see_other(request, f"{ADMIN}/members/{member.id}?done=letter-deleted#letters")
