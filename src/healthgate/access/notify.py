"""Who hears of what: emails and signed webhooks, queued in the outbox in the caller's transaction.

The service calls the three hooks below inside the command's transaction, so an email goes out only if the
change that caused it commits. Each email goes to one person (addresses are never shown to each other), never
to the person who acted, and carries no content beyond what its reader may already see: a reference, a title,
what happened, and a link (no message bodies, no answers, no secrets).

Links use the configured base URL, resolved at send time: a body is a ``string.Template`` in which ``$base_url``
stands for ``HEALTHGATE_BASE_URL`` (the outbox worker substitutes it; ``$$`` is a literal ``$``, so text a
person typed is escaped with :func:`literal`). The payload says so with ``"template": "base_url"``.

Who gets what:

- submitted, resubmitted, an enquiry opened, a withdrawal -> the access managers of each custodian team
  concerned (members holding a role that grants ``application:manage``);
- returned, approved, approved with conditions, rejected, closed -> the applicant and the collaborators;
- reviewers assigned -> those reviewers;
- a shared message -> the other side: from the applicant's side to the team's access managers, from a
  custodian to the applicant and collaborators (notes are never sent anywhere);
- a collaborator invited -> that collaborator.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from healthgate.access import webhooks
from healthgate.access.lifecycle import PartState, State
from healthgate.access.models import Application, Enquiry, Message
from healthgate.context import Context
from healthgate.identity.models import Membership, Team, User
from healthgate.identity.permissions import API_ONLY, GRANTS, Permission, Role
from healthgate.outbox import service as outbox

# Where the pages live (the applicant's and the custodian's pages own these paths; one place to change them).
APPLICANT_APPLICATION = "/applications/{id}"
APPLICANT_ENQUIRY = "/enquiries/{id}"
CUSTODIAN_APPLICATION = "/workspace/teams/{team}/applications/{id}"
CUSTODIAN_ENQUIRY = "/workspace/teams/{team}/enquiries/{id}"
TEMPLATE = "base_url"  # the payload marker: "$base_url" in subject and body resolves at send time

# Roles whose holders handle a team's applications (and so hear of new ones).
MANAGER_ROLES = frozenset(r.value for r in Role if Permission.APPLICATION_MANAGE in GRANTS[r] and r not in API_ONLY)

DECIDED_WORDS = {
    "approved": "approved",
    "approved_with_conditions": "approved with conditions",
    "rejected": "rejected",
    "closed": "closed",
}


def literal(text: str) -> str:
    """Text a person typed, safe inside a template (a ``$`` stays a ``$``)."""
    return text.replace("$", "$$")


def link(path: str) -> str:
    return "$base_url" + path


def email(ctx: Context, to: User, subject: str, body: str) -> None:
    """Queue one templated email to one person."""
    outbox.enqueue(ctx, "email", {"to": literal(to.email), "subject": subject, "body": body + _FOOTER,
                                  "template": TEMPLATE})


_FOOTER = ("\n\n-- \nYou receive this because of your part in a data access request on healthgate ($base_url). "
           "Sign in to see the details.\n")


# -- recipients ---------------------------------------------------------------------------------------------


def _people(ctx: Context, ids: Iterable[uuid.UUID]) -> list[User]:
    """These people, minus whoever is acting and anyone disabled, each once, in a stable order."""
    wanted = {i for i in ids if i is not None and i != ctx.actor.user_id}
    if not wanted:
        return []
    rows = ctx.session.scalars(select(User).where(User.id.in_(wanted), User.disabled_at.is_(None)))
    return sorted(rows, key=lambda u: (u.email.lower(), str(u.id)))


def managers(ctx: Context, team_id: uuid.UUID) -> list[uuid.UUID]:
    """The people who handle the team's applications: members with a role granting application:manage."""
    return list(ctx.session.scalars(select(Membership.user_id).where(
        Membership.team_id == team_id, Membership.role.in_(MANAGER_ROLES)).distinct()))


def _applicant_side(state: State) -> list[uuid.UUID]:
    return [state.applicant_id, *sorted(state.collaborators)]


def _team(ctx: Context, team_id: uuid.UUID) -> Team | None:
    return ctx.session.get(Team, team_id)


def _title(row: Application) -> str:
    return literal(f"{row.reference}" + (f" ({row.title})" if row.title else ""))


# -- the hooks ----------------------------------------------------------------------------------------------


def application_event(ctx: Context, row: Application, state: State, event_type: str, data: dict[str, Any],
                      team_id: uuid.UUID | None) -> None:
    """Called once for each event appended to an application's log, after the projection is updated."""
    if event_type in ("submitted", "resubmitted", "withdrawn"):
        teams = _teams_concerned(state, event_type, data)
        for concerned in teams:
            _to_managers(ctx, row, event_type, concerned)
    elif event_type in ("returned", *DECIDED_WORDS):
        _to_applicant_side(ctx, row, state, event_type, data, team_id)
    elif event_type == "reviewers_assigned" and team_id is not None:
        team = _team(ctx, team_id)
        for person in _people(ctx, (uuid.UUID(r) for r in data.get("reviewers", ()))):
            due = f" The review is due by {data['due']}." if data.get("due") else ""
            email(ctx, person, f"Please review {row.reference}",
                  f"{literal(ctx.actor.name)} asked you to review {_title(row)} for "
                  f"{literal(team.name if team else 'your team')} (phase: {literal(data.get('phase') or 'review')})."
                  f"{due}\n\nOpen it: {link(_custodian_path(team, row.id))}")
    elif event_type == "collaborator_invited":
        for person in _people(ctx, [uuid.UUID(data["user_id"])]):
            email(ctx, person, f"You were invited to collaborate on {row.reference}",
                  f"{literal(ctx.actor.name)} invited you to collaborate on the data access application "
                  f"{_title(row)}. You may read and edit it.\n\nOpen it: "
                  f"{link(APPLICANT_APPLICATION.format(id=row.id))}")
    webhooks.application_event(ctx, row, state, event_type, data, team_id)


def _teams_concerned(state: State, event_type: str, data: dict[str, Any]) -> list[uuid.UUID]:
    if event_type == "resubmitted":
        return [uuid.UUID(t) for t in data.get("teams", ())]
    if event_type == "withdrawn":
        return [t for t, p in state.parts.items() if p.state == PartState.WITHDRAWN]
    return list(state.parts)


def _custodian_path(team: Team | None, app_id: uuid.UUID) -> str:
    return CUSTODIAN_APPLICATION.format(team=team.slug if team else "-", id=app_id)


def _to_managers(ctx: Context, row: Application, event_type: str, team_id: uuid.UUID) -> None:
    team = _team(ctx, team_id)
    name = literal(team.name) if team else "your team"
    what = {"submitted": ("New data access application", "submitted a data access application to"),
            "resubmitted": ("Application resubmitted", "resubmitted, with the changes asked for, the application to"),
            "withdrawn": ("Application withdrawn", "withdrew the data access application to")}[event_type]
    for person in _people(ctx, managers(ctx, team_id)):
        email(ctx, person, f"{what[0]}: {row.reference}",
              f"{literal(ctx.actor.name)} {what[1]} {name}: {_title(row)}.\n\n"
              f"Open it: {link(_custodian_path(team, row.id))}")


def _to_applicant_side(ctx: Context, row: Application, state: State, event_type: str, data: dict[str, Any],
                       team_id: uuid.UUID | None) -> None:
    team = _team(ctx, team_id) if team_id else None
    name = literal(team.name) if team else "A custodian"
    if event_type == "returned":
        subject = f"Changes asked for on {row.reference}"
        text = (f"{name} returned the application {_title(row)} to you for changes.\n\n"
                f"Reason: {literal(data.get('reason', ''))}")
    else:
        word = DECIDED_WORDS[event_type]
        subject = f"{row.reference}: {word}"
        text = f"{name} {word} its part of the application {_title(row)}."
        if data.get("conditions"):
            text += "\n\nConditions:\n" + "\n".join(f"- {literal(c)}" for c in data["conditions"])
        if data.get("reason"):
            text += f"\n\nReason: {literal(data['reason'])}"
        text += f"\n\nThe application is now {state.status.value.replace('_', ' ')}."
    for person in _people(ctx, _applicant_side(state)):
        email(ctx, person, subject, f"{text}\n\nOpen it: {link(APPLICANT_APPLICATION.format(id=row.id))}")


def message_posted(ctx: Context, message: Message) -> None:
    """Called once for each message or note posted (notes are never sent outside their side)."""
    if message.audience != "shared" or message.team_id is None:
        return
    team = _team(ctx, message.team_id)
    if message.thread_type == "application":
        app = ctx.session.get(Application, message.thread_id)
        if app is None:
            return
        reference, title = app.reference, app.title
        applicant_side = [app.applicant_id, *(uuid.UUID(c) for c in app.collaborators or ())]
        applicant_path = APPLICANT_APPLICATION.format(id=app.id)
        custodian_path = _custodian_path(team, app.id)
    else:
        enquiry = ctx.session.get(Enquiry, message.thread_id)
        if enquiry is None or _opening(ctx, message):
            return  # the enquiry's first message to each team: enquiry_opened tells them
        reference, title = enquiry.reference, enquiry.subject
        applicant_side = [enquiry.author_id]
        applicant_path = APPLICANT_ENQUIRY.format(id=enquiry.id)
        custodian_path = CUSTODIAN_ENQUIRY.format(team=team.slug if team else "-", id=enquiry.id)
    about = literal(reference + (f" ({title})" if title else ""))
    if message.author_side == "applicant":
        recipients, path = managers(ctx, message.team_id), custodian_path
        sender = "The applicant"
    else:
        recipients, path = applicant_side, applicant_path
        sender = literal(team.name) if team else "A custodian"
    question = f" about question {literal(message.question_id)}" if message.question_id else ""
    for person in _people(ctx, recipients):
        email(ctx, person, f"New message on {reference}",
              f"{sender} sent a message{question} on {about}.\n\nRead and answer it: {link(path)}")


def _opening(ctx: Context, message: Message) -> bool:
    """Whether this is the first shared message of an enquiry's thread with this team (the question itself)."""
    shared = list(ctx.session.scalars(select(Message.id).where(
        Message.thread_type == "enquiry", Message.thread_id == message.thread_id,
        Message.team_id == message.team_id, Message.audience == "shared").limit(2)))
    return shared == [message.id]


def enquiry_opened(ctx: Context, enquiry_id: uuid.UUID, team_ids: list[uuid.UUID]) -> None:
    """Called when an enquiry is opened, with the custodian teams it asks."""
    enquiry = ctx.session.get(Enquiry, enquiry_id)
    if enquiry is None:
        return
    kind = "feasibility enquiry" if enquiry.kind == "feasibility" else "enquiry"
    for team_id in team_ids:
        team = _team(ctx, team_id)
        path = CUSTODIAN_ENQUIRY.format(team=team.slug if team else "-", id=enquiry.id)
        for person in _people(ctx, managers(ctx, team_id)):
            email(ctx, person, f"New {kind}: {enquiry.reference}",
                  f"{literal(ctx.actor.name)} asked {literal(team.name) if team else 'your team'} a question: "
                  f"{literal(enquiry.subject)}.\n\nRead and answer it: {link(path)}")
