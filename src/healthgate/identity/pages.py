"""The account pages: register, sign in and out, verify an email address, forgotten and reset passwords, my
account (profile, public-profile choices, password, accredited-researcher status), public profiles, and the
admin's accreditation queue. No SQL here: every change is a call to ``identity.users``/``identity.sessions``.

A failed sign-in is an answer (the form again, with the reason), not an exception, so the failure count is
committed with the request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response
from starlette.routing import Match

from healthgate.context import Context
from healthgate.db import transaction
from healthgate.errors import FieldError, HealthgateError, Invalid, Unauthorized
from healthgate.identity import sessions, users
from healthgate.identity.models import User
from healthgate.identity.permissions import ANONYMOUS, Actor
from healthgate.web import ratelimit
from healthgate.web.deps import ContextDep
from healthgate.web.http import absolute
from healthgate.web.posted import by_field
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class SignedIn:
    """Who the page header greets."""

    id: uuid.UUID
    name: str
    is_admin: bool
    verified: bool


def signed_in(request: Request) -> SignedIn | None:
    """The person signed in by this request's session cookie (looked up once per request, read-only)."""
    known: SignedIn | None | bool = getattr(request.state, "signed_in", False)
    if known is not False:
        return known  # type: ignore[return-value]
    found: SignedIn | None = None
    value = request.cookies.get(sessions.COOKIE)
    if value:
        with transaction(request.app.state.sessions) as session:
            ctx = Context(session, ANONYMOUS, request.app.state.clock)
            user = sessions.user_of(ctx, value, touch=False)
            if user is not None:
                found = SignedIn(user.id, user.name, user.is_admin, user.email_verified_at is not None)
    request.state.signed_in = found
    return found


def links(request: Request) -> users.Links:
    settings = request.app.state.settings
    base = settings.base_url if "base_url" in settings.model_fields_set else str(request.base_url)
    return users.Links(base_url=base, key=settings.effective_secret_key())


def _safe_next(target: str | None) -> str | None:
    """A local path to go on to after signing in; anything else (another site, ``//evil``) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _landing(request: Request) -> str:
    """Where a person goes after signing in: their workspace (once that part is installed), else their account."""
    scope = {"type": "http", "path": "/workspace", "method": "GET"}
    if any(r.matches(scope)[0] == Match.FULL for r in request.app.router.routes):
        return "/workspace"
    return "/account"


def _me(ctx: Context) -> User:
    if not ctx.actor.authenticated or ctx.actor.user_id is None:
        raise Unauthorized("sign in to see your account")
    return users.get_user(ctx, ctx.actor.user_id)


def _redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(absolute(request, path), status_code=303)


def _sign_in(request: Request, ctx: Context, user: User, method: str, target: str | None) -> Response:
    """Start a session for ``user`` (ending this browser's previous one) and go on."""
    sessions.end(ctx, request.cookies.get(sessions.COOKIE))
    value = sessions.start(ctx, user, method)
    response = _redirect(request, _safe_next(target) or _landing(request))
    sessions.set_cookie(response, value, request.app.state.settings)
    return response


def _accept_invite(ctx: Context, user: User, invite: str | None) -> None:
    """A team invitation carried through sign-up or sign-in (``identity.members.accept_invite``, from the
    organisations part); without it, or without an invitation, nothing happens."""
    if not invite:
        return
    from healthgate.identity import members

    accept = getattr(members, "accept_invite", None)
    if accept is None:
        return
    try:
        with ctx.session.begin_nested():  # a spent or expired invitation does not stop the sign-in
            accept(ctx, user, invite)
    except HealthgateError:
        pass


# --- sign in, sign out ---------------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, invite: str | None = None,
               reset: bool = False, verified: bool = False) -> HTMLResponse:
    notice = ("Your password has been changed: sign in with it." if reset else
              "Your email address is confirmed: sign in." if verified else "")
    return render(request, "identity/login.html", next=_safe_next(next) or "", invite=invite or "",
                  email="", error="", notice=notice)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, ctx: ContextDep, email: Annotated[str, Form(max_length=320)] = "",
          password: Annotated[str, Form(max_length=2048)] = "", next: Annotated[str, Form()] = "",
          invite: Annotated[str, Form()] = "") -> Response:
    limits: ratelimit.RateLimits = request.app.state.rate_limits
    client = ratelimit.client_key(request.scope)
    refused = limits.exhausted(ratelimit.FAILED_AUTH, client)
    if refused is not None:
        raise ratelimit.refuse(refused, "failed sign-ins")
    result = users.authenticate(ctx, email, password, links(request))
    if result.user is None:
        if not result.unverified and result.locked_until is None:
            limits.hit(ratelimit.FAILED_AUTH, client)
        status = 403 if result.unverified else 429 if result.locked_until else 400
        return render(request, "identity/login.html", status_code=status, next=_safe_next(next) or "",
                      invite=invite, email=email, error=result.error, notice="")
    user = result.user
    self_ctx = ctx.as_actor(_actor(ctx, user))
    _accept_invite(self_ctx, user, invite)
    return _sign_in(request, self_ctx, user, "password", next)


def _actor(ctx: Context, user: User) -> Actor:
    from healthgate.identity.actors import actor_for_user

    return actor_for_user(ctx.session, user)


@router.post("/logout")
def logout(request: Request, ctx: ContextDep) -> Response:
    sessions.end(ctx, request.cookies.get(sessions.COOKIE))
    response = _redirect(request, "/")
    sessions.clear_cookie(response, request.app.state.settings)
    return response


# --- register, verify ------------------------------------------------------------------------------------------

@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, invite: str | None = None, email: str | None = None) -> HTMLResponse:
    return render(request, "identity/register.html", form={"email": email or "", "name": ""}, errors={},
                  invite=invite or "")


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, ctx: ContextDep, email: Annotated[str, Form(max_length=320)] = "",
             name: Annotated[str, Form(max_length=400)] = "", password: Annotated[str, Form(max_length=2048)] = "",
             password_again: Annotated[str, Form(max_length=2048)] = "",
             invite: Annotated[str, Form()] = "") -> Response:
    form = {"email": email, "name": name}
    if password != password_again:
        return render(request, "identity/register.html", status_code=422, form=form, invite=invite,
                      errors={"password_again": ["the two passwords differ"]})
    try:
        users.register(ctx, email, name, password, links(request), invite or None)
    except Invalid as exc:
        return render(request, "identity/register.html", status_code=422, form=form, invite=invite,
                      errors=by_field(exc))
    # The same answer whether or not the address already had an account.
    return render(request, "identity/check_email.html", email=users.checked_email(email), purpose="verify")


@router.get("/verify-email", response_class=HTMLResponse)
def verify_email_form(request: Request, ctx: ContextDep, token: str = "", invite: str = "") -> HTMLResponse:
    """Show a button, not verify on GET: mail scanners that follow links must not spend the token."""
    return render(request, "identity/verify_email.html", token=token, invite=invite)


@router.post("/verify-email")
def verify_email(request: Request, ctx: ContextDep, token: Annotated[str, Form(max_length=200)] = "",
                 invite: Annotated[str, Form(max_length=400)] = "") -> Response:
    """Confirm the address; a team invitation that came along is accepted at the sign-in that follows."""
    users.verify_email(ctx, token, links(request))
    if signed_in(request):
        return _redirect(request, "/account?verified=1")
    return _redirect(request, "/login?" + urlencode({"verified": 1, **({"invite": invite} if invite else {})}))


# --- forgotten and reset passwords ------------------------------------------------------------------------------

@router.get("/forgot-password", response_class=HTMLResponse)
def forgot_form(request: Request) -> HTMLResponse:
    return render(request, "identity/forgot_password.html", email="", errors={})


@router.post("/forgot-password", response_class=HTMLResponse)
def forgot(request: Request, ctx: ContextDep, email: Annotated[str, Form(max_length=320)] = "") -> HTMLResponse:
    try:
        email = users.checked_email(email)
    except Invalid as exc:
        return render(request, "identity/forgot_password.html", status_code=422, email=email,
                      errors=by_field(exc))
    users.request_password_reset(ctx, email, links(request))
    return render(request, "identity/check_email.html", email=email, purpose="reset")


@router.get("/reset-password", response_class=HTMLResponse)
def reset_form(request: Request, ctx: ContextDep, token: str = "") -> HTMLResponse:
    users.check_reset_token(ctx, token, links(request))  # a dead link says so now, not after typing
    return render(request, "identity/reset_password.html", token=token, errors={})


@router.post("/reset-password", response_class=HTMLResponse)
def reset(request: Request, ctx: ContextDep, token: Annotated[str, Form(max_length=200)] = "",
          password: Annotated[str, Form(max_length=2048)] = "",
          password_again: Annotated[str, Form(max_length=2048)] = "") -> Response:
    if password != password_again:
        return render(request, "identity/reset_password.html", status_code=422, token=token,
                      errors={"password_again": ["the two passwords differ"]})
    try:
        users.reset_password(ctx, token, password, links(request))
    except Invalid as exc:
        if any(e.path == "token" for e in exc.errors):
            raise
        return render(request, "identity/reset_password.html", status_code=422, token=token,
                      errors=by_field(exc))
    response = _redirect(request, "/login?reset=1")
    sessions.clear_cookie(response, request.app.state.settings)
    return response


# --- my account --------------------------------------------------------------------------------------------------

def _account(request: Request, ctx: Context, status: int = 200, **extra: Any) -> HTMLResponse:
    user = _me(ctx)
    today = ctx.now().date()
    form = extra.pop("form", None) or {
        "name": user.name, "orcid": user.orcid or "",
        "affiliation": str(user.affiliation_id) if user.affiliation_id else "",
        "public_fields": list(user.public_fields or []),
        "evidence": user.accreditation_evidence or "",
        "expires_on": user.accreditation_expires_on.isoformat() if user.accreditation_expires_on else "",
    }
    return render(request, "identity/account.html", status_code=status, user=user, form=form,
                  errors=extra.pop("errors", {}), notice=extra.pop("notice", ""),
                  organisations=users.affiliation_choices(ctx), public_choices=users.PUBLIC_FIELDS,
                  accreditation=users.accreditation_status(user, today), **extra)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, ctx: ContextDep, verified: bool = False, saved: str = "") -> HTMLResponse:
    notice = {"profile": "Your profile is saved.", "password": "Your password is changed.",
              "accreditation": "Your accreditation is saved; an administrator will verify it."}.get(saved, "")
    return _account(request, ctx, notice="Your email address is confirmed." if verified else notice)


@router.post("/account/profile", response_class=HTMLResponse)
def save_profile(request: Request, ctx: ContextDep, name: Annotated[str, Form(max_length=400)] = "",
                 orcid: Annotated[str, Form(max_length=100)] = "", affiliation: Annotated[str, Form()] = "",
                 public_fields: Annotated[list[str] | None, Form()] = None) -> Response:
    user = _me(ctx)
    try:
        users.update_profile(ctx, user, name=name, orcid_id=orcid, affiliation=affiliation or None,
                             public_fields=public_fields or [])
    except Invalid as exc:
        form = {"name": name, "orcid": orcid, "affiliation": affiliation, "public_fields": public_fields or [],
                "evidence": user.accreditation_evidence or "",
                "expires_on": user.accreditation_expires_on.isoformat() if user.accreditation_expires_on else ""}
        return _account(request, ctx, 422, form=form, errors=by_field(exc))
    return _redirect(request, "/account?saved=profile")


@router.post("/account/password", response_class=HTMLResponse)
def change_password(request: Request, ctx: ContextDep, current_password: Annotated[str, Form()] = "",
                    new_password: Annotated[str, Form(max_length=2048)] = "",
                    new_password_again: Annotated[str, Form(max_length=2048)] = "") -> Response:
    user = _me(ctx)
    try:
        if new_password != new_password_again:
            raise Invalid("the two passwords differ", [FieldError("new_password_again",
                                                                         "the two passwords differ")])
        users.change_password(ctx, user, current_password, new_password)
    except Invalid as exc:
        return _account(request, ctx, 422, errors=by_field(exc))
    return _sign_in(request, ctx, user, "password", "/account?saved=password")  # this browser stays signed in


@router.post("/account/accreditation", response_class=HTMLResponse)
def save_accreditation(request: Request, ctx: ContextDep, evidence: Annotated[str, Form(max_length=4000)] = "",
                       expires_on: Annotated[str, Form(max_length=40)] = "") -> Response:
    user = _me(ctx)
    try:
        users.submit_accreditation(ctx, user, evidence, expires_on)
    except Invalid as exc:
        form = {"name": user.name, "orcid": user.orcid or "",
                "affiliation": str(user.affiliation_id) if user.affiliation_id else "",
                "public_fields": list(user.public_fields or []), "evidence": evidence, "expires_on": expires_on}
        return _account(request, ctx, 422, form=form, errors=by_field(exc))
    return _redirect(request, "/account?saved=accreditation")


@router.post("/account/sign-out-everywhere")
def sign_out_everywhere(request: Request, ctx: ContextDep) -> Response:
    sessions.end_all(ctx, _me(ctx))
    response = _redirect(request, "/login")
    sessions.clear_cookie(response, request.app.state.settings)
    return response


@router.post("/account/verify-email")
def resend_verification(request: Request, ctx: ContextDep) -> Response:
    users.resend_verification(ctx, _me(ctx), links(request))
    return _redirect(request, "/account")


# --- public profiles ---------------------------------------------------------------------------------------------

@router.get("/people/{user_id}", response_class=HTMLResponse)
def person(request: Request, ctx: ContextDep, user_id: str) -> HTMLResponse:
    profile = users.public_profile(ctx, user_id)
    return render(request, "identity/person.html", profile=profile)


# --- the admin's accreditation queue -----------------------------------------------------------------------------

@router.get("/admin/accreditations", response_class=HTMLResponse)
def accreditations(request: Request, ctx: ContextDep) -> HTMLResponse:
    return render(request, "identity/accreditations.html", pending=users.pending_accreditations(ctx))


@router.post("/admin/accreditations/{user_id}")
def decide(request: Request, ctx: ContextDep, user_id: uuid.UUID,
           decision: Annotated[str, Form(pattern="^(verify|refuse)$")],
           reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    users.decide_accreditation(ctx, user_id, approve=decision == "verify", reason=reason)
    return _redirect(request, "/admin/accreditations")
