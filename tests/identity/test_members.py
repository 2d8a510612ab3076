"""Team members and invitations, personal tokens (scope, expiry, last use, revocation); on both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from healthgate.audit.models import AuditEvent
from healthgate.context import Context
from healthgate.errors import Conflict, Forbidden, Invalid, NotFound
from healthgate.identity import actors, members, tokens, users
from healthgate.identity import service as teams
from healthgate.identity.models import ApiToken, EmailToken, Membership, Team, User
from healthgate.identity.permissions import SYSTEM, Actor, Role
from healthgate.outbox.models import OutboxMessage

BASE = "https://gateway.example.org"


def _setup(db, clock) -> tuple[Team, User, User]:
    """A team with a team admin, and a person outside it."""
    with db.sessions.begin() as s:
        ctx = Context(s, SYSTEM, clock)
        team = teams.create_team(ctx, "SAIL")
        admin = users.create_user(ctx, "admin@sail.example.org", "Team Admin", verified=True)
        outsider = users.create_user(ctx, "Out@Example.org", "Outsider", verified=True)
        members.add_member(ctx, team, admin, Role.TEAM_ADMIN.value)
        for row in (team, admin, outsider):
            s.flush()
            s.expunge(row)
    return team, admin, outsider


def _as(s, clock, user: User) -> Context:
    return Context(s, actors.actor_for_user(s, s.get(User, user.id)), clock)


def test_inviting_an_existing_account_gives_the_role_at_once(db, clock):
    team, admin, outsider = _setup(db, clock)
    with db.sessions.begin() as s:
        done = members.invite(_as(s, clock, admin), s.get(Team, team.id), "out@EXAMPLE.org", "team.metadata_editor",
                              base_url=BASE)
        assert done.added and done.invitation is None
    with db.sessions.begin() as s:
        assert [(u.id, r) for u, r in members.members(_as(s, clock, admin), s.get(Team, team.id))] == [
            (outsider.id, [Role.METADATA_EDITOR]), (admin.id, [Role.TEAM_ADMIN])]
        assert s.scalar(select(OutboxMessage)) is None
        with pytest.raises(Conflict):
            members.invite(_as(s, clock, admin), s.get(Team, team.id), outsider.email, "team.metadata_editor",
                           base_url=BASE)


def test_a_new_address_gets_a_single_use_invitation_by_email(db, clock):
    team, admin, _outsider = _setup(db, clock)
    with db.sessions.begin() as s:
        done = members.invite(_as(s, clock, admin), s.get(Team, team.id), "new.person@example.org",
                              "team.metadata_manager", base_url=BASE)
        assert not done.added and done.invitation is not None
        invitation_id = done.invitation.id
    with db.sessions() as s:
        mail = s.scalar(select(OutboxMessage))
        assert mail.kind == "email" and mail.payload["to"] == "new.person@example.org"
        link = next(line for line in mail.payload["body"].splitlines() if line.startswith(BASE))
        token = link.rsplit("/", 1)[1]
        row = s.get(EmailToken, invitation_id)
        assert row.purpose == "invite" and row.user_id == admin.id and row.token_hash != token
        assert token not in str(s.scalars(select(AuditEvent.data)).all())  # never in the audit log
        assert [i.id for i in members.pending_invitations(_as(s, clock, admin), s.get(Team, team.id))] == [
            invitation_id]
    with db.sessions.begin() as s, pytest.raises(Conflict):  # the same invitation twice is refused
        members.invite(_as(s, clock, admin), s.get(Team, team.id), "NEW.person@example.org",
                       "team.metadata_manager", base_url=BASE)
    with db.sessions.begin() as s:  # they sign up, then accept with the link
        newcomer = users.create_user(Context(s, SYSTEM, clock), "new.person@example.org", "New Person")
        membership = members.accept_invitation(_as(s, clock, newcomer), token, newcomer)
        assert membership.role == Role.METADATA_MANAGER.value
        assert newcomer.email_verified_at == clock.now()  # the link reached this address
        newcomer_id = newcomer.id
    with db.sessions.begin() as s:  # it works once
        again = s.get(User, newcomer_id)
        with pytest.raises(NotFound):
            members.accept_invitation(_as(s, clock, again), token, again)
        with pytest.raises(NotFound):
            members.accept_invitation(_as(s, clock, again), "hg_made_up", again)
        assert members.pending_invitations(_as(s, clock, admin), s.get(Team, team.id)) == []
        assert s.get(Membership, (team.id, newcomer_id, Role.METADATA_MANAGER.value)) is not None
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == str(team.id))).all()
        assert {"team.member_invited", "team.invitation_accepted"} <= set(actions)


def test_invitations_expire_and_can_be_revoked(db, clock):
    team, admin, _ = _setup(db, clock)
    with db.sessions.begin() as s:
        a = members.invite(_as(s, clock, admin), s.get(Team, team.id), "a@example.org", "team.reviewer",
                           base_url=BASE)
        b = members.invite(_as(s, clock, admin), s.get(Team, team.id), "b@example.org", "team.reviewer",
                           base_url=BASE)
        a_id, b_id = a.invitation.id, b.invitation.id
        sent = {m.payload["to"]: m.payload["body"].split(BASE + "/invitations/")[1].split()[0]
                for m in s.scalars(select(OutboxMessage))}
        tokens_sent = [sent["a@example.org"], sent["b@example.org"]]
    with db.sessions.begin() as s:
        members.revoke_invitation(_as(s, clock, admin), s.get(Team, team.id), a_id)
        with pytest.raises(NotFound):
            members.revoke_invitation(_as(s, clock, admin), s.get(Team, team.id), a_id)
    with db.sessions.begin() as s:
        person = users.create_user(Context(s, SYSTEM, clock), "a@example.org", "A")
        with pytest.raises(NotFound):
            members.accept_invitation(_as(s, clock, person), tokens_sent[0], person)
    clock.advance(days=members.INVITATION_LIFETIME.days, seconds=1)
    with db.sessions.begin() as s:
        person = users.create_user(Context(s, SYSTEM, clock), "b@example.org", "B")
        with pytest.raises(NotFound):
            members.accept_invitation(_as(s, clock, person), tokens_sent[1], person)
        assert s.get(EmailToken, b_id).used_at is None


def test_only_team_admins_invite_and_only_people_issue_invitations(db, clock):
    team, _admin, outsider = _setup(db, clock)
    with db.sessions.begin() as s:
        editor = Actor(name="e", user_id=outsider.id, roles={team.id: frozenset({Role.METADATA_EDITOR})})
        with pytest.raises(Forbidden):
            members.invite(Context(s, editor, clock), s.get(Team, team.id), "x@example.org", "team.reviewer",
                           base_url=BASE)
        with pytest.raises(Invalid) as exc:  # the system (the command line) adds existing accounts only
            members.invite(Context(s, SYSTEM, clock), s.get(Team, team.id), "x@example.org", "team.reviewer",
                           base_url=BASE)
        assert exc.value.errors[0].path == "email"
        with pytest.raises(Invalid):
            members.invite(Context(s, SYSTEM, clock), s.get(Team, team.id), "x@example.org", "team.owner",
                           base_url=BASE)


def test_tokens_expire_record_their_last_use_and_can_be_revoked(db, clock):
    team, admin, _ = _setup(db, clock)
    with db.sessions.begin() as s:
        ctx = _as(s, clock, admin)
        value = tokens.create_token(ctx, s.get(User, admin.id), "ci", scope="write", teams=[team.id],
                                    expires_at=clock.now() + timedelta(days=1))
        assert tokens.row_for(ctx, value).last_used_at is None
    with db.sessions.begin() as s:
        actor = actors.actor_for_token(s, value, clock)
        assert actor.user_id == admin.id and actor.scope.kind == "write"
        assert s.scalar(select(ApiToken.last_used_at)) == clock.now()
    clock.advance(seconds=30)
    with db.sessions.begin() as s:  # touched at most once a minute
        actors.actor_for_token(s, value, clock)
        assert s.scalar(select(ApiToken.last_used_at)) == clock.now() - timedelta(seconds=30)
    clock.advance(days=1)
    with db.sessions.begin() as s:
        assert not actors.actor_for_token(s, value, clock).authenticated  # expired
    clock.advance(days=-1, minutes=-1)
    with db.sessions.begin() as s:
        row = tokens.revoke_token(_as(s, clock, admin), s.scalar(select(ApiToken.id)))
        assert row.revoked_at == clock.now()
        assert not actors.actor_for_token(s, value, clock).authenticated
        with pytest.raises(NotFound):
            tokens.revoke_token(_as(s, clock, admin), uuid.uuid4())


def test_no_token_is_more_powerful_than_its_owner(db, clock):
    team, admin, outsider = _setup(db, clock)
    other = _setup_team(db, clock, "Other team")
    with db.sessions.begin() as s:
        ctx = _as(s, clock, admin)
        owner = s.get(User, admin.id)
        for kw, path in (({"scope": "admin"}, "scope"),
                         ({"scope": "write", "teams": [other.id]}, "teams"),
                         ({"scope": "read", "teams": [team.id]}, "teams"),
                         ({"expires_at": clock.now() + timedelta(days=400)}, "expires_at"),
                         ({"expires_at": clock.now()}, "expires_at")):
            with pytest.raises(Invalid) as exc:
                tokens.create_token(ctx, owner, "x", **kw)
            assert exc.value.errors[0].path == path, kw
        with pytest.raises(Forbidden):  # someone else's
            tokens.create_token(ctx, s.get(User, outsider.id), "x")
        read = tokens.create_token(ctx, owner, "read")
    with db.sessions.begin() as s:  # a read token cannot mint a write token
        via_token = Context(s, actors.actor_for_token(s, read, clock), clock)
        with pytest.raises(Forbidden):
            tokens.create_token(via_token, s.get(User, admin.id), "w", scope="write", teams=[team.id])
        tokens.create_token(via_token, s.get(User, admin.id), "r2", scope="read")
        with pytest.raises(Forbidden):
            tokens.list_tokens(via_token, s.get(User, outsider.id))


def _setup_team(db, clock, name) -> Team:
    with db.sessions.begin() as s:
        team = teams.create_team(Context(s, SYSTEM, clock), name)
        s.flush()
        s.expunge(team)
        return team
