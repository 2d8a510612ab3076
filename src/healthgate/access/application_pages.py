"""One application as its applicant and collaborators see it: its status and each custodian's part, the timeline,
the form to fill (by Five Safes section), its datasets, collaborators and messages, and the commands the
lifecycle allows them now. No SQL here: every change is one ``service.run`` command (or a message), so the
pages, the API and the CLI cannot disagree.

Every command form carries the version it read; a stale one is answered 409 with the current state and a plain
"someone changed this meanwhile" instead of a lost update. Each command runs in a savepoint, so a refused one
leaves nothing behind while what came before it in the same request (a save before a submit) is kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from healthgate.access import attachments, clocks, duo, forms, labels, messages
from healthgate.access import lifecycle as lc
from healthgate.access import service as applications
from healthgate.access.applicant_web import (
    as_mapping,
    ids,
    parse_id,
    question_id,
    see_other,
    signed_in,
    to_sign_in,
    version,
)
from healthgate.access.templates_api import file_response, store
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, HealthgateError, Invalid, TooLarge, UnsupportedMediaType
from healthgate.identity import users
from healthgate.web.deps import ContextDep
from healthgate.web.posted import MAX_FIELDS, Posted, PostedDep, by_field
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

STALE = ("Someone changed this application since you opened the page, so nothing was saved. "
         "Here is its current state: check it, then make your change again.")
NOTICES = {
    "created": "Your draft application is ready: fill in the form, then submit it.",
    "saved": "Saved.", "submitted": "Submitted to every custodian.", "resubmitted": "Sent back to the custodians.",
    "withdrawn": "You withdrew this application.", "datasets": "The datasets were changed.",
    "invited": "The collaborator was added: they can now see and edit this application.",
    "removed": "The collaborator was removed.", "message": "Your message was sent.", "note": "Your note was saved.",
    "file_deleted": "The file was removed.",
}
PAGE_COMMANDS = ("submit", "resubmit", "withdraw", "amend", "renew")


def _purpose_from_form(posted: Posted) -> dict[str, Any] | None:
    """The DUO purpose posted by ``access/duo/_purpose_fields.html``, once the DUO part provides its reader."""
    reader: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(duo, "purpose_from_form", None)
    return reader(as_mapping(posted)) if reader is not None else None


@dataclass(frozen=True)
class Upload:
    """One file posted by the edit page: for a question (``file:<question id>``) or the application (``file``)."""

    question_id: str | None
    filename: str
    data: bytes  # at most the limit plus one byte: longer files are refused without reading them to the end


@dataclass
class EditPost:
    posted: Posted
    uploads: list[Upload] = field(default_factory=list)


async def read_edit_form(request: Request) -> EditPost:
    """The edit page's multipart form: its fields, and every file chosen (empty file inputs are skipped)."""
    limit = int(request.app.state.settings.attachment_max_bytes)
    form = await request.form(max_files=attachments.MAX_PER_APPLICATION, max_fields=MAX_FIELDS)
    try:
        fields: dict[str, list[str]] = {}
        uploads: list[Upload] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(limit + 1)
                if not value.filename and not data:
                    continue  # a file input left empty
                if name == "file" or name.startswith("file:"):
                    uploads.append(Upload(name[5:] or None, value.filename or "file", data))
            else:
                fields.setdefault(name, []).append(value)
    finally:
        await form.close()
    return EditPost(Posted(fields), uploads)


EditDep = Annotated[EditPost, Depends(read_edit_form)]


def _store_uploads(request: Request, ctx: Context, aid: uuid.UUID,
                   uploads: list[Upload]) -> tuple[dict[str, list[str]], int]:
    """Attach each file, each in its own savepoint; the refusals by field (a question's, or ``attachments``) and
    the status to answer with (413 or 415 when every refusal is of that kind, else 422)."""
    if not uploads:
        return {}, 200
    limit = int(request.app.state.settings.attachment_max_bytes)
    saved = store(request)
    errors: dict[str, list[str]] = {}
    statuses: set[int] = set()
    for up in uploads:
        try:
            if len(up.data) > limit:
                raise TooLarge("file too large", [FieldError("file", f"larger than the limit of "
                                                                     f"{_size(limit)}")])
            with ctx.session.begin_nested():  # a refused file leaves nothing behind
                attachments.add(ctx, saved, aid, up.filename, up.data, question_id=up.question_id, max_bytes=limit)
        except (TooLarge, UnsupportedMediaType, Invalid) as exc:
            path = f"answers/{up.question_id}" if up.question_id and not _names_question(exc) else "attachments"
            name = up.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
            errors.setdefault(path, []).extend(f"{name}: {e.message}" for e in exc.errors or [])
            statuses.add(exc.status)
    return errors, (statuses.pop() if len(statuses) == 1 else 422)


def _names_question(exc: HealthgateError) -> bool:
    """The refusal is of the question itself (not one of this form's), so it cannot be shown beside it."""
    return any(e.path == "question_id" for e in exc.errors)


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n:,} bytes"


def _attempt(ctx: Context, step: Callable[[], T]) -> T:
    """Run one command in a savepoint: refused, it leaves nothing behind."""
    with ctx.session.begin_nested():
        return step()


def _is_stale(exc: Conflict) -> bool:
    return any(e.path == "version" for e in exc.errors)


def _duo_advice(rows: list[Any]) -> list[dict[str, Any]]:
    """The DUO advice of the latest submission (advice only: the custodians decide)."""
    for r in reversed(rows):
        if r.type == "submitted":
            advice = r.data.get("duo") or []
            return [a for a in advice if isinstance(a, dict)]
    return []


def _model(ctx: Context, view: applications.View) -> dict[str, Any]:
    """Everything the application's pages show, as the acting person may see it."""
    state = view.state
    found = labels.datasets(ctx, [d for d, _ in state.datasets])
    names = labels.teams(ctx, state.teams)
    parts = []
    for team in state.teams:
        part = state.parts.get(team)
        parts.append({"team_id": team, "name": names.get(team, "custodian"), "part": part,
                      "datasets": [found[d] for d, t in state.datasets if t == team and d in found],
                      "clock": clocks.part_clock(ctx, state.id, team) if part is not None else None})
    rows = applications.event_rows(ctx, state.id)
    visible = applications.visible_events(view, rows)
    thread = messages.visible(ctx, "application", state.id)
    invited = [e.data["user_id"] for e in visible if e.type.startswith("collaborator_") and e.data.get("user_id")]
    named = labels.people(ctx, [*state.collaborators, state.applicant_id, *invited,
                                *(m.author_id for m in thread if m.author_id)])
    people: dict[Any, str] = {**named, **{str(k): v for k, v in named.items()}}  # by id, as a value or as text
    form = forms.form_for(ctx, state)
    questions = {q.id: q.title for s in form.sections for q in s.questions}
    return {
        "view": view, "state": state, "row": view.row, "parts": parts, "events": visible, "team_names": names,
        "datasets": found, "duo": _duo_advice(rows), "messages": thread, "people": people, "form": form,
        "questions": questions,
        "can": {a.command.value for a in view.allowed if a.team_id is None and a.command in lc.APPLICANT_COMMANDS},
        "duo_titles": {str(d): label.title for d, label in found.items()},
        "files": attachments.list_for(ctx, state.id),
    }


def _summary(errors: dict[str, list[str]], questions: dict[str, str]) -> list[dict[str, str]]:
    """The error summary: each message with the field it links to (a question by its title)."""
    out = []
    for path, msgs in errors.items():
        qid = question_id(path)
        if qid in questions:
            target, label = f"#q-{qid}", questions[qid]
        elif path == "form":
            target, label = "", ""
        elif path.startswith("dataset"):
            target, label = "#datasets-h", "Datasets"
        else:
            target, label = f"#f-{path.split('/')[0]}", path.split("/")[0].replace("_", " ")
        out += [{"href": target, "label": label, "message": m} for m in msgs]
    return out


def _page(request: Request, ctx: Context, application_id: uuid.UUID, template: str, *, status_code: int = 200,
          errors: dict[str, list[str]] | None = None, notice: str = "", conflict: str = "",
          **extra: Any) -> HTMLResponse:
    view = applications.get(ctx, application_id)
    model = _model(ctx, view)
    errors = errors or {}
    answer_errors = {question_id(p): "; ".join(m) for p, m in errors.items() if question_id(p) in model["questions"]}
    return render(request, template, status_code=status_code, errors=errors, notice=notice, conflict=conflict,
                  summary=_summary(errors, model["questions"]), answer_errors=answer_errors, **model, **extra)


def _refused(request: Request, ctx: Context, application_id: uuid.UUID, exc: HealthgateError,
             template: str = "access/applicant/application.html", **extra: Any) -> HTMLResponse:
    """A refused command, answered with the page again: 409 (stale, or not allowed now) or 422 (by field)."""
    if isinstance(exc, Conflict):
        return _page(request, ctx, application_id, template, status_code=409,
                     conflict=STALE if _is_stale(exc) else exc.detail, **extra)
    return _page(request, ctx, application_id, template, status_code=exc.status, errors=by_field(exc), **extra)


# -- reading ---------------------------------------------------------------------------------------------------


@router.get("/applications/{application_id}", response_class=HTMLResponse)
def application_page(request: Request, application_id: str, ctx: ContextDep, done: str = "") -> Response:
    if not signed_in(ctx):
        return to_sign_in(request)
    return _page(request, ctx, parse_id(application_id, "application"), "access/applicant/application.html",
                 notice=NOTICES.get(done, ""))


def _basket(ctx: Context) -> dict[str, Any]:
    """The basket's datasets, offered on a draft's dataset list."""
    from healthgate.access import basket

    basket_ids = basket.dataset_ids(ctx)
    found = labels.datasets(ctx, basket_ids)
    return {"basket_ids": basket_ids, "basket": [found[d] for d in basket_ids if d in found]}


def _edit_page(request: Request, ctx: Context, aid: uuid.UUID, **kw: Any) -> HTMLResponse:
    return _page(request, ctx, aid, "access/applicant/edit.html", **_basket(ctx), max_file=_size(_limit(request)),
                 **kw)


def _edit_refused(request: Request, ctx: Context, aid: uuid.UUID, exc: HealthgateError,
                  **extra: Any) -> HTMLResponse:
    return _refused(request, ctx, aid, exc, "access/applicant/edit.html", **_basket(ctx),
                    max_file=_size(_limit(request)), **extra)


def _limit(request: Request) -> int:
    return int(request.app.state.settings.attachment_max_bytes)


@router.get("/applications/{application_id}/edit", response_class=HTMLResponse)
def edit_page(request: Request, application_id: str, ctx: ContextDep, done: str = "") -> Response:
    if not signed_in(ctx):
        return to_sign_in(request)
    aid = parse_id(application_id, "application")
    view = applications.get(ctx, aid)
    if not any(a.command == lc.Command.SAVE for a in view.allowed):
        return see_other(request, f"/applications/{aid}")  # nothing to edit now: the application itself
    return _edit_page(request, ctx, aid, notice=NOTICES.get(done, ""))


@router.get("/applications/{application_id}/withdraw", response_class=HTMLResponse)
def withdraw_page(request: Request, application_id: str, ctx: ContextDep) -> Response:
    """Withdrawing cannot be undone: the applicant confirms on this page first."""
    if not signed_in(ctx):
        return to_sign_in(request)
    return _page(request, ctx, parse_id(application_id, "application"), "access/applicant/withdraw.html", reason="")


# -- changing ----------------------------------------------------------------------------------------------------


@router.post("/applications/{application_id}/edit", response_class=HTMLResponse)
def save(request: Request, application_id: str, ctx: ContextDep, edit: EditDep) -> Response:
    """Save the title, the answers, the purpose and the files chosen; with ``action=submit``/``resubmit``, then
    submit them. A refused file (too large, a type not accepted) is shown beside its question; the rest is kept
    and nothing is submitted."""
    posted = edit.posted
    aid = parse_id(application_id, "application")
    if not signed_in(ctx):
        return to_sign_in(request, f"/applications/{aid}/edit")
    action = posted.one("action", "save")
    expected = version(posted)
    view = applications.get(ctx, aid)
    payload: dict[str, Any] = {"title": posted.one("title")}
    form = forms.form_for(ctx, view.state)
    if form.sections:
        payload["answers"] = forms.answers_from_form(form, as_mapping(posted))
    purpose = _purpose_from_form(posted)
    if purpose is not None:
        payload["purpose"] = purpose
    try:
        view = _attempt(ctx, lambda: applications.run(ctx, aid, lc.Command.SAVE, payload,
                                                      expected_version=expected))
        refused, status = _store_uploads(request, ctx, aid, edit.uploads)
        if refused:
            return _edit_page(request, ctx, aid, status_code=status, errors=refused,
                              notice="Your answers were saved, but some files were not attached"
                                     + (", so nothing was submitted." if action != "save" else "."))
        if action in ("submit", "resubmit"):
            now = view.state.version
            _attempt(ctx, lambda: applications.run(ctx, aid, action, {}, expected_version=now))
    except (Conflict, Invalid) as exc:
        unsaved: dict[str, Any] = {}
        if isinstance(exc, Conflict) and _is_stale(exc):  # shown beside the current state, to copy from
            titles = {q.id: q.title for s in form.sections for q in s.questions}
            unsaved = {"Project title": payload["title"],
                       **{titles.get(k, k): v for k, v in payload.get("answers", {}).items() if v not in ("", [])}}
        return _edit_refused(request, ctx, aid, exc, unsaved=unsaved)
    done = {"submit": "submitted", "resubmit": "resubmitted"}.get(action)
    return see_other(request, f"/applications/{aid}?done={done}" if done else f"/applications/{aid}/edit?done=saved")


@router.post("/applications/{application_id}/command", response_class=HTMLResponse)
def command(request: Request, application_id: str, ctx: ContextDep, posted: PostedDep) -> Response:
    """Submit, resubmit, withdraw (confirmed), amend or renew."""
    aid = parse_id(application_id, "application")
    if not signed_in(ctx):
        return to_sign_in(request, f"/applications/{aid}")
    name = posted.one("command")
    if name not in PAGE_COMMANDS:
        raise Invalid("unknown command", [FieldError("command", f"one of {', '.join(PAGE_COMMANDS)}")])
    expected = version(posted)
    payload: dict[str, Any] = {}
    if name == "withdraw":
        payload["reason"] = posted.one("reason")
        if posted.one("confirm") != "yes":
            return _page(request, ctx, aid, "access/applicant/withdraw.html", status_code=422,
                         errors={"confirm": ["tick the box to confirm that you withdraw this application"]},
                         reason=payload["reason"])
    if name in ("amend", "renew"):
        payload["title"] = posted.one("title")
    try:
        view = _attempt(ctx, lambda: applications.run(ctx, aid, name, payload, expected_version=expected))
    except Invalid as exc:
        if name in ("submit", "resubmit"):  # missing answers: shown on the form, each linked to its question
            return _edit_refused(request, ctx, aid, exc)
        if name == "withdraw":
            return _refused(request, ctx, aid, exc, "access/applicant/withdraw.html", reason=payload["reason"])
        return _refused(request, ctx, aid, exc)
    except Conflict as exc:
        return _refused(request, ctx, aid, exc)
    if name in ("amend", "renew"):
        return see_other(request, f"/applications/{view.state.children[-1]}/edit?done=created")
    done = {"submit": "submitted", "resubmit": "resubmitted", "withdraw": "withdrawn"}[name]
    return see_other(request, f"/applications/{aid}?done={done}")


@router.post("/applications/{application_id}/datasets", response_class=HTMLResponse)
def change_datasets(request: Request, application_id: str, ctx: ContextDep, posted: PostedDep) -> Response:
    """The datasets a draft asks for (those ticked, from the application and the basket)."""
    aid = parse_id(application_id, "application")
    if not signed_in(ctx):
        return to_sign_in(request, f"/applications/{aid}/edit")
    expected = version(posted)
    try:
        chosen = ids(posted.fields.get("dataset", []), "dataset_ids")
        _attempt(ctx, lambda: applications.run(ctx, aid, lc.Command.CHANGE_DATASETS, {"dataset_ids": chosen},
                                               expected_version=expected))
    except (Conflict, Invalid) as exc:
        return _edit_refused(request, ctx, aid, exc)
    return see_other(request, f"/applications/{aid}/edit?done=datasets#datasets-h")


@router.post("/applications/{application_id}/collaborators", response_class=HTMLResponse)
def collaborators(request: Request, application_id: str, ctx: ContextDep, posted: PostedDep) -> Response:
    """Invite a collaborator by the email address of their account, or remove one (the applicant only)."""
    aid = parse_id(application_id, "application")
    if not signed_in(ctx):
        return to_sign_in(request, f"/applications/{aid}")
    expected = version(posted)
    remove = posted.one("action") == "remove"
    try:
        if remove:
            user_id = posted.one("user_id")
        else:
            email = users.checked_email(posted.one("email"))
            person = users.find_by_email(ctx, email)
            if person is None:
                raise Invalid("no account with this address",
                              [FieldError("email", "no account uses this address: ask them to register first")])
            user_id = str(person.id)
        command_name = lc.Command.REMOVE_COLLABORATOR if remove else lc.Command.INVITE_COLLABORATOR
        _attempt(ctx, lambda: applications.run(ctx, aid, command_name, {"user_id": user_id},
                                               expected_version=expected))
    except (Conflict, Invalid) as exc:
        if isinstance(exc, Invalid) and "user_id" in by_field(exc):
            exc = Invalid(exc.detail, [FieldError("email", e.message) for e in exc.errors])
        return _refused(request, ctx, aid, exc, invite_email=posted.one("email"))
    return see_other(request, f"/applications/{aid}?done={'removed' if remove else 'invited'}#collaborators-h")


@router.post("/applications/{application_id}/messages", response_class=HTMLResponse)
def post_message(request: Request, application_id: str, ctx: ContextDep, posted: PostedDep) -> Response:
    """A message to one custodian (``team_id``), optionally about one question, or a note for the applicant's side
    only (``audience=applicant``)."""
    aid = parse_id(application_id, "application")
    if not signed_in(ctx):
        return to_sign_in(request, f"/applications/{aid}")
    note = posted.one("audience") == "applicant"
    body = posted.one("body")
    try:
        team = None if note else parse_id(posted.one("team_id"), "custodian team")
        messages.post(ctx, "application", aid, body, audience="applicant" if note else "shared", team_id=team,
                      question_id=posted.one("question_id") or None)
    except Invalid as exc:
        key = "note_body" if note else "message_body"
        errors = {key if k == "body" else k: v for k, v in by_field(exc).items()}
        return _page(request, ctx, aid, "access/applicant/application.html", status_code=422, errors=errors,
                     drafts={key: body})
    return see_other(request, f"/applications/{aid}?done={'note' if note else 'message'}#messages-h")


# -- attached files ----------------------------------------------------------------------------------------------


@router.get("/applications/{application_id}/attachments/{attachment_id}")
def download(request: Request, application_id: str, attachment_id: str, ctx: ContextDep) -> Response:
    """A file of the application, for whoever may read it (its applicant side, its custodians after
    submission), as a download (never shown inline); 404 for anyone else."""
    if not signed_in(ctx):
        return to_sign_in(request)
    aid = parse_id(application_id, "application")
    got = attachments.download(ctx, store(request), aid, parse_id(attachment_id, "file"))
    return file_response(got)


@router.post("/applications/{application_id}/attachments/{attachment_id}/delete", response_class=HTMLResponse)
def delete_file(request: Request, application_id: str, attachment_id: str, ctx: ContextDep) -> Response:
    """Remove a file (the applicant side, while the application can be edited)."""
    aid = parse_id(application_id, "application")
    if not signed_in(ctx):
        return to_sign_in(request, f"/applications/{aid}/edit")
    file_id = parse_id(attachment_id, "file")
    try:
        _attempt(ctx, lambda: attachments.delete(ctx, store(request), aid, file_id))
    except Conflict as exc:
        return _refused(request, ctx, aid, exc)
    return see_other(request, f"/applications/{aid}/edit?done=file_deleted#files-h")
