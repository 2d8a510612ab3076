"""The page an emailed team invitation links to: ``/invitations/<token>``. Signed in, the person accepts it
with one button; signed out, they sign in or sign up first and come back (``next``). No SQL here."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from healthgate.identity import members, users
from healthgate.web import http
from healthgate.web.deps import ContextDep
from healthgate.web.templates import render

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(min_length=1, max_length=200)]
SIGN_IN = "/login"  # the accounts pages; both return to ``next`` afterwards
SIGN_UP = "/register"


@router.get("/invitations/{token}", response_class=HTMLResponse)
def invitation(request: Request, ctx: ContextDep, token: Token) -> Response:
    row, team, role = members.find_invitation(ctx, token)
    back = quote(f"/invitations/{token}", safe="")
    person = users.get_user(ctx, ctx.actor.user_id) if ctx.actor.user_id else None
    return render(request, "identity/invitation.html", team=team, role=role, email=row.data.get("email"),
                  expires_at=row.expires_at, person=person, sign_in=f"{SIGN_IN}?next={back}",
                  sign_up=f"{SIGN_UP}?next={back}&email={quote(str(row.data.get('email', '')), safe='')}")


@router.post("/invitations/{token}")
def accept(request: Request, ctx: ContextDep, token: Token) -> Response:
    """Accept as the signed-in person (the CSRF field is checked for every browser form)."""
    if ctx.actor.user_id is None:
        back = quote(f"/invitations/{token}", safe="")
        return RedirectResponse(http.absolute(request, f"{SIGN_IN}?next={back}"), status_code=303)
    members.accept_invitation(ctx, token, users.get_user(ctx, ctx.actor.user_id))
    return RedirectResponse(http.absolute(request, "/workspace"), status_code=303)
