"""``healthgate teams``, ``healthgate orgs`` and ``healthgate tokens``: the identity registry from the command
line. Every command calls the same service operations as the API and the web, acting as the system (the
command line is the operator's tool)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from healthgate import context
from healthgate.config import Settings
from healthgate.context import Context
from healthgate.db import make_sessionmaker, transaction
from healthgate.errors import FieldError, HealthgateError, NotFound
from healthgate.identity import members, organisations, tokens, users
from healthgate.identity import service as teams
from healthgate.identity.models import User

teams_app = typer.Typer(help="Custodian teams and their members.", no_args_is_help=True)
orgs_app = typer.Typer(help="Organisations (the ROR-identified registry).", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the identity commands to the ``healthgate`` command (one line in cli.py)."""
    app.add_typer(teams_app, name="teams")
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(tokens_app, name="tokens")


@contextmanager
def _system() -> Iterator[Context]:
    """A system context in one transaction on the configured (migrated) database; a domain error is printed
    as its list of problems and exit code 1."""
    from healthgate.cli import _engine, _fail

    engine = _engine(Settings())
    try:
        with transaction(make_sessionmaker(engine)) as session:
            yield context.system(session)
    except HealthgateError as exc:
        _fail(exc)
    finally:
        engine.dispose()


def _person(ctx: Context, email: str, path: str = "user") -> User:
    person = users.find_by_email(ctx, email)
    if person is None:
        raise NotFound(f"no account with email {email!r}", [FieldError(path, "no such account")])
    return person


def _print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


# --- organisations --------------------------------------------------------------------------------------------

def _org_dict(org: Any) -> dict[str, Any]:
    return {"id": str(org.id), "slug": org.slug, "name": org.name, "ror_id": org.ror_id, "sector": org.sector,
            "country": org.country, "website": org.website,
            "merged_into": str(org.merged_into_id) if org.merged_into_id else None}


@orgs_app.command("create")
def orgs_create(
    name: Annotated[str, typer.Argument(help="the organisation's name")],
    ror: Annotated[str | None, typer.Option("--ror", help="ROR id, e.g. 052gg0110 or https://ror.org/052gg0110")]
    = None,
    sector: Annotated[str | None, typer.Option(help="; ".join(organisations.SECTORS))] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2 code, e.g. GB")] = None,
    website: Annotated[str | None, typer.Option(help="https://...")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add an organisation to the registry."""
    with _system() as ctx:
        org = organisations.create_organisation(ctx, name, ror_id=ror, sector=sector, country=country,
                                                website=website)
        out = _org_dict(org)
    if json_out:
        _print_json(out)
    else:
        console.print(f"created organisation {out['name']} ({out['id']})" +
                      (f", ROR {out['ror_id']}" if out["ror_id"] else ""))


@orgs_app.command("merge")
def orgs_merge(
    duplicate: Annotated[str, typer.Argument(help="the duplicate: id, ROR id or slug")],
    into: Annotated[str, typer.Option("--into", help="the organisation that survives: id, ROR id or slug")],
    json_out: JsonOpt = False,
) -> None:
    """Merge a duplicate organisation into another; every link (teams, affiliations) moves over."""
    with _system() as ctx:
        dup = organisations.get_organisation(ctx, duplicate)
        survivor = organisations.merge(ctx, dup, organisations.get_organisation(ctx, into))
        out = {**_org_dict(survivor), "teams": [t.name for t in organisations.teams_of(ctx, survivor)]}
        dup_name = dup.name
    if json_out:
        _print_json(out)
    else:
        console.print(f"merged {dup_name} into {out['name']} ({out['id']}); its teams: "
                      f"{', '.join(out['teams']) or 'none'}")


@orgs_app.command("list")
def orgs_list(q: Annotated[str | None, typer.Option(help="part of the name or a ROR id")] = None,
              json_out: JsonOpt = False) -> None:
    """List organisations by name."""
    with _system() as ctx:
        rows = [_org_dict(o) for o in organisations.list_organisations(ctx, q=q, per_page=10**6).items]
    if json_out:
        _print_json(rows)
        return
    table = RichTable("name", "ROR", "sector", "country", "id")
    for r in rows:
        table.add_row(r["name"], r["ror_id"] or "", r["sector"] or "", r["country"] or "", r["id"])
    console.print(table)


# --- teams ----------------------------------------------------------------------------------------------------

@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="the team's name")],
    org: Annotated[str | None, typer.Option("--org", help="its organisation: id, ROR id or slug")] = None,
    member_group: Annotated[str | None, typer.Option(help="e.g. ALLIANCE")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a custodian team (optionally of an organisation)."""
    with _system() as ctx:
        owner = organisations.current(ctx, organisations.get_organisation(ctx, org)) if org else None
        team = teams.create_team(ctx, name, organisation_id=owner.id if owner else None, member_group=member_group)
        out = {"id": str(team.id), "slug": team.slug, "name": team.name,
               "organisation": owner.name if owner else None}
    if json_out:
        _print_json(out)
    else:
        console.print(f"created team {out['name']} ({out['slug']}, {out['id']})"
                      + (f" of {out['organisation']}" if out["organisation"] else ""))


@teams_app.command("add-member")
def teams_add_member(
    team: Annotated[str, typer.Argument(help="the team: id, slug or name")],
    email: Annotated[str, typer.Argument(help="the person's email address (they need an account)")],
    role: Annotated[str, typer.Option(help="admin, metadata_manager, metadata_editor, access_manager, "
                                           "reviewer or developer")],
) -> None:
    """Give a person a role in a team."""
    with _system() as ctx:
        row = teams.resolve_team(ctx, team)
        person = _person(ctx, email, "email")
        role_value = role if role.startswith("team.") else f"team.{role}"
        members.add_member(ctx, row, person, role_value)
        label = members.checked_role(role_value).label
        team_name = row.name
    console.print(f"{email} is now {label} of {team_name}")


@teams_app.command("list")
def teams_list(
    members_too: Annotated[bool, typer.Option("--members", help="list each team's members and roles")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List the teams, their organisations and (with --members) their members."""
    with _system() as ctx:
        rows = []
        for t in teams.list_teams(ctx):
            row: dict[str, Any] = {"id": str(t.id), "slug": t.slug, "name": t.name,
                                   "organisation": t.organisation.name if t.organisation else None}
            if members_too:
                row["members"] = [{"email": u.email, "name": u.name, "roles": [r.value for r in roles]}
                                  for u, roles in members.members(ctx, t)]
            rows.append(row)
    if json_out:
        _print_json(rows)
        return
    table = RichTable("name", "slug", "organisation", *(["members"] if members_too else []))
    for r in rows:
        extra = ["; ".join(f"{m['email']} ({', '.join(x.removeprefix('team.') for x in m['roles'])})"
                           for m in r["members"])] if members_too else []
        table.add_row(r["name"], r["slug"], r["organisation"] or "", *extra)
    console.print(table)


# --- tokens ---------------------------------------------------------------------------------------------------

def _token_dict(row: Any) -> dict[str, Any]:
    return {"id": str(row.id), "name": row.name, "hint": row.hint, "scope": row.scope, "teams": row.team_ids,
            "created_at": row.created_at, "expires_at": row.expires_at, "last_used_at": row.last_used_at,
            "revoked_at": row.revoked_at}


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="what the token is for")],
    user: Annotated[str, typer.Option(help="the owner's email address")],
    scope: Annotated[str, typer.Option(help="read, write or admin")] = "read",
    team: Annotated[list[str] | None, typer.Option(help="a team a write token may change (id, slug or name; "
                                                        "repeatable)")] = None,
    expires_in_days: Annotated[int | None, typer.Option(
        help="days until it expires (default 90, at most 366); 0: never (admin-created service tokens)")] = None,
) -> None:
    """Create an API token for a person and print it (it is shown only once)."""
    with _system() as ctx:
        owner = _person(ctx, user)
        team_ids = [teams.resolve_team(ctx, t).id for t in team or []]
        days = tokens.DEFAULT_LIFETIME.days if expires_in_days is None else expires_in_days
        if days < 0:
            raise _invalid("expires_in_days", "give 0 (never) or a number of days")
        expires = ctx.now() + timedelta(days=days) if days else None
        token = tokens.create_token(ctx, owner, name, scope=scope, teams=team_ids, expires_at=expires)
    console.print(token)


def _invalid(path: str, message: str) -> HealthgateError:
    from healthgate.errors import Invalid

    return Invalid(message, [FieldError(path, message)])


@tokens_app.command("list")
def tokens_list(user: Annotated[str, typer.Option(help="the owner's email address")],
                json_out: JsonOpt = False) -> None:
    """List a person's tokens (never the tokens themselves)."""
    with _system() as ctx:
        rows = [_token_dict(t) for t in tokens.list_tokens(ctx, _person(ctx, user))]
    if json_out:
        _print_json(rows)
        return
    table = RichTable("id", "name", "hint", "scope", "expires", "last used", "state")
    fmt: Callable[[Any], str] = lambda v: v.strftime("%Y-%m-%d %H:%M") if v else ""
    for r in rows:
        table.add_row(r["id"], r["name"], r["hint"] + "...", r["scope"], fmt(r["expires_at"]),
                      fmt(r["last_used_at"]), "revoked" if r["revoked_at"] else "live")
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[str, typer.Argument(help="the token's id (from tokens list)")]) -> None:
    """Revoke a token: it stops working at once."""
    import uuid

    try:
        parsed = uuid.UUID(token_id.strip())
    except ValueError:
        raise _fail_now(_invalid("token_id", "give the token's id (a UUID) as shown by tokens list")) from None
    with _system() as ctx:
        row = tokens.revoke_token(ctx, parsed)
        name = row.name
    console.print(f"revoked token {name!r} ({parsed})")


def _fail_now(exc: HealthgateError) -> typer.Exit:
    from healthgate.cli import _fail

    try:
        _fail(exc)
    except typer.Exit as done:
        return done
    return typer.Exit(code=1)
