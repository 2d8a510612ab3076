"""Accounts through the service layer, on SQLite and PostgreSQL: registration and verification by emailed,
signed, single-use links; sign-in with argon2 hashes, throttling and a lockout that reads the same for an
address with and without an account; password change and reset; profile, public profile and accredited-
researcher status. Secrets never reach the audit log."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from healthgate.audit.models import AuditEvent
from healthgate.context import Context
from healthgate.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from healthgate.identity import email_tokens, passwords, sessions, throttle, users
from healthgate.identity.models import EmailToken, LoginSession, Organisation, User
from healthgate.identity.permissions import ANONYMOUS, SYSTEM, Actor
from healthgate.outbox.models import OutboxMessage

LINKS = users.Links(base_url="https://gateway.example", key="k" * 40)
PASSWORD = "correct horse battery staple"


def _ctx(s, clock, actor=ANONYMOUS) -> Context:
    return Context(s, actor, clock)


def _me(user: User) -> Actor:
    return Actor(name=user.name, user_id=user.id, is_admin=user.is_admin)


def _last_link(s, to: str, path: str) -> str:
    """The token of the newest emailed link to ``path`` sent to ``to``."""
    for row in s.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())):
        if row.payload["to"] == to and (m := re.search(re.escape(path) + r"\?token=([\w.%-]+)", row.payload["body"])):
            return m.group(1).replace("%2E", ".")
    raise AssertionError(f"no email to {to} with a {path} link")


def _register(db, clock, email="ann@example.org", name="Ann Example", password=PASSWORD) -> User | None:
    with db.sessions.begin() as s:
        return users.register(_ctx(s, clock), email, name, password, LINKS)


def _verified(db, clock, email="ann@example.org", name="Ann Example") -> User:
    user = _register(db, clock, email, name)
    assert user is not None
    with db.sessions.begin() as s:
        users.verify_email(_ctx(s, clock), _last_link(s, email, "/verify-email"), LINKS)
        return s.get(User, user.id)


def _audit_text(s) -> str:
    return json.dumps([[e.action, e.actor, e.data] for e in s.scalars(select(AuditEvent))], default=str)


def test_register_verify_and_sign_in(db, clock):
    user = _register(db, clock)
    assert user is not None
    with db.sessions.begin() as s:
        row = s.get(User, user.id)
        assert row.email_verified_at is None and row.password_hash.startswith("$argon2id$")
        # before verification a right password is not enough, and a new link is sent
        result = users.authenticate(_ctx(s, clock), "ANN@example.org ", PASSWORD, LINKS)
        assert result.user is None and result.unverified
        token = _last_link(s, "ann@example.org", "/verify-email")
    with db.sessions.begin() as s:
        users.verify_email(_ctx(s, clock), token, LINKS)
    with db.sessions.begin() as s, pytest.raises(Invalid, match="already been used"):
        users.verify_email(_ctx(s, clock), token, LINKS)
    with db.sessions.begin() as s:
        result = users.authenticate(_ctx(s, clock), "ann@EXAMPLE.org", PASSWORD)
        assert result.user is not None and result.user.id == user.id
        assert users.authenticate(_ctx(s, clock), "ann@example.org", PASSWORD + "!").error == users.WRONG
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions[:3] == ["user.registered", "email_token.issued", "email_token.issued"]
        assert "user.email_verified" in actions
        assert PASSWORD not in _audit_text(s) and token not in _audit_text(s)


def test_registering_a_taken_address_answers_the_same_and_tells_the_owner(db, clock):
    _verified(db, clock)
    assert _register(db, clock, "Ann@Example.org", "Impostor", "another long password") is None
    with db.sessions() as s:
        owners = s.scalars(select(User)).all()
        assert len(owners) == 1 and owners[0].name == "Ann Example"
        mail = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert mail.payload["to"] == "ann@example.org" and "already has one" in mail.payload["body"]


@pytest.mark.parametrize(("password", "says"), [
    ("short", "at least 10"), ("aaaaaaaaaaaa", "different characters"),
    ("ann@example.org!!", "email address or name"), ("x" * 1025, "at most"),
])
def test_weak_passwords_are_refused_by_field(db, clock, password, says):
    with pytest.raises(Invalid) as caught:
        _register(db, clock, password=password)
    assert caught.value.errors[0].path == "password" and says in caught.value.errors[0].message


def test_lockout_reads_the_same_with_and_without_an_account(db, clock):
    _verified(db, clock)
    answers = {}
    for email in ("ann@example.org", "nobody@example.org"):
        with db.sessions.begin() as s:
            for _ in range(throttle.MAX_FAILURES - 1):
                assert users.authenticate(_ctx(s, clock), email, "wrong password").error == users.WRONG
            answers[email] = users.authenticate(_ctx(s, clock), email, "wrong password").error
        with db.sessions.begin() as s:  # locked: even the right password is refused, with the same words
            assert users.authenticate(_ctx(s, clock), email, PASSWORD).error == answers[email]
    assert answers["ann@example.org"] == answers["nobody@example.org"]
    assert "locked until 09:45 UTC" in answers["ann@example.org"]
    with db.sessions() as s:
        ann = users.find_by_email(_ctx(s, clock), "ann@example.org")
        assert ann.failed_logins == throttle.MAX_FAILURES and ann.locked_until is not None
        assert [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "user.locked"))] == \
            ["user.locked"]
        keys = {t.key for t in s.scalars(select(throttle.LoginThrottle))}
        assert "nobody@example.org" not in json.dumps(sorted(keys)) and len(keys) == 2
    clock.advance(minutes=16)
    with db.sessions.begin() as s:
        assert users.authenticate(_ctx(s, clock), "ann@example.org", PASSWORD).user is not None
        assert users.find_by_email(_ctx(s, clock), "ann@example.org").failed_logins == 0


def test_an_admin_unlocks(db, clock):
    _verified(db, clock)
    with db.sessions.begin() as s:
        for _ in range(throttle.MAX_FAILURES):
            users.authenticate(_ctx(s, clock), "ann@example.org", "wrong password")
    with db.sessions.begin() as s:
        ann = users.find_by_email(_ctx(s, clock), "ann@example.org")
        with pytest.raises(Forbidden):
            users.unlock(_ctx(s, clock, _me(ann)), ann)
        users.unlock(_ctx(s, clock, SYSTEM), ann)
    with db.sessions.begin() as s:
        assert users.authenticate(_ctx(s, clock), "ann@example.org", PASSWORD).user is not None


def test_password_reset_link_works_once_and_ends_every_session(db, clock):
    ann = _verified(db, clock)
    with db.sessions.begin() as s:
        cookie = sessions.start(_ctx(s, clock), s.get(User, ann.id), "password")
        users.request_password_reset(_ctx(s, clock), "ANN@example.org", LINKS)
        users.request_password_reset(_ctx(s, clock), "nobody@example.org", LINKS)  # silently nothing
        token = _last_link(s, "ann@example.org", "/reset-password")
        assert s.scalar(select(OutboxMessage).where(OutboxMessage.payload.is_not(None))
                        .order_by(OutboxMessage.id.desc())).payload["to"] == "ann@example.org"
    with db.sessions.begin() as s, pytest.raises(Invalid, match="password is too weak"):
        users.reset_password(_ctx(s, clock), token, "short", LINKS)  # a refused password spends nothing
    with db.sessions.begin() as s:
        users.reset_password(_ctx(s, clock), token, "a brand new passphrase", LINKS)
    with db.sessions.begin() as s:
        with pytest.raises(Invalid, match="already been used"):
            users.reset_password(_ctx(s, clock), token, "yet another passphrase", LINKS)
        assert sessions.lookup(_ctx(s, clock), cookie) is None  # signed out everywhere
        assert users.authenticate(_ctx(s, clock), "ann@example.org", PASSWORD).user is None
        assert users.authenticate(_ctx(s, clock), "ann@example.org", "a brand new passphrase").user is not None
        audit = _audit_text(s)
        assert "a brand new passphrase" not in audit and token not in audit and cookie not in audit
        assert "user.password_reset" in audit and "session.ended_all" in audit


def test_reset_links_expire_are_signed_and_bound_to_their_purpose(db, clock):
    ann = _verified(db, clock)
    with db.sessions.begin() as s:
        users.request_password_reset(_ctx(s, clock), "ann@example.org", LINKS)
        token = _last_link(s, "ann@example.org", "/reset-password")
        verify = email_tokens.issue(_ctx(s, clock), s.get(User, ann.id), "verify", key=LINKS.key)
    value, _, signature = token.partition(".")
    for bad, says in [(value + "." + signature[::-1], "not valid"), (value, "not valid"),
                      (token + "x", "not valid"), (verify, "not valid")]:
        with db.sessions.begin() as s, pytest.raises(Invalid, match=says):
            users.reset_password(_ctx(s, clock), bad, "a brand new passphrase", LINKS)
    other_site = users.Links(LINKS.base_url, "another key" * 4)  # its key does not make this site's tokens
    with db.sessions.begin() as s, pytest.raises(Invalid, match="not valid"):
        users.reset_password(_ctx(s, clock), token, "a brand new passphrase", other_site)
    clock.advance(hours=1, seconds=1)
    with db.sessions.begin() as s, pytest.raises(Invalid, match="expired"):
        users.reset_password(_ctx(s, clock), token, "a brand new passphrase", LINKS)
    with db.sessions() as s:  # only hashes are stored
        assert token not in json.dumps([r.token_hash for r in s.scalars(select(EmailToken))])


def test_a_newer_reset_link_replaces_the_older_and_requests_are_capped(db, clock):
    _verified(db, clock)
    with db.sessions.begin() as s:
        users.request_password_reset(_ctx(s, clock), "ann@example.org", LINKS)
        first = _last_link(s, "ann@example.org", "/reset-password")
        users.request_password_reset(_ctx(s, clock), "ann@example.org", LINKS)
        users.request_password_reset(_ctx(s, clock), "ann@example.org", LINKS)
        users.request_password_reset(_ctx(s, clock), "ann@example.org", LINKS)  # over the hourly cap
        assert s.scalar(select(EmailToken.id).where(EmailToken.purpose == "reset").limit(1)) is not None
        count = len(s.scalars(select(EmailToken).where(EmailToken.purpose == "reset")).all())
        assert count == users.RESET_REQUESTS_PER_HOUR
    with db.sessions.begin() as s, pytest.raises(Invalid, match="replaced by a newer one"):
        users.reset_password(_ctx(s, clock), first, "a brand new passphrase", LINKS)


def test_changing_a_password_needs_the_current_one(db, clock):
    ann = _verified(db, clock)
    with db.sessions.begin() as s:
        user = s.get(User, ann.id)
        with pytest.raises(Invalid) as caught:
            users.change_password(_ctx(s, clock, _me(user)), user, "not it", "a brand new passphrase")
        assert caught.value.errors[0].path == "current_password"
        with pytest.raises(Forbidden):
            users.change_password(_ctx(s, clock, SYSTEM), user, PASSWORD, "a brand new passphrase")
        users.change_password(_ctx(s, clock, _me(user)), user, PASSWORD, "a brand new passphrase")
    with db.sessions.begin() as s:
        assert users.authenticate(_ctx(s, clock), "ann@example.org", "a brand new passphrase").user is not None


def test_profile_and_public_profile_show_only_what_was_chosen(db, clock):
    ann = _verified(db, clock)
    with db.sessions.begin() as s:
        org = Organisation(slug="uni", name="A University", name_key="a university", ror_id="02mhbdp94",
                           created_at=clock.now())
        dup = Organisation(slug="uni-2", name="A Univ.", name_key="a univ.", created_at=clock.now())
        s.add_all([org, dup])
        s.flush()
        dup.merged_into_id = org.id
        user = s.get(User, ann.id)
        ctx = _ctx(s, clock, _me(user))
        with pytest.raises(Invalid) as caught:
            users.update_profile(ctx, user, name=" ", orcid_id="0000-0002-1825-0098", affiliation="nope",
                                 public_fields=["password"])
        assert sorted(e.path for e in caught.value.errors) == ["affiliation", "name", "orcid", "public_fields"]
        assert "check digit is wrong" in next(e.message for e in caught.value.errors if e.path == "orcid")
        users.update_profile(ctx, user, name="Ann  Example", orcid_id="https://orcid.org/0000-0002-1825-0097",
                             affiliation=str(dup.id), public_fields=[])
        assert user.orcid == "0000-0002-1825-0097" and user.affiliation_id == org.id  # merged: its survivor
        assert org in users.affiliation_choices(ctx) and dup not in users.affiliation_choices(ctx)
    with db.sessions.begin() as s:
        with pytest.raises(NotFound):  # nothing chosen: no public profile at all
            users.public_profile(_ctx(s, clock), ann.id)
        with pytest.raises(NotFound):
            users.public_profile(_ctx(s, clock), "not-a-uuid")
        user = s.get(User, ann.id)
        users.update_profile(_ctx(s, clock, _me(user)), user, public_fields=["orcid", "affiliation"])
        profile = users.public_profile(_ctx(s, clock), ann.id)
        assert profile == {"id": str(ann.id), "orcid": "0000-0002-1825-0097",
                           "affiliation": {"id": str(org.id), "name": "A University", "ror_id": "02mhbdp94"}}
        assert "name" not in profile and "email" not in json.dumps(profile)
        other = users.create_user(_ctx(s, clock, SYSTEM), "bob@example.org", "Bob", verified=True)
        with pytest.raises(Forbidden):
            users.update_profile(_ctx(s, clock, _me(other)), user, name="Hacked")
        with pytest.raises(Invalid) as caught:
            users.update_profile(_ctx(s, clock, _me(other)), other, orcid_id="0000000218250097")
        assert caught.value.errors[0].message == "another account has this ORCID iD"
        with pytest.raises(Unauthorized):
            users.update_profile(_ctx(s, clock), user, name="Anonymous")


def test_accreditation_is_stated_verified_by_an_admin_and_expires(db, clock):
    ann = _verified(db, clock)
    today = clock.now().date()
    with db.sessions.begin() as s:
        user = s.get(User, ann.id)
        ctx = _ctx(s, clock, _me(user))
        with pytest.raises(Invalid) as caught:
            users.submit_accreditation(ctx, user, "", "yesterday")
        assert sorted(e.path for e in caught.value.errors) == ["evidence", "expires_on"]
        with pytest.raises(Invalid, match="accreditation was not saved"):
            users.submit_accreditation(ctx, user, "ONS RAS 12345", today - timedelta(days=1))
        users.submit_accreditation(ctx, user, "ONS Research Accreditation Service, no. 12345",
                                   (today + timedelta(days=30)).isoformat())
        assert users.accreditation_status(user, today) == "pending"
        users.update_profile(ctx, user, public_fields=["name", "accreditation"])
        assert "accreditation" not in users.public_profile(ctx, user.id)  # not verified: not shown
        with pytest.raises(Forbidden):
            users.decide_accreditation(ctx, user.id, approve=True)
        admin = users.create_user(_ctx(s, clock, SYSTEM), "root@example.org", "Root", is_admin=True)
        admin_ctx = _ctx(s, clock, Actor(name="Root", user_id=admin.id, is_admin=True))
        assert users.pending_accreditations(admin_ctx) == [user]
        users.decide_accreditation(admin_ctx, user.id, approve=True)
        assert user.accreditation_verified_by == admin.id
        assert users.public_profile(_ctx(s, clock), user.id)["accreditation"] == {
            "status": "accredited", "expires_on": today + timedelta(days=30)}
        assert users.accreditation_status(user, today + timedelta(days=31)) == "expired"
        users.submit_accreditation(ctx, user, "renewed: no. 67890", date(2030, 1, 1))  # needs verifying again
        assert users.accreditation_status(user, today) == "pending"
        users.decide_accreditation(admin_ctx, user.id, approve=False, reason="number not found")
        assert users.accreditation_status(user, today) == "none"
        with pytest.raises(Conflict):
            users.decide_accreditation(admin_ctx, user.id, approve=True)
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.subject_id == str(user.id)))]
        assert actions.count("user.accreditation_submitted") == 2
        assert {"user.accreditation_verified", "user.accreditation_refused"} <= set(actions)


def test_passwords_are_argon2id_and_rehashed_when_parameters_grow(db, clock):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    assert passwords.needs_rehash(weak) and passwords.verify_password(weak, PASSWORD)
    assert not passwords.verify_password(None, PASSWORD) and not passwords.verify_password("junk", PASSWORD)
    assert passwords.verify_password(passwords.hash_password("Cafe\u0301 au lait!"), "Café au lait!")  # NFKC
    with db.sessions.begin() as s:
        user = users.create_user(_ctx(s, clock, SYSTEM), "weak@example.org", "Weak Hash", password_hash=weak,
                                 verified=True)
        assert users.authenticate(_ctx(s, clock), "weak@example.org", PASSWORD).user is not None
        assert not passwords.needs_rehash(user.password_hash)


def test_a_disabled_account_cannot_sign_in_nor_keep_a_session(db, clock):
    ann = _verified(db, clock)
    with db.sessions.begin() as s:
        cookie = sessions.start(_ctx(s, clock), s.get(User, ann.id), "password")
        s.get(User, ann.id).disabled_at = clock.now()
    with db.sessions.begin() as s:
        assert sessions.user_of(_ctx(s, clock), cookie) is None
        assert users.authenticate(_ctx(s, clock), "ann@example.org", PASSWORD).error == users.WRONG
        assert s.scalar(select(LoginSession.id)) is not None


def test_concurrent_failed_sign_ins_are_all_counted(db, clock):
    """Four first failures for one address at once: one row, four failures, no error for anyone."""
    import threading

    barrier, errors = threading.Barrier(4), []

    def fail_once() -> None:
        try:
            barrier.wait()
            with db.sessions.begin() as s:
                assert users.authenticate(_ctx(s, clock), "race@example.org", "wrong password").error == users.WRONG
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.sessions() as s:
        (row,) = s.scalars(select(throttle.LoginThrottle)).all()
        assert row.failures == 4 and row.locked_until is None
