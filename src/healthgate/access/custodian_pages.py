"""The custodian's pages in the workspace: a team's queue of application parts, a part's page (the application
as the team may see it, its timeline, the conversation with the applicant and the team's internal notes), the
commands on the part (return, assign reviewers, review, approve, approve with conditions, reject, close), and
the team's enquiries. No SQL here: reads come from ``access.custodian``, every change from the access service,
messages and enquiries, which check permissions, as the API does.

Every command form carries the version of the application it was read at: a stale one is answered 409 with
the application as it is now ("someone changed this"), never a lost update; a command the part's state does
not allow is answered 409 with the commands that are allowed."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import TemplateNotFound

from healthgate.access import attachments, custodian, duo
from healthgate.access import lifecycle as lc
from healthgate.access import messages as threads
from healthgate.access import service as applications
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from healthgate.identity import service as identity
from healthgate.identity.models import Team
from healthgate.web.deps import WriterContextDep
from healthgate.web.posted import Posted, PostedDep
from healthgate.web.templates import env, render

router = APIRouter(prefix="/workspace", include_in_schema=False)

# The command forms of a part's page: path segment -> command.
ACTIONS: dict[str, lc.Command] = {
    "return": lc.Command.RETURN,
    "assign": lc.Command.ASSIGN_REVIEWERS,
    "review": lc.Command.REVIEW,
    "approve": lc.Command.APPROVE,
    "approve-with-conditions": lc.Command.APPROVE_WITH_CONDITIONS,
    "reject": lc.Command.REJECT,
    "close": lc.Command.CLOSE,
}
SLUG = {c: s for s, c in ACTIONS.items()}
COMMAND_LABELS: dict[lc.Command, str] = {
    lc.Command.RETURN: "Return to the applicant",
    lc.Command.ASSIGN_REVIEWERS: "Assign reviewers",
    lc.Command.REVIEW: "Review",
    lc.Command.APPROVE: "Approve",
    lc.Command.APPROVE_WITH_CONDITIONS: "Approve with conditions",
    lc.Command.REJECT: "Reject",
    lc.Command.CLOSE: "Close",
}
STATE_LABELS: dict[str, str] = {
    "submitted": "waiting for the custodian", "returned": "with the applicant", "in_review": "in review",
    "approved": "approved", "approved_with_conditions": "approved with conditions", "rejected": "rejected",
    "withdrawn": "withdrawn", "closed": "closed",
}
EVENT_LABELS: dict[str, str] = {
    "created": "Started", "saved": "Saved", "datasets_changed": "Datasets changed", "submitted": "Submitted",
    "resubmitted": "Resubmitted", "withdrawn": "Withdrawn by the applicant", "collaborator_invited":
    "Collaborator invited", "collaborator_removed": "Collaborator removed", "amended": "Amendment started",
    "renewed": "Renewal started", "returned": "Returned to the applicant", "reviewers_assigned": "Reviewers assigned",
    "reviewed": "Reviewed", "approved": "Approved", "approved_with_conditions": "Approved with conditions",
    "rejected": "Rejected", "closed": "Closed",
}
RECOMMENDATIONS = [("approve", "Approve"), ("approve_with_conditions", "Approve with conditions"),
                   ("reject", "Reject"), ("return", "Return to the applicant")]
DONE = {
    "return": "The application was returned to the applicant.", "assign": "Reviewers were assigned.",
    "review": "Your review was recorded.", "approve": "Approved.", "approve-with-conditions":
    "Approved with conditions.", "reject": "Rejected.", "close": "Closed.", "message": "Your message was sent.",
    "note": "The internal note was added.",
}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _id(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no {what} {raw[:60]!r}") from None


def _exists(template: str) -> bool:
    try:
        env.get_template(template)
    except TemplateNotFound:
        return False
    return True


FIELD_LABELS = {"reason": "Reason", "reviewers": "Reviewers", "phase": "Review phase", "due": "Due date",
                "recommendation": "Recommendation", "comment": "Comment", "conditions": "Conditions",
                "body": "Message", "version": "Form", "audience": "Audience", "command": "Allowed now",
                "team_id": "Team", "question_id": "Question"}


def _common() -> dict[str, Any]:
    return {"advice_partial": _exists("access/duo/_advice.html"), "field_labels": FIELD_LABELS,
            "state_labels": STATE_LABELS, "event_labels": EVENT_LABELS, "command_labels": COMMAND_LABELS,
            "slug": SLUG, "recommendations": RECOMMENDATIONS}


# ---- the queue ---------------------------------------------------------------------------------------------------


@router.get("/teams/{team_ref}/applications", response_class=HTMLResponse)
def queue_page(request: Request, team_ref: str, ctx: WriterContextDep, state: str = "open") -> HTMLResponse:
    """The team's parts of applications, oldest first, filtered by part state."""
    team = identity.resolve_team(ctx, team_ref)
    if state and state not in custodian.FILTERS:
        raise Invalid("unknown filter", [FieldError("state", f"one of {', '.join(custodian.FILTERS)}")])
    found = custodian.queue(ctx, team.id, state)
    return render(request, "access/custodian/queue.html", team=team, queue=found, filters=custodian.FILTERS,
                  current=state, **_common())


# ---- a part's page -----------------------------------------------------------------------------------------------


def _part_page(request: Request, ctx: Context, team: Team, application_id: uuid.UUID, *, status_code: int = 200,
               done: str = "", errors: list[FieldError] | None = None, failed: str = "", refused: str = "",
               stale: bool = False, posted: Posted | None = None) -> HTMLResponse:
    page = custodian.part_page(ctx, team, application_id)
    conditions: list[str] = list(page.part.conditions)
    suggest = getattr(duo, "conditions_for", None)  # the DUO check's modifiers as conditions, once it offers them
    if not conditions and callable(suggest) and lc.Command.APPROVE_WITH_CONDITIONS in page.allowed:
        conditions = [str(c) for c in suggest(ctx, page.view.state, team.id) or []]
    values = {k: v for k, v in (posted.fields.items() if posted else ()) if k != "csrf_token"}
    response = render(request, "access/custodian/part.html", status_code=status_code, team=team, page=page,
                      done=DONE.get(done, ""), errors=errors or [], failed=failed, refused=refused, stale=stale,
                      values=values, conditions="\n".join(conditions),
                      files=attachments.list_for(ctx, application_id), **_common())
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/teams/{team_ref}/applications/{application_id}", response_class=HTMLResponse)
def part_page(request: Request, team_ref: str, application_id: str, ctx: WriterContextDep,
              done: str = "") -> HTMLResponse:
    team = identity.resolve_team(ctx, team_ref)
    return _part_page(request, ctx, team, _id(application_id, "application"), done=done)


def _payload(command: lc.Command, posted: Posted) -> dict[str, Any]:
    if command == lc.Command.ASSIGN_REVIEWERS:
        reviewers = posted.fields.get("reviewers", [])
        bad = [FieldError(f"reviewers/{i}", "not a person of this team") for i, r in enumerate(reviewers)
               if not _is_uuid(r)]
        if bad:
            raise Invalid("choose reviewers from the list", bad)
        return {"reviewers": reviewers, "phase": posted.one("phase"), "due": posted.one("due")}
    if command == lc.Command.REVIEW:
        return {"recommendation": posted.one("recommendation"), "comment": posted.one("comment")}
    if command == lc.Command.APPROVE_WITH_CONDITIONS:
        return {"conditions": posted.one("conditions")}
    if command == lc.Command.APPROVE:
        return {"comment": posted.one("comment")}
    return {"reason": posted.one("reason")}


def _is_uuid(raw: str) -> bool:
    try:
        uuid.UUID(raw)
    except ValueError:
        return False
    return True


def _may_ever(view: applications.View, team_id: uuid.UUID, command: lc.Command) -> None:
    """Refuse (403) a command this person may never run on this part; one the state forbids *now* is the
    service's to refuse (409, naming the allowed commands)."""
    if command == lc.Command.REVIEW:
        if team_id not in view.relation.reviewing:
            raise Forbidden("only a reviewer assigned to this application reviews it")
    elif team_id not in view.relation.managed:
        raise Forbidden("handling and deciding applications needs the team's access manager role")


def _command(request: Request, team_ref: str, application_id: str, ctx: Context, posted: Posted,
             slug: str) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    app_id = _id(application_id, "application")
    command = ACTIONS[slug]
    view = custodian.part_view(ctx, team, app_id)
    _may_ever(view, team.id, command)
    read = posted.one("version")
    if not read.isdigit():
        raise Invalid("the form did not say which version it read", [FieldError("version", "reload the page")])
    try:
        payload = _payload(command, posted)
        applications.run(ctx, app_id, command, payload, team_id=team.id,
                         expected_version=int(read))
    except Conflict as exc:
        stale = any(e.path == "version" for e in exc.errors)
        return _part_page(request, ctx, team, app_id, status_code=409, stale=stale, failed=slug,
                          refused="" if stale else exc.detail)
    except Invalid as exc:
        return _part_page(request, ctx, team, app_id, status_code=422, errors=exc.errors, failed=slug,
                          refused=exc.detail, posted=posted)
    return _see_other(f"/workspace/teams/{team.slug}/applications/{app_id}?done={slug}")


def _command_route(slug: str) -> None:
    def handler(request: Request, team_ref: str, application_id: str, ctx: WriterContextDep,
                posted: PostedDep) -> Any:
        return _command(request, team_ref, application_id, ctx, posted, slug)

    handler.__name__ = "part_" + slug.replace("-", "_")
    handler.__doc__ = f"{COMMAND_LABELS[ACTIONS[slug]]} (this team's part)."
    router.add_api_route(f"/teams/{{team_ref}}/applications/{{application_id}}/{slug}", handler,
                         methods=["POST"], response_class=HTMLResponse, include_in_schema=False)


for _slug in ACTIONS:
    _command_route(_slug)


@router.post("/teams/{team_ref}/applications/{application_id}/messages", response_class=HTMLResponse)
def post_message(request: Request, team_ref: str, application_id: str, ctx: WriterContextDep,
                 posted: PostedDep) -> Any:
    """A message to the applicant (``audience=shared``) or an internal note of the team (``audience=team``),
    about the whole application or one question."""
    team = identity.resolve_team(ctx, team_ref)
    app_id = _id(application_id, "application")
    custodian.part_view(ctx, team, app_id)
    audience = posted.one("audience", "shared")
    try:
        if audience not in ("shared", "team"):
            raise Invalid("unknown audience", [FieldError("audience", "a message to the applicant or a note")])
        threads.post(ctx, "application", app_id, posted.one("body"), audience=audience, team_id=team.id,
                     question_id=posted.one("question_id") or None)
    except Invalid as exc:
        return _part_page(request, ctx, team, app_id, status_code=422, errors=exc.errors,
                          failed="note" if audience == "team" else "message", refused=exc.detail, posted=posted)
    done = "note" if audience == "team" else "message"
    return _see_other(f"/workspace/teams/{team.slug}/applications/{app_id}?done={done}#{done}s")


# ---- enquiries ---------------------------------------------------------------------------------------------------


@router.get("/teams/{team_ref}/enquiries", response_class=HTMLResponse)
def enquiries_page(request: Request, team_ref: str, ctx: WriterContextDep) -> HTMLResponse:
    team = identity.resolve_team(ctx, team_ref)
    return render(request, "access/custodian/enquiries.html", team=team, rows=custodian.team_enquiries(ctx, team.id))


def _enquiry_page(request: Request, ctx: Context, team: Team, enquiry_id: uuid.UUID, *, status_code: int = 200,
                  done: str = "", errors: list[FieldError] | None = None, failed: str = "",
                  posted: Posted | None = None) -> HTMLResponse:
    page = custodian.enquiry_page(ctx, team, enquiry_id)
    values = {k: v for k, v in (posted.fields.items() if posted else ()) if k != "csrf_token"}
    response = render(request, "access/custodian/enquiry.html", status_code=status_code, team=team, page=page,
                      done=DONE.get(done, ""), errors=errors or [], failed=failed, values=values,
                      field_labels=FIELD_LABELS)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/teams/{team_ref}/enquiries/{enquiry_id}", response_class=HTMLResponse)
def enquiry_page(request: Request, team_ref: str, enquiry_id: str, ctx: WriterContextDep,
                 done: str = "") -> HTMLResponse:
    team = identity.resolve_team(ctx, team_ref)
    return _enquiry_page(request, ctx, team, _id(enquiry_id, "enquiry"), done=done)


@router.post("/teams/{team_ref}/enquiries/{enquiry_id}/messages", response_class=HTMLResponse)
def reply_to_enquiry(request: Request, team_ref: str, enquiry_id: str, ctx: WriterContextDep,
                     posted: PostedDep) -> Any:
    team = identity.resolve_team(ctx, team_ref)
    eid = _id(enquiry_id, "enquiry")
    custodian.enquiry_page(ctx, team, eid)  # 404 unless this person reads the team's side of this enquiry
    audience = posted.one("audience", "shared")
    try:
        if audience not in ("shared", "team"):
            raise Invalid("unknown audience", [FieldError("audience", "a reply or a note")])
        threads.post(ctx, "enquiry", eid, posted.one("body"), audience=audience, team_id=team.id)
    except Invalid as exc:
        return _enquiry_page(request, ctx, team, eid, status_code=422, errors=exc.errors,
                             failed="note" if audience == "team" else "message", posted=posted)
    done = "note" if audience == "team" else "message"
    return _see_other(f"/workspace/teams/{team.slug}/enquiries/{eid}?done={done}")
