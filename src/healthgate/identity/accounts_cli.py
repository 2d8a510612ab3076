"""``healthgate users ...``: accounts from the command line (acting as the system)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from healthgate import context
from healthgate.config import Settings
from healthgate.db import make_sessionmaker, transaction
from healthgate.errors import FieldError, HealthgateError, NotFound
from healthgate.identity import passwords, users

app = typer.Typer(help="People's accounts.", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _read_password(from_stdin: bool, email: str, name: str) -> str:
    """The new password: the first line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    passwords.check_policy(password, email=email, name=name)
    return password


def _fail(exc: HealthgateError) -> None:
    from healthgate.cli import _fail as fail

    fail(exc)


def _sessions() -> sessionmaker[Session]:
    from healthgate.cli import _engine

    return make_sessionmaker(_engine(Settings()))


@app.command("create")
def create(email: Annotated[str, typer.Argument(help="the person's email address (their sign-in name)")],
           name: Annotated[str, typer.Option(help="the person's name")],
           admin: Annotated[bool, typer.Option("--admin", help="make them an alliance admin")] = False,
           password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                        help="read the password from standard input")] = False,
           no_password: Annotated[bool, typer.Option("--no-password", help="no password: sign-in through "
                                                     "OpenID Connect or a reset link only")] = False) -> None:
    """Create an account (email counted as verified) with a password typed at a prompt or piped in."""
    try:
        password = None if no_password else _read_password(password_stdin, email, name)
        with transaction(_sessions()) as session:
            ctx = context.system(session)
            user = users.create_user(ctx, email, name, is_admin=admin, verified=True,
                                     password_hash=passwords.hash_password(password) if password else None)
            user_id = user.id
    except HealthgateError as exc:
        _fail(exc)
        return
    console.print(f"created {'alliance admin ' if admin else ''}{email} ({user_id})")


def _find(ctx: context.Context, email: str) -> users.User:
    user = users.find_by_email(ctx, email)
    if user is None:
        raise NotFound(f"no account with email {email!r}", [FieldError("email", "no such account")])
    return user


@app.command("set-password")
def set_password(email: Annotated[str, typer.Argument(help="the account's email address")],
                 password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                              help="read the password from standard input")]
                 = False) -> None:
    """Give an account a new password (it is signed out everywhere)."""
    try:
        with transaction(_sessions()) as session:
            ctx = context.system(session)
            user = _find(ctx, email)
            users.set_password(ctx, user, _read_password(password_stdin, user.email, user.name))
    except HealthgateError as exc:
        _fail(exc)
        return
    console.print(f"password changed for {email}")


@app.command("unlock")
def unlock(email: Annotated[str, typer.Argument(help="the account's email address")]) -> None:
    """Lift a sign-in lock after too many failed attempts."""
    try:
        with transaction(_sessions()) as session:
            ctx = context.system(session)
            users.unlock(ctx, _find(ctx, email))
    except HealthgateError as exc:
        _fail(exc)
        return
    console.print(f"unlocked {email}")
