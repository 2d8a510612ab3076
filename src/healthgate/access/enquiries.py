"""Enquiries: a researcher asks the custodians of one or more datasets a question (general, or feasibility:
"could your data answer this?") before applying. Each custodian team answers in its own thread; an enquiry
can become an application for the same datasets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from healthgate.access import messages, notify
from healthgate.access import service as applications
from healthgate.access.models import Application, Enquiry, EnquiryDataset
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.permissions import Permission, require

KINDS = ("general", "feasibility")


def open_enquiry(ctx: Context, dataset_ids: Sequence[uuid.UUID], subject: str, body: str, *,
                 kind: str = "general") -> Enquiry:
    """Ask the custodians of these public datasets; the first message goes to each custodian team."""
    me = applications.writer_id(ctx)
    errors = []
    if kind not in KINDS:
        errors.append(FieldError("kind", f"one of {', '.join(KINDS)}"))
    subject = (subject or "").strip()
    if not subject:
        errors.append(FieldError("subject", "give a subject"))
    elif len(subject) > 300:
        errors.append(FieldError("subject", "at most 300 characters"))
    if not (body or "").strip():
        errors.append(FieldError("body", "write your question"))
    if errors:
        raise Invalid("the enquiry is incomplete", errors)
    datasets = applications._datasets(ctx, dataset_ids, "dataset_ids")
    at = ctx.now()
    enquiry = Enquiry(id=uuid.uuid4(), reference=applications.reference("ENQ", at), author_id=me, kind=kind,
                      subject=subject, created_at=at, updated_at=at)
    ctx.session.add(enquiry)
    ctx.session.flush()
    ctx.session.add_all([EnquiryDataset(enquiry_id=enquiry.id, dataset_id=d, team_id=t) for d, t in datasets])
    ctx.session.flush()
    teams = list(dict.fromkeys(t for _, t in datasets))
    audit.record(ctx, "enquiry.opened", "enquiry", enquiry.id,
                 {"reference": enquiry.reference, "kind": kind, "teams": [str(t) for t in teams]}, at=at)
    for team in teams:
        messages.post(ctx, "enquiry", enquiry.id, body, team_id=team)
    notify.enquiry_opened(ctx, enquiry.id, teams)
    return enquiry


def get(ctx: Context, enquiry_id: uuid.UUID) -> Enquiry:
    """The enquiry, for its author or a custodian team it asks (404 for anyone else)."""
    applications.user_id_of(ctx)
    enquiry = ctx.session.get(Enquiry, enquiry_id)
    if enquiry is None:
        raise NotFound(f"no enquiry {enquiry_id}")
    if enquiry.author_id != ctx.actor.user_id and not any(
            ctx.actor.can(Permission.APPLICATION_REVIEW, t) for t in teams_of(ctx, enquiry_id)):
        raise NotFound(f"no enquiry {enquiry_id}")
    return enquiry


def teams_of(ctx: Context, enquiry_id: uuid.UUID) -> list[uuid.UUID]:
    return list(dict.fromkeys(ctx.session.scalars(select(EnquiryDataset.team_id)
                                                  .where(EnquiryDataset.enquiry_id == enquiry_id))))


def dataset_ids(ctx: Context, enquiry_id: uuid.UUID) -> list[uuid.UUID]:
    return list(ctx.session.scalars(select(EnquiryDataset.dataset_id).where(EnquiryDataset.enquiry_id == enquiry_id)))


def mine(ctx: Context) -> list[Enquiry]:
    me = applications.user_id_of(ctx)
    return list(ctx.session.scalars(select(Enquiry).where(Enquiry.author_id == me)
                                    .order_by(Enquiry.updated_at.desc())))


def for_team(ctx: Context, team_id: uuid.UUID) -> list[Enquiry]:
    require(ctx.actor, Permission.APPLICATION_REVIEW, on=team_id)
    return list(ctx.session.scalars(
        select(Enquiry).join(EnquiryDataset, EnquiryDataset.enquiry_id == Enquiry.id)
        .where(EnquiryDataset.team_id == team_id).distinct().order_by(Enquiry.updated_at.desc())))


def to_application(ctx: Context, enquiry_id: uuid.UUID, *, title: str = "") -> Application:
    """Start a draft application for the enquiry's datasets (its author only, once)."""
    enquiry = get(ctx, enquiry_id)
    if enquiry.author_id != ctx.actor.user_id:
        raise NotFound(f"no enquiry {enquiry_id}")
    if enquiry.application_id is not None:
        raise Conflict("this enquiry already became an application",
                       [FieldError("application_id", str(enquiry.application_id))])
    app = applications.create(ctx, dataset_ids(ctx, enquiry_id), title=title or enquiry.subject,
                              enquiry_id=enquiry.id)
    enquiry.application_id = app.id
    enquiry.updated_at = ctx.now()
    audit.record(ctx, "enquiry.converted", "enquiry", enquiry.id, {"application_id": str(app.id)})
    return app
