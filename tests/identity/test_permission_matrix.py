"""The permission matrix: every API endpoint and every state-changing web form (found by walking ``app.routes``, so a new route without an entry
here fails) called by anonymous, a signed-in researcher, a member of another team, each team role and an
alliance admin, each answer asserted allowed (2xx) or denied (401 for anonymous; 403, or 404/410 for what they may not even see). And no
route, search result, facet count, export, sitemap or page shows another team's drafts. On both databases.

Every call gets resources of its own (a fresh draft to publish, a fresh organisation to merge), so one
persona's allowed call never changes what the next one meets."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from healthgate.app import create_app
from healthgate.catalogue import service as catalogue
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.identity import organisations, tokens, users
from healthgate.identity import service as teams
from healthgate.identity.models import Membership, Team, User
from healthgate.identity.permissions import SYSTEM, Role
from healthgate.interop import hdruk
from healthgate.outbox.models import OutboxMessage
from tests.conftest import load_fixture

ANONYMOUS = "anonymous"
RESEARCHER = "researcher"  # signed in, no team
OTHER_TEAM = "other team admin"  # team admin of another team
ADMIN = "alliance admin"
ROLES = {r.label: r for r in Role}
PERSONAS = [ANONYMOUS, RESEARCHER, OTHER_TEAM, *ROLES, ADMIN]

EVERYONE = frozenset(PERSONAS)
SIGNED_IN = EVERYONE - {ANONYMOUS}
EDIT = frozenset({"Team admin", "Metadata manager", "Metadata editor", "Developer (API only)", ADMIN})
PUBLISH = frozenset({"Team admin", "Metadata manager", ADMIN})
VIEW_MEMBERS = frozenset({"Team admin", "Metadata manager", "Metadata editor", "Access manager", "Reviewer", ADMIN})
MANAGE = frozenset({"Team admin", ADMIN})
REVIEW_APPLICATIONS = frozenset({"Team admin", "Access manager", "Reviewer", ADMIN})  # application:review
ALLIANCE = frozenset({ADMIN})
DATA_USE = frozenset({"Team admin", "Metadata manager", "Access manager", ADMIN})  # dataset:data-use
SECRET = "Quokkasecret"  # only in team A's drafts


@dataclass
class World:
    """Two teams, a person per persona and their tokens, and ways to make fresh resources."""

    app: Any
    team_a: uuid.UUID
    team_b: uuid.UUID
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    auth: dict[str, dict[str, str]] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)
    published: uuid.UUID | None = None
    draft_only: uuid.UUID | None = None

    @contextmanager
    def system(self) -> Iterator[Context]:
        with self.app.state.sessions.begin() as s:
            yield Context(s, SYSTEM, self.app.state.clock)

    def doc(self, title: str | None = None) -> dict[str, Any]:
        doc = load_fixture("hdruk-4.0.0-full.json")
        n = next(self.counter)
        return {**doc, "identifier": None, "summary": {**doc["summary"], "title": title or f"Cohort number {n}"}}

    def draft(self, *, title: str | None = None) -> uuid.UUID:
        with self.system() as ctx:
            return catalogue.create_draft(ctx, self.team_a, self.doc(title))[0].id

    def published_dataset(self, *, archived: bool = False) -> uuid.UUID:
        dataset_id = self.draft()
        with self.system() as ctx:
            catalogue.publish(ctx, dataset_id)
            if archived:
                catalogue.archive(ctx, dataset_id)
        return dataset_id

    def organisation(self) -> uuid.UUID:
        with self.system() as ctx:
            return organisations.create_organisation(ctx, f"Organisation {next(self.counter)}").id

    def person(self, *, role: Role | None = None) -> uuid.UUID:
        with self.system() as ctx:
            user = users.create_user(ctx, f"p{next(self.counter)}@example.org", "Somebody", verified=True)
            if role is not None:
                ctx.session.add(Membership(team_id=self.team_a, user_id=user.id, role=role.value,
                                           created_at=ctx.now()))
            return user.id

    def token_of(self, persona: str) -> uuid.UUID:
        owner = self.users.get(persona) or self.users[RESEARCHER]
        with self.system() as ctx:
            value = tokens.create_token(ctx, ctx.session.get(User, owner), f"spare {next(self.counter)}")
            return tokens.row_for(ctx, value).id


def _as(ctx: Context, user_id: uuid.UUID) -> Context:
    from healthgate.identity import actors

    return ctx.as_actor(actors.actor_for_user(ctx.session, ctx.session.get(User, user_id)))


def _own(w: World, persona: str) -> uuid.UUID:
    """The persona's own account (anonymous borrows the researcher's, and is refused before it matters)."""
    return w.users.get(persona) or w.users[RESEARCHER]


def _a_small_form(ctx: Context, dataset_id: uuid.UUID) -> None:
    """The dataset's team asks one optional question (else its form is the bank's 37 required questions)."""
    from healthgate.access import templates
    from healthgate.catalogue.models import Dataset
    from tests.access.harness import Q1

    team = ctx.session.get(Dataset, dataset_id).team_id
    if templates.published(ctx, team) is None:
        templates.save_draft(ctx, team, [{"id": Q1}])
        templates.publish(ctx, team)


def application(w: World, owner: uuid.UUID | None = None, *, submitted: bool = True) -> uuid.UUID:
    """A fresh application for team A's published dataset, by ``owner`` (else a new person), submitted."""
    from healthgate.access import service as access

    owner = owner or w.person()  # in a transaction of its own, before this one writes
    with w.system() as ctx:
        _a_small_form(ctx, w.published)
        me = _as(ctx, owner)
        app_id = access.create(me, [w.published]).id
        if submitted:
            access.run(me, app_id, "submit")
        return app_id


def enquiry(w: World, owner: uuid.UUID | None = None) -> uuid.UUID:
    """A fresh enquiry to team A, by ``owner`` (else a new person)."""
    from healthgate.access import enquiries

    with w.system() as ctx:
        return enquiries.open_enquiry(_as(ctx, owner or w.person()), [w.published], "Feasible?", "Echo data?").id


Call = tuple[str, str, Any]  # method, URL, JSON body (None: no body)
Prepare = Callable[[World, str], Call]


def _fixed(method: str, url: Callable[[World], str], body: Callable[[World], Any] | None = None) -> Prepare:
    return lambda w, persona: (method, url(w), body(w) if body else None)


ACCESS_MANAGE = frozenset({"Team admin", "Access manager", ADMIN})


HARVEST = frozenset({"Team admin", "Metadata manager", ADMIN})  # harvest:manage


def _harvest_source(w: World) -> str:
    """A fresh harvest source of team A: its id."""
    from healthgate.federation import service as harvest

    with w.system() as ctx:
        return str(harvest.create_source(ctx, w.team_a, name=f"source {next(w.counter)}", kind="hdruk-fma",
                                         url="https://catalogue.example.org").id)


REGISTER = frozenset({"Team admin", "Access manager", ADMIN})  # register:manage
_ENTRY = {"organisation_name": "University of Exeter", "project_title": "Heart failure after COVID-19",
          "lay_summary": "We look at who develops heart failure.", "public_benefit": "Better follow-up care.",
          "approval_date": "2025-03-01", "access_type": "TRE", "datasets": [{"name": "A dataset elsewhere"}]}


def _register_entry(w: World, *, publish: bool = False) -> str:
    """A fresh entry of team A's data use register (a draft unless ``publish``): its id."""
    from datetime import date

    from healthgate.register import service as register

    with w.system() as ctx:
        entry = register.create(ctx, w.team_a, register.EntryData(
            organisation_name="University of Exeter", project_title=f"Project {next(w.counter)}",
            lay_summary="Who recovers.", public_benefit="Better care.", approval_date=date(2025, 3, 1),
            access_type="TRE", datasets=[register.DatasetRef("A dataset elsewhere")]))
        if publish:
            register.publish(ctx, entry.id)
        return str(entry.id)


def _harvest_job(w: World) -> str:
    """A queued job of a fresh harvest source of team A: its id."""
    from healthgate.federation import service as harvest

    source = _harvest_source(w)
    with w.system() as ctx:
        return str(harvest.enqueue(ctx, uuid.UUID(source)).id)


def _webhook(w: World) -> str:
    """A fresh webhook of team A (access.webhooks), the team's only one (a team has at most ten): its id."""
    from sqlalchemy import delete

    from healthgate.access import webhooks
    from healthgate.access.models import Webhook, WebhookDelivery

    with w.system() as ctx:
        old = select(Webhook.id).where(Webhook.team_id == w.team_a)
        ctx.session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id.in_(old)))
        ctx.session.execute(delete(Webhook).where(Webhook.team_id == w.team_a))
        return str(webhooks.register(ctx, w.team_a, f"https://receiver.example.org/{next(w.counter)}")[0].id)


def _dead_delivery(w: World) -> str:
    """A dead delivery of a fresh webhook of team A: its id."""
    from healthgate.access.models import WebhookDelivery
    from healthgate.outbox import service as outbox

    hook = _webhook(w)
    with w.system() as ctx:
        message = outbox.enqueue(ctx, "webhook", {"webhook_id": hook, "body": {}})
        message.status = "dead"
        ctx.session.flush()
        delivery = WebhookDelivery(id=uuid.uuid4(), webhook_id=uuid.UUID(hook), outbox_id=message.id,
                                   event_type="submitted", created_at=ctx.now())
        ctx.session.add(delivery)
        return str(delivery.id)
ACCESS_READ = frozenset({"Team admin", "Access manager", "Reviewer", ADMIN})  # application:review
ACCESS_MANAGE = frozenset({"Team admin", "Access manager", ADMIN})  # application:manage
ACCESS_Q = "safeproject.project-details.title-project"
PDF = b"%PDF-1.7\n%%EOF\n"


@dataclass(frozen=True)
class Upload:
    """A multipart body (files) instead of JSON."""

    files: dict[str, Any]


def _bank_question(w: World) -> str:
    """A fresh question of the bank, to retire."""
    from healthgate.access import bank

    with w.system() as ctx:
        return bank.add_question(ctx, "safedata", "other", {"title": f"Question {next(w.counter)}",
                                                            "component": "TextArea"})[1]


def _access_draft(w: World) -> uuid.UUID:
    """Team A with a draft of its application form, to publish."""
    from healthgate.access import templates

    with w.system() as ctx:
        templates.save_draft(ctx, w.team_a, [{"id": ACCESS_Q, "required": True}])
    return w.team_a


def _application(w: World, persona: str) -> uuid.UUID:
    """A draft application of the persona's own (a researcher's for anonymous) for the published dataset."""
    from healthgate.access import service as access
    from healthgate.identity import actors

    owner = w.users.get(persona) or w.users[RESEARCHER]
    with w.system() as ctx:
        actor = actors.actor_for_user(ctx.session, ctx.session.get(User, owner))
        return access.create(ctx.as_actor(actor), [w.published]).id


def _attachment(w: World, persona: str) -> str:
    """The URL of a file attached to a fresh application of the persona's own."""
    from healthgate.access import attachments, storage
    from healthgate.identity import actors

    app_id = _application(w, persona)
    owner = w.users.get(persona) or w.users[RESEARCHER]
    with w.system() as ctx:
        actor = actors.actor_for_user(ctx.session, ctx.session.get(User, owner))
        row = attachments.add(ctx.as_actor(actor), storage.from_settings(w.app.state.settings), app_id,
                              "protocol.pdf", PDF)
        return f"/api/v1/applications/{app_id}/attachments/{row.id}"


# (method, route path) -> (how to make the call for a persona, who may)
MATRIX: dict[tuple[str, str], tuple[Prepare, frozenset[str]]] = {
    # access: webhooks (application:manage on the team) and GA4GH Passport visas
    ("GET", "/api/v1/teams/{team}/webhooks"): (_fixed("GET", lambda w: f"/api/v1/teams/{w.team_a}/webhooks"),
                                               ACCESS_MANAGE),
    ("POST", "/api/v1/teams/{team}/webhooks"): (lambda w, p: (
        "POST", f"/api/v1/teams/{w.team_a}/webhooks" if _webhook(w) else "",
        {"url": "https://receiver.example.org/hook", "events": ["submitted"]}), ACCESS_MANAGE),
    ("PATCH", "/api/v1/teams/{team}/webhooks/{webhook_id}"): (
        lambda w, p: ("PATCH", f"/api/v1/teams/{w.team_a}/webhooks/{_webhook(w)}", {"active": False}), ACCESS_MANAGE),
    ("DELETE", "/api/v1/teams/{team}/webhooks/{webhook_id}"): (
        lambda w, p: ("DELETE", f"/api/v1/teams/{w.team_a}/webhooks/{_webhook(w)}", None), ACCESS_MANAGE),
    ("POST", "/api/v1/teams/{team}/webhooks/{webhook_id}/secret"): (
        lambda w, p: ("POST", f"/api/v1/teams/{w.team_a}/webhooks/{_webhook(w)}/secret", None), ACCESS_MANAGE),
    ("GET", "/api/v1/teams/{team}/webhooks/{webhook_id}/deliveries"): (
        lambda w, p: ("GET", f"/api/v1/teams/{w.team_a}/webhooks/{_webhook(w)}/deliveries", None), ACCESS_MANAGE),
    ("POST", "/api/v1/teams/{team}/webhook-deliveries/{delivery_id}/retry"): (
        lambda w, p: ("POST", f"/api/v1/teams/{w.team_a}/webhook-deliveries/{_dead_delivery(w)}/retry", None),
        ACCESS_MANAGE),
    ("GET", "/api/v1/passport"): (_fixed("GET", lambda w: "/api/v1/passport"), SIGNED_IN),
    # nobody here applied: 404 for all (tests/access/notify/test_passports.py covers the applicant's 200)
    ("GET", "/api/v1/applications/{application_id}/visas"): (
        _fixed("GET", lambda w: f"/api/v1/applications/{uuid.uuid4()}/visas"), frozenset()),
    ("GET", "/api/v1/openapi.json"): (_fixed("GET", lambda w: "/api/v1/openapi.json"), EVERYONE),
    ("GET", "/api/v1/docs"): (_fixed("GET", lambda w: "/api/v1/docs"), EVERYONE),
    ("GET", "/api/v1/search/datasets"): (_fixed("GET", lambda w: "/api/v1/search/datasets?q=cohort"), EVERYONE),
    ("GET", "/api/v1/datasets/{dataset_id}/similar"): (
        _fixed("GET", lambda w: f"/api/v1/datasets/{w.published}/similar"), EVERYONE),
    ("GET", "/api/v1/datasets"): (_fixed("GET", lambda w: "/api/v1/datasets"), EVERYONE),
    ("POST", "/api/v1/datasets"): (_fixed("POST", lambda w: f"/api/v1/datasets?team={w.team_a}",
                                          lambda w: w.doc()), EDIT),
    ("PUT", "/api/v1/datasets/{dataset_id}/draft"): (
        lambda w, p: ("PUT", f"/api/v1/datasets/{w.draft()}/draft", w.doc()), EDIT),
    ("GET", "/api/v1/datasets/{dataset_id}/draft"): (
        _fixed("GET", lambda w: f"/api/v1/datasets/{w.draft_only}/draft"), EDIT),
    ("DELETE", "/api/v1/datasets/{dataset_id}/draft"): (
        lambda w, p: ("DELETE", f"/api/v1/datasets/{w.draft()}/draft", None), EDIT),
    ("POST", "/api/v1/datasets/{dataset_id}/publish"): (
        lambda w, p: ("POST", f"/api/v1/datasets/{w.draft()}/publish", None), PUBLISH),
    ("POST", "/api/v1/datasets/{dataset_id}/archive"): (
        lambda w, p: ("POST", f"/api/v1/datasets/{w.published_dataset()}/archive", None), PUBLISH),
    ("POST", "/api/v1/datasets/{dataset_id}/unarchive"): (
        lambda w, p: ("POST", f"/api/v1/datasets/{w.published_dataset(archived=True)}/unarchive", None), PUBLISH),
    ("GET", "/api/v1/datasets/{dataset_id}"): (_fixed("GET", lambda w: f"/api/v1/datasets/{w.published}"),
                                               EVERYONE),
    ("GET", "/api/v1/datasets/{dataset_id}/versions"): (
        _fixed("GET", lambda w: f"/api/v1/datasets/{w.published}/versions"), EVERYONE),
    ("GET", "/api/v1/datasets/{dataset_id}/versions/{number}"): (
        _fixed("GET", lambda w: f"/api/v1/datasets/{w.published}/versions/1"), EVERYONE),
    ("GET", "/api/v1/datasets/{dataset_id}/diff"): (
        _fixed("GET", lambda w: f"/api/v1/datasets/{w.published}/diff?from=1&to=1"), EVERYONE),
    ("POST", "/api/v1/validate"): (_fixed("POST", lambda w: "/api/v1/validate", lambda w: w.doc()), EVERYONE),
    ("GET", "/api/v1/organisations"): (_fixed("GET", lambda w: "/api/v1/organisations"), EVERYONE),
    ("GET", "/api/v1/organisations/{org_id}"): (
        lambda w, p: ("GET", f"/api/v1/organisations/{w.organisation()}", None), EVERYONE),
    ("POST", "/api/v1/organisations"): (
        lambda w, p: ("POST", "/api/v1/organisations", {"name": f"New organisation {next(w.counter)}",
                                                        "country": "GB"}), ALLIANCE),
    ("POST", "/api/v1/organisations/{org_id}/merge"): (
        lambda w, p: ("POST", f"/api/v1/organisations/{w.organisation()}/merge", {"into": str(w.organisation())}),
        ALLIANCE),
    ("GET", "/api/v1/teams"): (_fixed("GET", lambda w: "/api/v1/teams"), EVERYONE),
    ("GET", "/api/v1/teams/{team}"): (_fixed("GET", lambda w: f"/api/v1/teams/{w.team_a}"), EVERYONE),
    ("POST", "/api/v1/teams"): (
        lambda w, p: ("POST", "/api/v1/teams", {"name": f"New team {next(w.counter)}",
                                                "organisation_id": str(w.organisation())}), ALLIANCE),
    ("GET", "/api/v1/teams/{team}/members"): (_fixed("GET", lambda w: f"/api/v1/teams/{w.team_a}/members"),
                                              VIEW_MEMBERS),
    ("POST", "/api/v1/teams/{team}/members"): (
        lambda w, p: ("POST", f"/api/v1/teams/{w.team_a}/members",
                      {"email": f"invitee{next(w.counter)}@example.org", "role": "team.metadata_editor"}), MANAGE),
    ("DELETE", "/api/v1/teams/{team}/members/{user_id}/roles/{role}"): (
        lambda w, p: ("DELETE", (f"/api/v1/teams/{w.team_a}/members/{w.person(role=Role.REVIEWER)}/roles/"
                                f"{Role.REVIEWER.value}"), None), MANAGE),
    ("GET", "/api/v1/me/tokens"): (_fixed("GET", lambda w: "/api/v1/me/tokens"), SIGNED_IN),
    ("POST", "/api/v1/me/tokens"): (_fixed("POST", lambda w: "/api/v1/me/tokens", lambda w: {"name": "new"}),
                                    SIGNED_IN),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): (
        lambda w, p: ("DELETE", f"/api/v1/me/tokens/{w.token_of(p)}", None), SIGNED_IN),
    ("GET", "/api/v1/audit"): (_fixed("GET", lambda w: "/api/v1/audit"), ALLIANCE),
    ("GET", "/api/v1/audit/verify"): (_fixed("GET", lambda w: "/api/v1/audit/verify"), ALLIANCE),
    ("GET", "/api/v1/audit/actions"): (_fixed("GET", lambda w: "/api/v1/audit/actions"), ALLIANCE),
    ("GET", "/api/v1/audit/{event_id}"): (_fixed("GET", lambda w: "/api/v1/audit/1"), ALLIANCE),
    # access: GA4GH DUO terms, dataset data-use conditions and the data-use check
    ("GET", "/api/v1/duo/terms"): (_fixed("GET", lambda w: "/api/v1/duo/terms"), EVERYONE),
    ("GET", "/api/v1/duo/diseases"): (_fixed("GET", lambda w: "/api/v1/duo/diseases?q=diabetes"), EVERYONE),
    ("GET", "/api/v1/datasets/{dataset_id}/data-use"): (
        _fixed("GET", lambda w: f"/api/v1/datasets/{w.published}/data-use"), EVERYONE),
    ("PUT", "/api/v1/datasets/{dataset_id}/data-use"): (
        _fixed("PUT", lambda w: f"/api/v1/datasets/{w.published}/data-use",
               lambda w: {"permission": "DS", "diseases": ["E11"], "modifiers": ["IRB"]}), DATA_USE),
    ("POST", "/api/v1/duo/check"): (
        _fixed("POST", lambda w: "/api/v1/duo/check",
               lambda w: {"purpose": {"terms": ["DS"], "diseases": ["E11.9"]}, "dataset_ids": [str(w.published)]}),
        EVERYONE),
    # access clocks: the alliance's standards and a team's dashboard
    ("GET", "/api/v1/access/standards"): (_fixed("GET", lambda w: "/api/v1/access/standards"), SIGNED_IN),
    ("PUT", "/api/v1/access/standards/{step}"): (_fixed("PUT", lambda w: "/api/v1/access/standards/decision",
                                                         lambda w: {"working_days": 60, "due_soon_days": 10}),
                                                  ALLIANCE),
    ("GET", "/api/v1/access/teams/{team}/dashboard"): (
        _fixed("GET", lambda w: f"/api/v1/access/teams/{w.team_a}/dashboard"),
        frozenset({"Team admin", "Access manager", "Reviewer", ADMIN})),
    # access forms: the question bank (read by anyone, changed by admins), team templates, an application's
    # form and attachments (each persona on an application of their own: only its applicant side may)
    ("GET", "/api/v1/access/question-bank"): (_fixed("GET", lambda w: "/api/v1/access/question-bank"), EVERYONE),
    ("GET", "/api/v1/access/question-bank/versions"): (
        _fixed("GET", lambda w: "/api/v1/access/question-bank/versions"), EVERYONE),
    ("POST", "/api/v1/access/question-bank/questions"): (_fixed("POST", lambda w: "/api/v1/access/question-bank/questions",
                                                               lambda w: {"section": "safedata", "title": "Extra",
                                                                          "component": "TextArea"}), ALLIANCE),
    ("PATCH", "/api/v1/access/question-bank/questions/{question_id}"): (
        _fixed("PATCH", lambda w: f"/api/v1/access/question-bank/questions/{ACCESS_Q}",
               lambda w: {"guidance": "Changed"}), ALLIANCE),
    ("DELETE", "/api/v1/access/question-bank/questions/{question_id}"): (
        lambda w, p: ("DELETE", f"/api/v1/access/question-bank/questions/{_bank_question(w)}", None), ALLIANCE),
    ("GET", "/api/v1/teams/{team}/access/template"): (
        _fixed("GET", lambda w: f"/api/v1/teams/{w.team_a}/access/template"), ACCESS_READ),
    ("PUT", "/api/v1/teams/{team}/access/template"): (
        _fixed("PUT", lambda w: f"/api/v1/teams/{w.team_a}/access/template",
               lambda w: {"questions": [{"id": ACCESS_Q, "required": True}]}), ACCESS_MANAGE),
    ("POST", "/api/v1/teams/{team}/access/template/publish"): (
        lambda w, p: ("POST", f"/api/v1/teams/{_access_draft(w)}/access/template/publish", None), ACCESS_MANAGE),
    ("GET", "/api/v1/applications/{application_id}/form"): (
        lambda w, p: ("GET", f"/api/v1/applications/{_application(w, p)}/form", None), SIGNED_IN),
    ("POST", "/api/v1/applications/{application_id}/attachments"): (
        lambda w, p: ("POST", f"/api/v1/applications/{_application(w, p)}/attachments",
                      Upload({"file": ("protocol.pdf", PDF, "application/pdf")})), SIGNED_IN),
    ("GET", "/api/v1/applications/{application_id}/attachments"): (
        lambda w, p: ("GET", f"/api/v1/applications/{_application(w, p)}/attachments", None), SIGNED_IN),
    ("GET", "/api/v1/applications/{application_id}/attachments/{attachment_id}"): (
        lambda w, p: ("GET", _attachment(w, p), None), SIGNED_IN),
    ("DELETE", "/api/v1/applications/{application_id}/attachments/{attachment_id}"): (
        lambda w, p: ("DELETE", _attachment(w, p), None), SIGNED_IN),
    # access requests: anyone signed in applies and enquires (a read token may not: tests/access/test_api.py);
    # a team's applications and enquiries are read by those who hold application:review on it
    ("POST", "/api/v1/applications"): (_fixed("POST", lambda w: "/api/v1/applications",
                                              lambda w: {"dataset_ids": [str(w.published)]}), SIGNED_IN),
    ("GET", "/api/v1/applications"): (_fixed("GET", lambda w: "/api/v1/applications"), SIGNED_IN),
    ("GET", "/api/v1/applications/{application_id}"): (
        lambda w, p: ("GET", f"/api/v1/applications/{application(w)}", None), REVIEW_APPLICATIONS),
    ("POST", "/api/v1/applications/{application_id}/commands/{command}"): (
        lambda w, p: ("POST", f"/api/v1/applications/{application(w, _own(w, p), submitted=False)}/commands/save",
                      {"title": "Renamed"}), SIGNED_IN),
    ("GET", "/api/v1/applications/{application_id}/events"): (
        lambda w, p: ("GET", f"/api/v1/applications/{application(w)}/events", None), REVIEW_APPLICATIONS),
    ("GET", "/api/v1/applications/{application_id}/messages"): (
        lambda w, p: ("GET", f"/api/v1/applications/{application(w)}/messages", None), REVIEW_APPLICATIONS),
    ("POST", "/api/v1/applications/{application_id}/messages"): (
        lambda w, p: ("POST", f"/api/v1/applications/{application(w)}/messages",
                      {"body": "An internal note", "audience": "team"}), REVIEW_APPLICATIONS),
    ("GET", "/api/v1/teams/{team}/applications"): (
        _fixed("GET", lambda w: f"/api/v1/teams/{w.team_a}/applications"), REVIEW_APPLICATIONS),
    ("POST", "/api/v1/enquiries"): (_fixed("POST", lambda w: "/api/v1/enquiries", lambda w: {
        "dataset_ids": [str(w.published)], "subject": "Feasible?", "body": "Do you hold echo data?"}), SIGNED_IN),
    ("GET", "/api/v1/enquiries"): (_fixed("GET", lambda w: "/api/v1/enquiries"), SIGNED_IN),
    ("GET", "/api/v1/enquiries/{enquiry_id}"): (
        lambda w, p: ("GET", f"/api/v1/enquiries/{enquiry(w)}", None), REVIEW_APPLICATIONS),
    ("GET", "/api/v1/enquiries/{enquiry_id}/messages"): (
        lambda w, p: ("GET", f"/api/v1/enquiries/{enquiry(w)}/messages", None), REVIEW_APPLICATIONS),
    ("POST", "/api/v1/enquiries/{enquiry_id}/messages"): (
        lambda w, p: ("POST", f"/api/v1/enquiries/{enquiry(w)}/messages", {"body": "We do"}),
        REVIEW_APPLICATIONS),
    ("POST", "/api/v1/enquiries/{enquiry_id}/application"): (
        lambda w, p: ("POST", f"/api/v1/enquiries/{enquiry(w, _own(w, p))}/application", None), SIGNED_IN),
    ("GET", "/api/v1/teams/{team}/enquiries"): (
        _fixed("GET", lambda w: f"/api/v1/teams/{w.team_a}/enquiries"), REVIEW_APPLICATIONS),
    # harvest sources and jobs (harvest:manage on the source's team; the list is filtered, so anyone signed in)
    ("GET", "/api/v1/harvest-sources"): (_fixed("GET", lambda w: "/api/v1/harvest-sources"), SIGNED_IN),
    ("POST", "/api/v1/harvest-sources"): (lambda w, p: ("POST", "/api/v1/harvest-sources", {
        "team": str(w.team_a), "name": f"source {next(w.counter)}", "url": "https://catalogue.example.org"}),
        HARVEST),
    ("GET", "/api/v1/harvest-sources/{source_id}"): (
        lambda w, p: ("GET", f"/api/v1/harvest-sources/{_harvest_source(w)}", None), HARVEST),
    ("PATCH", "/api/v1/harvest-sources/{source_id}"): (
        lambda w, p: ("PATCH", f"/api/v1/harvest-sources/{_harvest_source(w)}", {"enabled": False}), HARVEST),
    ("DELETE", "/api/v1/harvest-sources/{source_id}"): (
        lambda w, p: ("DELETE", f"/api/v1/harvest-sources/{_harvest_source(w)}", None), HARVEST),
    ("POST", "/api/v1/harvest-sources/{source_id}/jobs"): (
        lambda w, p: ("POST", f"/api/v1/harvest-sources/{_harvest_source(w)}/jobs", None), HARVEST),
    ("GET", "/api/v1/harvest-sources/{source_id}/jobs"): (
        lambda w, p: ("GET", f"/api/v1/harvest-sources/{_harvest_source(w)}/jobs", None), HARVEST),
    ("GET", "/api/v1/harvest-jobs/{job_id}"): (
        lambda w, p: ("GET", f"/api/v1/harvest-jobs/{_harvest_job(w)}", None), HARVEST),
    # the data use register: the public list and counts; a team's entries (register:manage; drafts are 404 to
    # anyone else)
    ("GET", "/api/v1/data-uses"): (_fixed("GET", lambda w: "/api/v1/data-uses"), EVERYONE),
    ("GET", "/api/v1/access-requests/received"): (
        _fixed("GET", lambda w: "/api/v1/access-requests/received"), EVERYONE),
    ("GET", "/api/v1/teams/{team}/data-uses"): (
        _fixed("GET", lambda w: f"/api/v1/teams/{w.team_a}/data-uses"), REGISTER),
    ("POST", "/api/v1/teams/{team}/data-uses"): (
        _fixed("POST", lambda w: f"/api/v1/teams/{w.team_a}/data-uses", lambda w: _ENTRY), REGISTER),
    ("GET", "/api/v1/data-uses/{entry_id}"): (  # a published entry: public (a draft is 404: tests/register)
        lambda w, p: ("GET", f"/api/v1/data-uses/{_register_entry(w, publish=True)}", None), EVERYONE),
    ("PUT", "/api/v1/data-uses/{entry_id}"): (
        lambda w, p: ("PUT", f"/api/v1/data-uses/{_register_entry(w)}", _ENTRY), REGISTER),
    ("POST", "/api/v1/data-uses/{entry_id}/publish"): (
        lambda w, p: ("POST", f"/api/v1/data-uses/{_register_entry(w)}/publish", None), REGISTER),
    ("POST", "/api/v1/data-uses/{entry_id}/withdraw"): (
        lambda w, p: ("POST", f"/api/v1/data-uses/{_register_entry(w, publish=True)}/withdraw", None), REGISTER),
    # the data use register's upload (register:manage; a dry run by default)
    ("POST", "/api/v1/teams/{team_ref}/data-uses/upload"): (
        lambda w, p: ("POST", f"/api/v1/teams/{w.team_a}/data-uses/upload",
                      Upload({"file": ("register.csv", _register_csv(), "text/csv")})),
        frozenset({"Team admin", "Access manager", ADMIN})),
}


def _register_csv() -> bytes:
    from tests.register.upload_files import csv_bytes, row

    return csv_bytes([row(1)])


def invitation(w: World) -> str:
    """A fresh invitation to team A, issued by its team admin; its emailed token."""
    from healthgate.identity import actors, members

    with w.system() as ctx:
        admin = actors.actor_for_user(ctx.session, ctx.session.get(User, w.users["Team admin"]))
        address = f"new{next(w.counter)}@example.org"
        members.invite(ctx.as_actor(admin), ctx.session.get(Team, w.team_a), address, Role.REVIEWER.value,
                       base_url="http://testserver")
        body = next(m["body"] for m in ctx.session.scalars(select(OutboxMessage.payload)) if m["to"] == address)
    return next(x for x in body.split() if "/invitations/" in x).rsplit("/", 1)[1]


PASSWORD = "a long enough passphrase"


def _key(w: World) -> str:
    return w.app.state.settings.effective_secret_key()


def _account(w: World, *, password: bool = True, accreditation: bool = False) -> User:
    """A fresh verified account (with PASSWORD), committed."""
    from healthgate.identity.passwords import hash_password

    with w.system() as ctx:
        user = users.create_user(ctx, f"acct{next(w.counter)}@example.org", "Account Holder", verified=True,
                                 password_hash=hash_password(PASSWORD) if password else None)
        if accreditation:
            user.accreditation_evidence = "ONS Accredited Researcher number 4711"
            user.accreditation_expires_on = ctx.now().date().replace(year=ctx.now().year + 1)
        return user


def _email_token(w: World, purpose: str) -> str:
    from healthgate.identity import email_tokens

    user = _account(w)
    with w.system() as ctx:
        return email_tokens.issue(ctx, ctx.session.get(User, user.id), purpose, key=_key(w))


def _with_password(w: World, persona: str) -> dict[str, str]:
    """The persona's own password set to PASSWORD (before their browser session starts), for forms that ask it."""
    if persona in w.users:
        with w.system() as ctx:
            users.set_password(ctx, ctx.session.get(User, w.users[persona]), PASSWORD)
    return {"current_password": PASSWORD, "new_password": PASSWORD + " again",
            "new_password_again": PASSWORD + " again"}


def _registration(w: World) -> dict[str, str]:
    return {"email": f"new{next(w.counter)}@example.org", "name": "New Person", "password": PASSWORD,
            "password_again": PASSWORD}


# Every state-changing web form: (method, route path) -> (the call, who may), for people signed in by a browser
# session (the developer role counts only through tokens, so a developer's session is a researcher's). The
# workspace's forms (/workspace/...) have their own matrix: tests/catalogue/test_workspace_matrix.py.
WEB_FORMS: dict[tuple[str, str], tuple[Prepare, frozenset[str]]] = {
    ("POST", "/invitations/{token}"): (lambda w, p: ("POST", f"/invitations/{invitation(w)}", {}), SIGNED_IN),
    ("POST", "/login"): (lambda w, p: ("POST", "/login", {"email": _account(w).email, "password": PASSWORD}),
                         EVERYONE),
    ("POST", "/logout"): (_fixed("POST", lambda w: "/logout"), EVERYONE),
    ("POST", "/register"): (lambda w, p: ("POST", "/register", _registration(w)), EVERYONE),
    ("POST", "/verify-email"): (lambda w, p: ("POST", "/verify-email", {"token": _email_token(w, "verify")}),
                                EVERYONE),
    ("POST", "/forgot-password"): (lambda w, p: ("POST", "/forgot-password", {"email": _account(w).email}),
                                   EVERYONE),
    ("POST", "/reset-password"): (lambda w, p: ("POST", "/reset-password", {
        "token": _email_token(w, "reset"), "password": PASSWORD + " reset", "password_again": PASSWORD + " reset"}),
        EVERYONE),
    ("POST", "/account/profile"): (_fixed("POST", lambda w: "/account/profile", lambda w: {"name": "Renamed"}),
                                   SIGNED_IN),
    ("POST", "/account/password"): (lambda w, p: ("POST", "/account/password", _with_password(w, p)), SIGNED_IN),
    ("POST", "/account/accreditation"): (_fixed("POST", lambda w: "/account/accreditation", lambda w: {
        "evidence": "ONS Accredited Researcher number 4711", "expires_on": "2099-01-01"}), SIGNED_IN),
    ("POST", "/account/sign-out-everywhere"): (_fixed("POST", lambda w: "/account/sign-out-everywhere"),
                                               SIGNED_IN),
    ("POST", "/account/verify-email"): (_fixed("POST", lambda w: "/account/verify-email"), SIGNED_IN),
    ("POST", "/admin/accreditations/{user_id}"): (lambda w, p: (
        "POST", f"/admin/accreditations/{_account(w, accreditation=True).id}", {"decision": "verify"}), ALLIANCE),
    # the researcher's access pages: each persona's own basket, enquiry and draft application (anonymous people
    # are sent to sign in)
    ("POST", "/basket"): (lambda w, p: ("POST", "/basket", {"dataset": str(w.published)}), SIGNED_IN),
    ("POST", "/basket/remove"): (lambda w, p: ("POST", "/basket/remove", {"dataset": str(w.published)}), SIGNED_IN),
    ("POST", "/basket/clear"): (_fixed("POST", lambda w: "/basket/clear"), SIGNED_IN),
    ("POST", "/basket/apply"): (lambda w, p: ("POST", "/basket/apply", _filled_basket(w, p)), SIGNED_IN),
    ("POST", "/enquiries"): (lambda w, p: ("POST", "/enquiries", {
        "dataset": str(w.published), "kind": "general", "subject": "Coverage", "body": "Which years?"}), SIGNED_IN),
    ("POST", "/enquiries/{enquiry_id}/messages"): (lambda w, p: (
        "POST", f"/enquiries/{_enquiry(w, p)}/messages", {"team_id": str(w.team_a), "body": "And 2020?"}),
        SIGNED_IN),
    ("POST", "/enquiries/{enquiry_id}/application"): (lambda w, p: (
        "POST", f"/enquiries/{_enquiry(w, p)}/application", {}), SIGNED_IN),
    ("POST", "/applications"): (lambda w, p: ("POST", "/applications", {"dataset": str(w.published)}), SIGNED_IN),
    ("POST", "/applications/{application_id}/edit"): (lambda w, p: (
        "POST", f"/applications/{_application(w, p)}/edit", {"version": "1", "title": "Renamed"}), SIGNED_IN),
    ("POST", "/applications/{application_id}/command"): (lambda w, p: (
        "POST", f"/applications/{_application(w, p)}/command",
        {"version": "1", "command": "withdraw", "confirm": "yes"}), SIGNED_IN),
    ("POST", "/applications/{application_id}/datasets"): (lambda w, p: (
        "POST", f"/applications/{_application(w, p)}/datasets", {"version": "1", "dataset": str(w.published)}),
        SIGNED_IN),
    ("POST", "/applications/{application_id}/collaborators"): (lambda w, p: (
        "POST", f"/applications/{_application(w, p)}/collaborators",
        {"version": "1", "action": "invite", "email": _account(w).email}), SIGNED_IN),
    ("POST", "/applications/{application_id}/messages"): (lambda w, p: (
        "POST", f"/applications/{_application(w, p)}/messages", {"audience": "applicant", "body": "A note"}),
        SIGNED_IN),
    ("POST", "/applications/{application_id}/attachments/{attachment_id}/delete"): (lambda w, p: (
        "POST", _attachment(w, p).removeprefix("/api/v1") + "/delete", {}), SIGNED_IN),
    ("POST", "/admin/access/standards"): (_fixed("POST", lambda w: "/admin/access/standards", lambda w: {
        "first_response/working_days": "10", "first_response/due_soon_days": "3", "decision/working_days": "60",
        "decision/due_soon_days": "10"}), ALLIANCE),
    ("POST", "/admin/access/question-bank/questions"): (_fixed("POST", lambda w: "/admin/access/question-bank/questions",
                                                              lambda w: {"section": "safedata", "title": "Extra",
                                                                         "component": "TextArea"}), ALLIANCE),
    ("POST", "/admin/access/question-bank/questions/{question_id}/edit"): (
        _fixed("POST", lambda w: f"/admin/access/question-bank/questions/{ACCESS_Q}/edit",
               lambda w: {"title": "Title of project", "guidance": "Changed"}), ALLIANCE),
    ("POST", "/admin/access/question-bank/questions/{question_id}/retire"): (
        lambda w, p: ("POST", f"/admin/access/question-bank/questions/{_bank_question(w)}/retire", {}), ALLIANCE),
}


@contextmanager
def _persona(w: World, persona: str) -> Iterator[Context]:
    """The persona (a researcher for anonymous) acting in a transaction of its own."""
    from healthgate.identity import actors

    with w.system() as ctx:
        user = ctx.session.get(User, w.users.get(persona) or w.users[RESEARCHER])
        yield ctx.as_actor(actors.actor_for_user(ctx.session, user))


def _application(w: World, persona: str) -> uuid.UUID:
    """A fresh draft application of the persona's own (version 1)."""
    from healthgate.access import service as access

    with _persona(w, persona) as ctx:
        return access.create(ctx, [w.published], title="A project").id


def _enquiry(w: World, persona: str) -> uuid.UUID:
    from healthgate.access import enquiries

    with _persona(w, persona) as ctx:
        return enquiries.open_enquiry(ctx, [w.published], "Coverage", "Which years?").id


def _filled_basket(w: World, persona: str) -> dict[str, str]:
    from healthgate.access import basket

    with _persona(w, persona) as ctx:
        basket.add(ctx, w.published)
    return {"title": "From the basket"}


def web_forms(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) outside /api/ that changes state (POST, PUT, PATCH, DELETE)."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        contexts = list(route.effective_route_contexts()) if hasattr(route, "effective_route_contexts") else []
        pairs = [(c.original_route.methods or (), c.path) for c in contexts] or \
            [(getattr(route, "methods", None) or (), getattr(route, "path", ""))]
        for methods, path in pairs:
            found.update((m, path) for m in methods if m in {"POST", "PUT", "PATCH", "DELETE"})
    return {(m, p) for m, p in found if not p.startswith(("/api/", "/workspace"))}


def api_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the application answers under /api/, including routers FastAPI includes lazily."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Any) -> None:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):
                for c in route.effective_route_contexts():
                    found.update((m, c.path) for m in c.original_route.methods or ())
            elif getattr(route, "methods", None) and route.path.startswith("/api/"):
                found.update((m, route.path) for m in route.methods)
    walk(app.routes)
    return {(m, p) for m, p in found if p.startswith("/api/") and m != "HEAD"}


@pytest.fixture
def world(db, clock, tmp_path) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path, database_url=db.url, rate_limit_anonymous="off",
                        rate_limit_expensive="off", rate_limit_failed_auth="off")
    app = create_app(settings, clock=clock)
    with app.state.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        team_a = teams.create_team(ctx, "Team A").id
        team_b = teams.create_team(ctx, "Team B").id
    w = World(app, team_a, team_b)
    w.published = w.published_dataset()
    w.draft_only = w.draft(title=f"{SECRET} never published")
    with w.system() as ctx:  # the published dataset's next draft holds a secret title too
        catalogue.update_draft(ctx, w.published, w.doc(f"{SECRET} pending edit"))
    for persona in PERSONAS[1:]:
        role = ROLES.get(persona)
        team = team_b if persona == OTHER_TEAM else team_a
        with w.system() as ctx:
            user = users.create_user(ctx, f"{persona.split()[0].lower()}.{uuid.uuid4().hex[:6]}@example.org",
                                     persona, is_admin=persona == ADMIN, verified=True)
            held = Role.TEAM_ADMIN if persona == OTHER_TEAM else role
            if held is not None:
                ctx.session.add(Membership(team_id=team, user_id=user.id, role=held.value, created_at=ctx.now()))
                ctx.session.flush()
            scope = "admin" if persona == ADMIN else "write"  # the researcher's: a personal write token
            value = tokens.create_token(ctx, user, persona, scope=scope, teams=[team] if held else [])
        w.users[persona] = user.id
        w.auth[persona] = {"Authorization": f"Bearer {value}"}
    w.auth[ANONYMOUS] = {}
    yield w
    app.state.engine.dispose()


def test_every_api_route_has_a_matrix_entry(world):
    routes = api_routes(world.app)
    assert routes - set(MATRIX) == set(), "add these routes to MATRIX"
    assert set(MATRIX) - routes == set(), "these MATRIX entries name no route"


def test_every_web_form_has_a_matrix_entry(world):
    forms = web_forms(world.app)
    assert forms - set(WEB_FORMS) == set(), "add these forms to WEB_FORMS"
    assert set(WEB_FORMS) - forms == set(), "these WEB_FORMS entries name no route"


def _browser(world: World, client: TestClient, persona: str) -> tuple[dict[str, str], str]:
    """The Cookie header of a browser session for the persona (none for anonymous) and its CSRF field."""
    from starlette.requests import Request

    from healthgate.identity import sessions
    from healthgate.web.csrf import csrf_token

    cookie = ""
    if persona != ANONYMOUS:
        with world.system() as ctx:
            cookie = sessions.start(ctx, ctx.session.get(User, world.users[persona]), "password")
    headers = {"Cookie": f"{sessions.COOKIE}={cookie}"} if cookie else {}
    request = Request({"type": "http", "app": world.app, "headers": [(b"cookie", headers.get("Cookie", "").encode())],
                       "method": "GET", "path": "/", "query_string": b""})
    return headers, csrf_token(request)


def test_web_form_matrix(world):
    wrong = []
    with TestClient(world.app) as client:
        for (method, path), (prepare, allowed) in sorted(WEB_FORMS.items()):
            for persona in PERSONAS:
                verb, url, fields = prepare(world, persona)
                headers, csrf = _browser(world, client, persona)
                client.cookies.clear()  # only the persona's own session (a sign-in form sets cookies)
                answer = client.request(verb, url, headers=headers, data={**(fields or {}), "csrf_token": csrf},
                                        follow_redirects=False)
                location = answer.headers.get("location", "")
                # Sent to sign in (with where to come back to); a form that signs out or resets a password may
                # itself end on the plain sign-in page, which is its success.
                to_sign_in = answer.status_code in (302, 303) and "/login?next=" in location
                ok = answer.status_code < 400 and not to_sign_in
                if persona in allowed and not ok:
                    wrong.append(f"{persona} {method} {path}: {answer.status_code} {location} {answer.text[:200]}")
                elif persona not in allowed and (ok or not (to_sign_in or answer.status_code in (401, 403, 404))):
                    wrong.append(f"{persona} {method} {path}: {answer.status_code}, expected a refusal")
    assert not wrong, "\n".join(wrong)


def test_permission_matrix(world):
    wrong = []
    with TestClient(world.app) as client:
        for (method, path), (prepare, allowed) in sorted(MATRIX.items()):
            for persona in PERSONAS:
                verb, url, body = prepare(world, persona)
                sent = {"files": body.files} if isinstance(body, Upload) else {"json": body} if body is not None else {}
                answer = client.request(verb, url, headers=world.auth[persona], **sent)
                ok = 200 <= answer.status_code < 300
                if persona in allowed and not ok:
                    wrong.append(f"{persona} {method} {path}: {answer.status_code} {answer.text[:200]}")
                elif persona not in allowed:
                    expected = {401} if persona == ANONYMOUS else {403, 404, 410}  # 410: an archived dataset
                    if answer.status_code not in expected:
                        wrong.append(f"{persona} {method} {path}: {answer.status_code}, expected "
                                     f"{sorted(expected)}")
    assert not wrong, "\n".join(wrong)


OUTSIDERS = [ANONYMOUS, RESEARCHER, OTHER_TEAM, "Access manager", "Reviewer"]


def test_no_route_leaks_another_teams_drafts(world, tmp_path):
    """Team A's never-published draft and the unpublished edit of its published dataset stay within the people
    who may see drafts: no API answer, page, search result, facet, sitemap or export shows them to anyone
    else."""
    urls = [
        "/api/v1/datasets?per_page=100", "/api/v1/search/datasets",
        "/api/v1/search/datasets?q=never+published", f"/api/v1/datasets/{world.published}",
        f"/api/v1/datasets/{world.published}/versions", f"/api/v1/datasets/{world.published}/similar",
        f"/api/v1/datasets/{world.draft_only}", f"/api/v1/datasets/{world.draft_only}/versions",
        f"/api/v1/datasets/{world.draft_only}/draft", f"/api/v1/datasets/{world.published}/draft",
        f"/api/v1/datasets/{world.draft_only}/similar", f"/api/v1/teams/{world.team_a}",
        "/", "/search?q=never+published", "/search", f"/datasets/{world.published}", f"/datasets/{world.draft_only}",
        f"/datasets/{world.published}/diff", "/sitemap.xml", "/sitemaps/datasets-1.xml",
    ]
    with TestClient(world.app) as client:
        for persona in OUTSIDERS:
            for url in urls:
                answer = client.get(url, headers=world.auth[persona])
                assert SECRET not in answer.text, (persona, url)
                assert str(world.draft_only) not in answer.text or answer.status_code >= 400, (persona, url)
            search = client.get("/api/v1/search/datasets", headers=world.auth[persona]).json()
            assert search["total"] == 1, persona  # facet counts are computed over the same published set
            # searching for the secret itself finds nothing (the query is echoed, so look at the results)
            assert client.get(f"/api/v1/search/datasets?q={SECRET}", headers=world.auth[persona]).json()[
                "total"] == 0, persona
            page = client.get(f"/search?q={SECRET}", headers=world.auth[persona]).text
            assert str(world.draft_only) not in page and str(world.published) not in page, persona
        # the test can fail: the draft's own team sees it through the same routes
        editor = world.auth["Metadata editor"]
        assert SECRET in client.get(f"/api/v1/datasets/{world.draft_only}/draft", headers=editor).text
        assert SECRET in client.get(f"/api/v1/datasets/{world.published}/draft", headers=editor).text
        assert client.get(f"/api/v1/datasets/{world.draft_only}", headers=editor).status_code == 200
    out = tmp_path / "export"
    with world.app.state.sessions() as s:
        assert hdruk.export_folder(catalogue.iter_public_versions(s), out) == 1
    assert not any(SECRET in p.read_text() for p in Path(out).rglob("*") if p.is_file())


# -- the alliance: members (public list; the alliance admin writes), letters of intent, obligations, statistics --

def _member(w: World, *, letter: bool = False) -> str:
    """A fresh member (of a fresh organisation), with a letter of intent when asked: its id (and letter's)."""
    from datetime import date

    from healthgate.access import storage
    from healthgate.alliance import service as alliance

    org = w.organisation()
    with w.system() as ctx:
        member = alliance.create(ctx, alliance.MemberData(str(org), "data-custodian", date(2026, 1, 5)))
        if not letter:
            return str(member.id)
        found = alliance.add_letter(ctx, storage.from_settings(w.app.state.settings), member.id,
                                    alliance.LetterData(date(2026, 1, 2), "A Signatory", "Director"),
                                    filename="letter.pdf", content=b"%PDF-1.4\n%%EOF\n")
        return f"{member.id}/letters/{found.id}"


_MEMBER_BODY = {"member_type": "funder", "join_date": "2026-02-01"}
MATRIX.update({
    ("GET", "/api/v1/alliance/members"): (_fixed("GET", lambda w: "/api/v1/alliance/members"), EVERYONE),
    ("POST", "/api/v1/alliance/members"): (lambda w, p: (
        "POST", "/api/v1/alliance/members", {**_MEMBER_BODY, "organisation": str(w.organisation())}), ALLIANCE),
    ("GET", "/api/v1/alliance/members/{member_id}"): (
        lambda w, p: ("GET", f"/api/v1/alliance/members/{_member(w)}", None), EVERYONE),
    ("PUT", "/api/v1/alliance/members/{member_id}"): (lambda w, p: (
        "PUT", f"/api/v1/alliance/members/{_member(w)}", {**_MEMBER_BODY, "organisation": str(w.organisation())}),
        ALLIANCE),
    ("GET", "/api/v1/alliance/members/{member_id}/letters"): (
        lambda w, p: ("GET", f"/api/v1/alliance/members/{_member(w)}/letters", None), ALLIANCE),
    ("POST", "/api/v1/alliance/members/{member_id}/letters"): (lambda w, p: (
        "POST", f"/api/v1/alliance/members/{_member(w)}/letters", Upload({
            "signed_on": (None, "2026-01-02"), "signatory_name": (None, "A Signatory"),
            "signatory_position": (None, "Director"), "file": ("letter.pdf", PDF, "application/pdf")})), ALLIANCE),
    ("GET", "/api/v1/alliance/members/{member_id}/letters/{letter_id}/document"): (lambda w, p: (
        "GET", f"/api/v1/alliance/members/{_member(w, letter=True)}/document", None), ALLIANCE),
    ("GET", "/api/v1/alliance/obligations"): (_fixed("GET", lambda w: "/api/v1/alliance/obligations"), ALLIANCE),
    ("GET", "/api/v1/statistics"): (_fixed("GET", lambda w: "/api/v1/statistics"), EVERYONE),
})
WEB_FORMS.update({
    ("POST", "/admin/alliance/members"): (lambda w, p: ("POST", "/admin/alliance/members", {
        "organisation": str(w.organisation()), "member_type": "funder", "join_date": "2026-02-01"}), ALLIANCE),
    ("POST", "/admin/alliance/members/{member_id}"): (lambda w, p: ("POST", f"/admin/alliance/members/{_member(w)}", {
        "organisation": str(w.organisation()), "member_type": "funder", "join_date": "2026-02-01"}), ALLIANCE),
    ("POST", "/admin/alliance/members/{member_id}/letters"): (lambda w, p: (
        "POST", f"/admin/alliance/members/{_member(w)}/letters", {
            "signed_on": "2026-01-02", "signatory_name": "A Signatory", "signatory_position": "Director"}), ALLIANCE),
    ("POST", "/admin/alliance/members/{member_id}/letters/{letter_id}/delete"): (lambda w, p: (
        "POST", f"/admin/alliance/members/{_member(w, letter=True)}/delete", {}), ALLIANCE),
})
