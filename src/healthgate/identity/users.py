"""People: accounts (registration, email verification, sign-in with lockout, passwords and their reset),
profiles (ORCID iD, affiliation, what the public profile shows), accredited-researcher status, admin status."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unauthorized
from healthgate.identity import email_tokens, orcid, passwords, throttle
from healthgate.identity.models import EmailToken, Organisation, User
from healthgate.identity.permissions import Actor, Permission, require
from healthgate.outbox import service as outbox


def email_key(email: str) -> str:
    """What makes two addresses one account: NFKC, case-folded, surrounding space removed."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def checked_email(email: str) -> str:
    email = (email or "").strip()
    local, at, domain = email.rpartition("@")
    if not at or not local or "." not in domain or len(email) > 320 or any(c.isspace() for c in email):
        raise Invalid("not an email address", [FieldError("email", "give an email address like name@example.org")])
    return email


def find_by_email(ctx: Context, email: str) -> User | None:
    return ctx.session.scalar(select(User).where(User.email_key == email_key(email)))


def get_user(ctx: Context, user_id: uuid.UUID) -> User:
    user = ctx.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def create_user(ctx: Context, email: str, name: str, *, is_admin: bool = False,
                password_hash: str | None = None, verified: bool = False) -> User:
    """A new account. Creating one for someone else (or an admin) needs ``user:manage``."""
    require(ctx.actor, Permission.USER_MANAGE)
    email = checked_email(email)
    name = " ".join((name or "").split())
    if not name or len(name) > 300:
        raise Invalid("a person needs a name", [FieldError("name", "a name is 1 to 300 characters")])
    if find_by_email(ctx, email) is not None:
        raise Conflict("an account with this email address exists", [FieldError("email", "already registered")])
    now = ctx.now()
    user = User(email=email, email_key=email_key(email), name=name, is_admin=is_admin,
                password_hash=password_hash, email_verified_at=now if verified else None, public_fields=[],
                failed_logins=0, created_at=now)
    ctx.session.add(user)
    ctx.session.flush()
    audit.record(ctx, "user.created", "user", user.id, {"is_admin": is_admin}, at=now, new=True)
    return user


# --- Accounts: registration, sign-in, email verification, passwords, profile, accreditation ----------------

# What a public profile may show, each only when the person chose it (``User.public_fields``).
PUBLIC_FIELDS: dict[str, str] = {
    "name": "Name",
    "orcid": "ORCID iD",
    "affiliation": "Affiliation",
    "accreditation": "Accredited researcher status",
}
RESET_REQUESTS_PER_HOUR = 3  # reset emails one account may be sent per hour
MAX_EVIDENCE = 2000


@dataclass(frozen=True)
class Links:
    """What emailed links need: the site's public address and the key that signs email tokens."""

    base_url: str
    key: str

    def url(self, path: str, token: str, **extra: str | None) -> str:
        query = {"token": token, **{k: v for k, v in extra.items() if v}}
        return f"{self.base_url.rstrip('/')}{path}?{urlencode(query)}"


def _as_self(ctx: Context, user: User) -> Context:
    """The person acting on their own account (registration, sign-in, links from emails)."""
    return ctx.as_actor(Actor(name=user.name, user_id=user.id, is_admin=user.is_admin))


def _require_self_or_manager(ctx: Context, user: User) -> None:
    if ctx.actor.user_id != user.id:
        require(ctx.actor, Permission.USER_MANAGE)
    elif not ctx.actor.authenticated:
        raise Unauthorized("sign in first")


def checked_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 300:
        raise Invalid("a person needs a name", [FieldError("name", "a name is 1 to 300 characters")])
    return name


def _send_verification(ctx: Context, user: User, links: Links, invite: str | None = None) -> None:
    """Email a confirmation link (carrying a team invitation along, if the person registered with one)."""
    token = email_tokens.issue(_as_self(ctx, user), user, "verify", key=links.key)
    outbox.enqueue_email(ctx, user.email, "Confirm your email address for healthgate",
                         f"Hello {user.name},\n\nTo confirm that this is your email address, open this link "
                         f"within three days:\n\n{links.url('/verify-email', token, invite=invite)}\n\n"
                         "If you did not create a healthgate account, you can ignore this email.\n")


def register(ctx: Context, email: str, name: str, password: str, links: Links,
             invite: str | None = None) -> User | None:
    """Anyone may register. A new address gets an account (unverified) and a verification email. An address
    that already has an account gets an email saying so instead, and the caller sees the same answer (None
    instead of the user), so registering never tells a stranger who has an account."""
    email = checked_email(email)
    name = checked_name(name)
    passwords.check_policy(password, email=email, name=name)
    existing = find_by_email(ctx, email)
    if existing is not None:
        outbox.enqueue_email(ctx, existing.email, "Someone tried to register with your email address",
                             f"Hello {existing.name},\n\nSomeone (perhaps you) tried to create a healthgate "
                             "account with this email address, which already has one. To sign in, go to "
                             f"{links.base_url.rstrip('/')}/login; if you forgot your password, reset it at "
                             f"{links.base_url.rstrip('/')}/forgot-password.\n")
        return None
    now = ctx.now()
    user = User(email=email, email_key=email_key(email), name=name, is_admin=False,
                password_hash=passwords.hash_password(password), email_verified_at=None, public_fields=[],
                failed_logins=0, created_at=now)
    ctx.session.add(user)
    ctx.session.flush()
    audit.record(_as_self(ctx, user), "user.registered", "user", user.id, {}, at=now, new=True)
    _send_verification(ctx, user, links, invite)
    return user


def resend_verification(ctx: Context, user: User, links: Links) -> None:
    if user.email_verified_at is None:
        _send_verification(ctx, user, links)


def verify_email(ctx: Context, token: str, links: Links) -> User:
    """Use a verification link: the person's address is confirmed (and the token spent)."""
    row = email_tokens.consume(ctx, token, "verify", key=links.key)
    user = get_user(ctx, row.user_id)
    if user.email_verified_at is None:
        user.email_verified_at = ctx.now()
        audit.record(_as_self(ctx, user), "user.email_verified", "user", user.id, {}, at=ctx.now())
    return user


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt: ``user`` on success, else ``error`` (what to tell the person) and
    ``field`` (where). Failures are answers, not exceptions, so that the failure count is committed."""

    user: User | None = None
    error: str = ""
    locked_until: datetime | None = None
    unverified: bool = False


WRONG = "the email address or password is wrong"


def _locked_message(until: datetime) -> str:
    return (f"too many failed sign-ins with this email address: it is locked until {until:%H:%M} UTC. "
            "Try again then, or reset your password.")


def authenticate(ctx: Context, email: str, password: str, links: Links | None = None) -> SignIn:
    """Check an email and password. Counts failures per address (identity.throttle) whether or not an account
    has it, and answers a locked address with the same words either way; spends as long on an unknown
    address as on a known one. A right password on an unverified address sends a new verification link."""
    key = email_key(email or "")
    until = throttle.locked_until(ctx, key)
    user = find_by_email(ctx, email) if key else None
    if until is not None:
        passwords.verify_password(None, password)  # the same time as a real check
        return SignIn(error=_locked_message(until), locked_until=until)
    ok = passwords.verify_password(user.password_hash if user is not None else None, password)
    if not ok or user is None or user.disabled_at is not None:
        failures, locked = throttle.failed(ctx, key)
        if user is not None:
            user.failed_logins = failures
            if locked is not None:
                user.locked_until = locked
                audit.record(ctx, "user.locked", "user", user.id, {"until": locked, "failures": failures},
                             at=ctx.now())
        if locked is not None:
            return SignIn(error=_locked_message(locked), locked_until=locked)
        return SignIn(error=WRONG)
    throttle.clear(ctx, key)
    user.failed_logins, user.locked_until = 0, None
    if user.password_hash is not None and passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    if user.email_verified_at is None:
        if links is not None:
            resend_verification(ctx, user, links)
        return SignIn(error="confirm your email address first: we have sent you a new link", unverified=True)
    return SignIn(user=user)


def set_password(ctx: Context, user: User, password: str) -> None:
    """Give ``user`` a new password (the person, or an alliance admin) and sign them out everywhere."""
    _require_self_or_manager(ctx, user)
    passwords.check_policy(password, email=user.email, name=user.name)
    _store_password(ctx, user, password, "user.password_set")


def _store_password(ctx: Context, user: User, password: str, action: str) -> None:
    from healthgate.identity import sessions

    user.password_hash = passwords.hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    throttle.clear(ctx, user.email_key)
    sessions.end_all(ctx, user)
    audit.record(ctx, action, "user", user.id, {}, at=ctx.now())  # never the password, nor its hash


def change_password(ctx: Context, user: User, current: str, new: str) -> None:
    """The person changes their own password, proving they know the current one; every session of theirs
    ends (the caller starts a new one for this browser)."""
    if ctx.actor.user_id != user.id:
        raise Forbidden("you may only change your own password")
    if user.password_hash is not None and not passwords.verify_password(user.password_hash, current):
        raise Invalid("the current password is wrong", [FieldError("current_password", "this is not your "
                                                                                        "current password")])
    passwords.check_policy(new, email=user.email, name=user.name, field="new_password")
    _store_password(ctx, user, new, "user.password_changed")


def request_password_reset(ctx: Context, email: str, links: Links) -> None:
    """Email a reset link if an account has this address (and has not had too many lately). The caller answers
    the same whether or not it does."""
    user = find_by_email(ctx, email) if email_key(email or "") else None
    if user is None or user.disabled_at is not None:
        return
    since = ctx.now() - timedelta(hours=1)
    recent = ctx.session.scalar(select(func.count()).select_from(EmailToken).where(
        EmailToken.user_id == user.id, EmailToken.purpose == "reset", EmailToken.created_at > since)) or 0
    if recent >= RESET_REQUESTS_PER_HOUR:
        return
    token = email_tokens.issue(_as_self(ctx, user), user, "reset", key=links.key)
    outbox.enqueue_email(ctx, user.email, "Reset your healthgate password",
                         f"Hello {user.name},\n\nTo choose a new password, open this link within an hour:\n\n"
                         f"{links.url('/reset-password', token)}\n\nThe link works once. If you did not ask "
                         "to reset your password, you can ignore this email: your password is unchanged.\n")


def check_reset_token(ctx: Context, token: str, links: Links) -> User:
    """The account a live reset link is for (without using it), or Invalid."""
    return get_user(ctx, email_tokens.peek(ctx, token, "reset", key=links.key).user_id)


def reset_password(ctx: Context, token: str, password: str, links: Links) -> User:
    """Use a reset link once: a new password, the address counted as verified (the link reached it), the lock
    lifted and every session ended."""
    row = email_tokens.peek(ctx, token, "reset", key=links.key)
    user = get_user(ctx, row.user_id)
    passwords.check_policy(password, email=user.email, name=user.name)
    email_tokens.consume(ctx, token, "reset", key=links.key)
    if user.email_verified_at is None:
        user.email_verified_at = ctx.now()
    _store_password(_as_self(ctx, user), user, password, "user.password_reset")
    return user


def unlock(ctx: Context, user: User) -> None:
    """Lift a sign-in lock (alliance admin)."""
    require(ctx.actor, Permission.USER_MANAGE)
    throttle.clear(ctx, user.email_key)
    user.failed_logins, user.locked_until = 0, None
    audit.record(ctx, "user.unlocked", "user", user.id, {}, at=ctx.now())


def _organisation(ctx: Context, organisation_id: uuid.UUID | str | None) -> Organisation | None:
    if organisation_id in (None, ""):
        return None
    try:
        oid = organisation_id if isinstance(organisation_id, uuid.UUID) else uuid.UUID(str(organisation_id))
    except ValueError:
        oid = None
    org = ctx.session.get(Organisation, oid) if oid is not None else None
    seen = set()
    while org is not None and org.merged_into_id is not None and org.id not in seen:  # a merged duplicate
        seen.add(org.id)
        org = ctx.session.get(Organisation, org.merged_into_id)
    if org is None:
        raise Invalid("unknown organisation", [FieldError("affiliation", "choose an organisation from the list")])
    return org


_UNSET: Any = object()


def update_profile(ctx: Context, user: User, *, name: str = _UNSET, orcid_id: str | None = _UNSET,
                   affiliation: uuid.UUID | str | None = _UNSET, public_fields: list[str] = _UNSET) -> User:
    """Change a profile (the person, or an alliance admin). Every problem is reported at once, by field."""
    _require_self_or_manager(ctx, user)
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}

    def attempt(field: str, value: Any, check: Any) -> None:
        try:
            new = check(value)
        except Invalid as exc:
            errors.extend(exc.errors)
            return
        if new != getattr(user, field):
            changes[field] = new

    if name is not _UNSET:
        attempt("name", name, checked_name)
    if orcid_id is not _UNSET:
        attempt("orcid", orcid_id, lambda v: orcid.normalise(v) if (v or "").strip() else None)
        taken = changes.get("orcid")
        if taken and ctx.session.scalar(select(User.id).where(User.orcid == taken, User.id != user.id)):
            errors.append(FieldError("orcid", "another account has this ORCID iD"))
            changes.pop("orcid")
    if affiliation is not _UNSET:
        try:
            org = _organisation(ctx, affiliation)
            if (org.id if org else None) != user.affiliation_id:
                changes["affiliation_id"] = org.id if org else None
        except Invalid as exc:
            errors.extend(exc.errors)
    if public_fields is not _UNSET:
        unknown = [f for f in public_fields if f not in PUBLIC_FIELDS]
        if unknown:
            errors.append(FieldError("public_fields", f"unknown field {unknown[0]!r}: choose from "
                                                      f"{', '.join(PUBLIC_FIELDS)}"))
        else:
            chosen = [f for f in PUBLIC_FIELDS if f in public_fields]
            if chosen != list(user.public_fields or []):
                changes["public_fields"] = chosen
    if errors:
        raise Invalid("the profile was not saved", errors)
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        audit.record(ctx, "user.profile_updated", "user", user.id,
                     {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in changes.items()}, at=ctx.now())
    return user


def accreditation_status(user: User, today: date) -> str:
    """"none", "pending" (evidence given, not yet verified), "accredited" or "expired"."""
    if not user.accreditation_evidence:
        return "none"
    if user.accreditation_expires_on is not None and user.accreditation_expires_on < today:
        return "expired"
    return "accredited" if user.accreditation_verified_at is not None else "pending"


def submit_accreditation(ctx: Context, user: User, evidence: str, expires_on: date | str | None) -> User:
    """The person states their accredited-researcher (Safe People) status: evidence (a certificate number,
    the accrediting body, a link) and its expiry. An admin verifies it before it counts."""
    _require_self_or_manager(ctx, user)
    evidence = (evidence or "").strip()
    errors = []
    if not evidence or len(evidence) > MAX_EVIDENCE:
        errors.append(FieldError("evidence", f"say how you are accredited (1 to {MAX_EVIDENCE} characters): "
                                             "the accrediting body and your certificate or reference number"))
    if isinstance(expires_on, str):
        try:
            expires_on = date.fromisoformat(expires_on.strip()) if expires_on.strip() else None
        except ValueError:
            errors.append(FieldError("expires_on", "give the expiry date as YYYY-MM-DD"))
            expires_on = None
    if expires_on is None and not any(e.path == "expires_on" for e in errors):
        errors.append(FieldError("expires_on", "give the date your accreditation expires"))
    elif expires_on is not None and expires_on <= ctx.now().date():
        errors.append(FieldError("expires_on", "this date has passed: an expired accreditation does not count"))
    if errors:
        raise Invalid("the accreditation was not saved", errors)
    user.accreditation_evidence = evidence
    user.accreditation_expires_on = expires_on if isinstance(expires_on, date) else None
    user.accreditation_verified_at = None
    user.accreditation_verified_by = None
    audit.record(ctx, "user.accreditation_submitted", "user", user.id,
                 {"expires_on": user.accreditation_expires_on}, at=ctx.now())
    return user


def decide_accreditation(ctx: Context, user_id: uuid.UUID, *, approve: bool, reason: str = "") -> User:
    """An alliance admin verifies (or refuses) the evidence a person gave."""
    require(ctx.actor, Permission.USER_MANAGE)
    user = get_user(ctx, user_id)
    if not user.accreditation_evidence:
        raise Conflict("there is no accreditation to decide on", [FieldError("evidence", "none given")])
    if approve:
        if accreditation_status(user, ctx.now().date()) == "expired":
            raise Conflict("this accreditation has expired", [FieldError("expires_on", "in the past")])
        user.accreditation_verified_at = ctx.now()
        user.accreditation_verified_by = ctx.actor.user_id
        audit.record(ctx, "user.accreditation_verified", "user", user.id,
                     {"expires_on": user.accreditation_expires_on}, at=ctx.now())
    else:
        user.accreditation_evidence = None
        user.accreditation_expires_on = None
        user.accreditation_verified_at = None
        user.accreditation_verified_by = None
        audit.record(ctx, "user.accreditation_refused", "user", user.id, {"reason": reason[:500]}, at=ctx.now())
    return user


def pending_accreditations(ctx: Context) -> list[User]:
    require(ctx.actor, Permission.USER_MANAGE)
    return list(ctx.session.scalars(select(User).where(User.accreditation_evidence.is_not(None),
                                                       User.accreditation_verified_at.is_(None))
                                    .order_by(User.created_at)))


def affiliation_choices(ctx: Context) -> list[Organisation]:
    """The organisations a person may name as their affiliation (merged duplicates left out), by name."""
    return list(ctx.session.scalars(select(Organisation).where(Organisation.merged_into_id.is_(None))
                                    .order_by(Organisation.name_key)))


def public_profile(ctx: Context, user_id: uuid.UUID | str) -> dict[str, Any]:
    """What anyone may see of a person: only the fields they chose. A person who chose none (or a disabled
    account, or no such person) is NotFound, the same answer in each case."""
    try:
        uid = user_id if isinstance(user_id, uuid.UUID) else uuid.UUID(str(user_id))
    except ValueError:
        raise NotFound("no such person") from None
    user = ctx.session.get(User, uid)
    chosen = set(user.public_fields or []) if user is not None and user.disabled_at is None else set()
    if not chosen:
        raise NotFound("no such person")
    assert user is not None
    profile: dict[str, Any] = {"id": str(user.id)}
    if "name" in chosen:
        profile["name"] = user.name
    if "orcid" in chosen and user.orcid:
        profile["orcid"] = user.orcid
    if "affiliation" in chosen and user.affiliation_id:
        org = _organisation(ctx, user.affiliation_id)
        if org is not None:
            profile["affiliation"] = {"id": str(org.id), "name": org.name, "ror_id": org.ror_id}
    if "accreditation" in chosen:
        status = accreditation_status(user, ctx.now().date())
        if status == "accredited":
            profile["accreditation"] = {"status": status, "expires_on": user.accreditation_expires_on}
    return profile
