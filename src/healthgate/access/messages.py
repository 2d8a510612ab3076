"""Messages and notes on enquiries and applications, per application or per question.

A *message* ("shared") is between the applicant's side and one custodian team: both read it, other custodians
of the same application do not. A *note* is internal to one side: "team" notes only that custodian team reads,
"applicant" notes only the applicant and collaborators read."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from healthgate.access import notify
from healthgate.access import service as applications
from healthgate.access.models import Enquiry, EnquiryDataset, Message
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Forbidden, Invalid, NotFound
from healthgate.identity.permissions import Permission

AUDIENCES = ("shared", "team", "applicant")
MAX_BODY = 20_000


def _body(body: str) -> str:
    text = (body or "").strip()
    if not text:
        raise Invalid("write a message", [FieldError("body", "give a message")])
    if len(text) > MAX_BODY:
        raise Invalid("the message is too long", [FieldError("body", f"at most {MAX_BODY} characters")])
    return text


def _sides(ctx: Context, thread_type: str, thread_id: uuid.UUID) -> tuple[bool, frozenset[uuid.UUID], frozenset[uuid.UUID]]:
    """(on the applicant side, custodian teams this person reads as, every custodian team of the thread)."""
    if thread_type == "application":
        view = applications.get(ctx, thread_id)
        return view.applicant_side, view.teams, frozenset(view.state.parts or view.state.teams)
    if thread_type == "enquiry":
        enquiry = ctx.session.get(Enquiry, thread_id)
        if enquiry is None:
            raise NotFound(f"no enquiry {thread_id}")
        teams = frozenset(ctx.session.scalars(select(EnquiryDataset.team_id)
                                              .where(EnquiryDataset.enquiry_id == thread_id)))
        mine = enquiry.author_id == ctx.actor.user_id
        readable = frozenset(t for t in teams if ctx.actor.can(Permission.APPLICATION_REVIEW, t))
        if not mine and not readable:
            raise NotFound(f"no enquiry {thread_id}")
        return mine, readable, teams
    raise Invalid("unknown thread", [FieldError("thread_type", "enquiry or application")])


def post(ctx: Context, thread_type: str, thread_id: uuid.UUID, body: str, *, audience: str = "shared",
         team_id: uuid.UUID | None = None, question_id: str | None = None) -> Message:
    """Post a message (``audience="shared"``, to custodian team ``team_id``; from a custodian, ``team_id`` is
    its own team) or a note (``"team"`` or ``"applicant"``) on an enquiry or an application."""
    applications.writer_id(ctx)
    if audience not in AUDIENCES:
        raise Invalid("unknown audience", [FieldError("audience", f"one of {', '.join(AUDIENCES)}")])
    applicant_side, my_teams, all_teams = _sides(ctx, thread_type, thread_id)
    if team_id is None and audience != "applicant":
        candidates = all_teams if applicant_side else my_teams
        if len(candidates) != 1:
            raise Invalid("say which custodian team", [FieldError("team_id", "which custodian team")])
        team_id = next(iter(candidates))
    if audience == "applicant":
        if not applicant_side:
            raise Forbidden("only the applicant's side writes the applicant's notes")
        team_id = None
        side = "applicant"
    elif audience == "team":
        if team_id not in my_teams:
            raise Forbidden("only the custodian team writes its internal notes")
        side = "custodian"
    else:
        if team_id not in all_teams:
            raise Invalid("not a custodian of this request", [FieldError("team_id", "not a custodian here")])
        if team_id in my_teams:
            side = "custodian"
        elif applicant_side:
            side = "applicant"
        else:
            raise Forbidden("you are on neither side of this conversation")
    question = (question_id or "").strip()[:200] or None
    message = Message(id=uuid.uuid4(), thread_type=thread_type, thread_id=thread_id, team_id=team_id,
                      question_id=question, audience=audience, author_id=ctx.actor.user_id, author_side=side,
                      body=_body(body), created_at=ctx.now())
    ctx.session.add(message)
    ctx.session.flush()
    shared = audience == "shared"
    audit.record(ctx, "access.message_posted" if shared else "access.note_added", thread_type,
                 thread_id, {"message_id": str(message.id), "audience": audience,
                             **({"team_id": str(team_id)} if team_id else {}),
                             **({"question_id": question} if question else {})})
    notify.message_posted(ctx, message)
    return message


def visible(ctx: Context, thread_type: str, thread_id: uuid.UUID) -> list[Message]:
    """The messages and notes of a thread this person may read, oldest first."""
    applicant_side, my_teams, _ = _sides(ctx, thread_type, thread_id)
    rows = ctx.session.scalars(select(Message).where(Message.thread_type == thread_type,
                                                     Message.thread_id == thread_id)
                               .order_by(Message.created_at, Message.id))
    return [m for m in rows if _reads(m, applicant_side, my_teams)]


def _reads(m: Message, applicant_side: bool, my_teams: frozenset[uuid.UUID]) -> bool:
    if m.audience == "applicant":
        return applicant_side
    if m.audience == "team":
        return m.team_id in my_teams
    return applicant_side or m.team_id in my_teams
