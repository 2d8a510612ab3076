"""Organisations: the shared registry of research and innovation organisations, identified by their ROR ids.

Anyone may read the registry; creating, editing and merging organisations needs ``organisation:manage`` (an
alliance admin). A merged duplicate keeps its row, pointing at the organisation it was merged into, and every
link to it (teams, people's affiliations, anything else that references ``organisations.id``) moves over."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import pycountry
from sqlalchemy import Column, CursorResult, Table, func, or_, select, update
from stdnum.iso7064 import mod_97_10

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.models import Organisation, Team
from healthgate.identity.permissions import Permission, require
from healthgate.identity.service import name_key, slugify

# The sectors of the HDR UK Data Use Register ("Organisation sector"), in its order (the API's type, and as text).
SectorName = Literal[
    "Academic Institute",
    "CQC Registered Health or/and Social Care provider",
    "Independent Sector Organisation",
    "Government Agency (Health and Adult Social Care)",
    "Commercial",
    "Local Authority",
    "Government Agency (Other)",
]
SECTORS: tuple[str, ...] = get_args(SectorName)
_SECTOR_KEYS = {name_key(s): s for s in SECTORS}

# Crockford base32 as ROR writes it: lower case, without i, l, o and u.
CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
ROR_PREFIXES = ("https://ror.org/", "http://ror.org/", "ror.org/")


def checked_ror(value: str, path: str = "ror_id") -> str:
    """A ROR id in its canonical 9-character form (``052gg0110``), from that form or the ``https://ror.org/``
    URL. Refused with a message naming the part that is wrong: the leading ``0``, a character outside
    Crockford base32, the length, the check digits' form, or the check digits themselves (ISO 7064 MOD 97-10
    over the decoded first seven characters)."""
    raw = (value or "").strip()
    for prefix in ROR_PREFIXES:
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix):]
            break
    ror = raw.lower()

    def bad(message: str) -> Invalid:
        return Invalid(f"not a valid ROR id: {value[:40]!r}", [FieldError(path, message)])

    if not ror:
        raise bad("give a ROR id like 052gg0110")
    if len(ror) != 9:
        raise bad(f"a ROR id is 9 characters (0, 6 base32 characters, 2 check digits); this has {len(ror)}")
    if ror[0] != "0":
        raise bad("a ROR id starts with 0")
    body, check = ror[1:7], ror[7:]
    wrong = [c for c in body if c not in CROCKFORD]
    if wrong:
        raise bad(f"characters 2 to 7 are Crockford base32 (digits and letters except i, l, o, u); "
                  f"{wrong[0]!r} is not")
    if not check.isdigit():
        raise bad("the last 2 characters are the check digits (0-9)")
    number = 0
    for c in ror[:7]:
        number = number * 32 + CROCKFORD.index(c)
    expected = mod_97_10.calc_check_digits(str(number))
    if check != expected:
        raise bad(f"the check digits are wrong: {check} does not match the rest of the id (ISO 7064 MOD 97-10)")
    return ror


def checked_sector(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    sector = _SECTOR_KEYS.get(name_key(value))
    if sector is None:
        raise Invalid("unknown sector", [FieldError("sector", "one of: " + "; ".join(SECTORS))])
    return sector


def checked_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 country code (``GB``), upper case."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise Invalid("not a country code", [FieldError("country", "give an ISO 3166-1 alpha-2 code like GB")])
    if pycountry.countries.get(alpha_2=code) is None:
        raise Invalid("unknown country", [FieldError("country", f"{code} is not an ISO 3166-1 alpha-2 code")])
    return code


def country_name(code: str | None) -> str | None:
    country = pycountry.countries.get(alpha_2=code) if code else None
    return country.name if country is not None else None


def _checked_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 300 or any(not c.isprintable() for c in name):
        raise Invalid("an organisation needs a name",
                      [FieldError("name", "a name is 1 to 300 characters of text (no control characters)")])
    return name


def _checked_website(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    url = value.strip()
    if not url.startswith(("https://", "http://")) or len(url) > 500 or any(c.isspace() for c in url):
        raise Invalid("not a web address", [FieldError("website", "give an http(s) address, at most 500 "
                                                                  "characters")])
    return url


def _unique_slug(ctx: Context, name: str) -> str:
    base = slugify(name) if slugify(name) != "team" else "organisation"
    taken = set(ctx.session.scalars(select(Organisation.slug).where(
        Organisation.slug.startswith(base, autoescape=True))))
    n = 1
    while (slug := base if n == 1 else f"{base}-{n}") in taken:
        n += 1
    return slug


def create_organisation(ctx: Context, name: str, *, ror_id: str | None = None, sector: str | None = None,
                        country: str | None = None, website: str | None = None) -> Organisation:
    """A new organisation. Needs ``organisation:manage``. Its ROR id, if given, must be valid and unused."""
    require(ctx.actor, Permission.ORGANISATION_MANAGE)
    errors: list[FieldError] = []
    values: dict[str, str | None] = {}
    checks: list[tuple[str, Callable[[str], str | None], str | None]] = [
        ("name", _checked_name, name), ("ror_id", checked_ror, ror_id), ("sector", checked_sector, sector),
        ("country", checked_country, country), ("website", _checked_website, website)]
    for field, check, value in checks:
        if value is None and field != "name":
            values[field] = None
            continue
        try:
            values[field] = check(value or "")
        except Invalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise Invalid("the organisation is not valid", errors)
    ror = values["ror_id"]
    if ror is not None:
        holder = ctx.session.scalar(select(Organisation).where(Organisation.ror_id == ror))
        if holder is not None:
            raise Conflict("another organisation has this ROR id",
                           [FieldError("ror_id", f"{ror} is {holder.name} ({holder.id})")])
    clean_name = values["name"]
    assert clean_name is not None
    org = Organisation(slug=_unique_slug(ctx, clean_name), name=clean_name, name_key=name_key(clean_name),
                       ror_id=ror, sector=values["sector"], country=values["country"], website=values["website"],
                       created_at=ctx.now())
    ctx.session.add(org)
    ctx.session.flush()
    audit.record(ctx, "organisation.created", "organisation", org.id,
                 {k: v for k, v in values.items() if v is not None}, at=ctx.now(), new=True)
    return org


def get_organisation(ctx: Context, ref: str | uuid.UUID) -> Organisation:
    """The organisation ``ref`` names: its id, its ROR id (or ROR URL), or its slug. Organisations are public."""
    org: Organisation | None = None
    if isinstance(ref, uuid.UUID):
        org = ctx.session.get(Organisation, ref)
    else:
        text = ref.strip()
        try:
            org = ctx.session.get(Organisation, uuid.UUID(text))
        except ValueError:
            try:
                org = ctx.session.scalar(select(Organisation).where(Organisation.ror_id == checked_ror(text)))
            except Invalid:
                org = None
            org = org or ctx.session.scalar(select(Organisation).where(Organisation.slug == text))
    if org is None:
        raise NotFound(f"no organisation {str(ref)[:100]!r}",
                       [FieldError("organisation", "no organisation with this id, ROR id or slug")])
    return org


def current(ctx: Context, org: Organisation) -> Organisation:
    """The organisation a merged duplicate now lives on as (itself when it was never merged)."""
    seen = {org.id}
    while org.merged_into_id is not None:
        nxt = ctx.session.get(Organisation, org.merged_into_id)
        if nxt is None or nxt.id in seen:
            break
        seen.add(nxt.id)
        org = nxt
    return org


@dataclass(frozen=True)
class OrganisationPage:
    items: list[Organisation]
    total: int
    page: int
    per_page: int


def list_organisations(ctx: Context, *, q: str | None = None, page: int = 1, per_page: int = 20,
                       include_merged: bool = False) -> OrganisationPage:
    """Organisations by name, optionally those whose name contains ``q`` (or whose ROR id is ``q``)."""
    query = select(Organisation)
    if not include_merged:
        query = query.where(Organisation.merged_into_id.is_(None))
    if q and q.strip():
        key = name_key(q)
        query = query.where(or_(Organisation.name_key.contains(key, autoescape=True),
                                Organisation.ror_id == key))
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(ctx.session.scalars(query.order_by(Organisation.name_key, Organisation.id)
                                     .limit(per_page).offset((page - 1) * per_page)))
    return OrganisationPage(items, total, page, per_page)


def teams_of(ctx: Context, org: Organisation) -> list[Team]:
    return list(ctx.session.scalars(select(Team).where(Team.organisation_id == org.id).order_by(Team.name_key)))


def _references() -> list[tuple[Table, Column[Any]]]:
    """Every (table, column) that references ``organisations.id``, except a merged row's own pointer: merging
    moves all of them, so a table added later keeps its links without touching this code."""
    from healthgate import models_registry  # noqa: F401  (every domain's tables)
    from healthgate.db import Base

    refs: list[tuple[Table, Column[Any]]] = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "organisations" and fk.column.name == "id" and \
                    not (table.name == "organisations" and fk.parent.name == "merged_into_id"):
                refs.append((table, fk.parent))
    return refs


def merge(ctx: Context, duplicate: Organisation, into: Organisation) -> Organisation:
    """Merge ``duplicate`` into ``into``: every link to the duplicate (teams, affiliations, ...) moves to
    ``into``, which also takes the duplicate's ROR id, sector, country and website where it has none. The
    duplicate keeps its row, marked merged. Needs ``organisation:manage``."""
    require(ctx.actor, Permission.ORGANISATION_MANAGE)
    if duplicate.id == into.id:
        raise Invalid("an organisation cannot be merged into itself",
                      [FieldError("into", "choose another organisation")])
    if duplicate.merged_into_id is not None:
        raise Conflict("already merged", [FieldError("organisation", f"{duplicate.name} was already merged")])
    if into.merged_into_id is not None:
        raise Conflict("cannot merge into a merged organisation",
                       [FieldError("into", f"{into.name} was itself merged; merge into what it became")])
    now = ctx.now()
    moved: dict[str, int] = {}
    for table, column in _references():
        result = cast(CursorResult[Any], ctx.session.execute(
            update(table).where(column == duplicate.id).values({column.name: into.id})))
        if result.rowcount:
            moved[f"{table.name}.{column.name}"] = result.rowcount
    # organisations merged into the duplicate earlier now point at the survivor directly
    ctx.session.execute(update(Organisation).where(Organisation.merged_into_id == duplicate.id)
                        .values(merged_into_id=into.id))
    taken: dict[str, str] = {}
    ror = duplicate.ror_id
    if ror is not None:
        duplicate.ror_id = None
        ctx.session.flush()  # the unique ROR id is free before the survivor takes it
        if into.ror_id is None:
            into.ror_id = ror
            taken["ror_id"] = ror
    for field in ("sector", "country", "website"):
        if getattr(into, field) is None and getattr(duplicate, field) is not None:
            setattr(into, field, getattr(duplicate, field))
            taken[field] = getattr(duplicate, field)
    duplicate.merged_into_id = into.id
    duplicate.merged_at = now
    ctx.session.flush()
    ctx.session.expire_all()  # relationships loaded before the bulk updates are stale
    audit.record(ctx, "organisation.merged", "organisation", duplicate.id,
                 {"into": str(into.id), "ror_id": ror, "moved": moved}, at=now)
    audit.record(ctx, "organisation.absorbed", "organisation", into.id,
                 {"duplicate": str(duplicate.id), "took": taken, "moved": moved}, at=now)
    merged = ctx.session.get(Organisation, into.id)
    assert merged is not None
    return merged


def set_team_organisation(ctx: Context, team: Team, org: Organisation | None) -> Team:
    """Say which organisation a team belongs to. Needs ``team:create`` (an alliance admin)."""
    require(ctx.actor, Permission.TEAM_CREATE)
    if org is not None:
        org = current(ctx, org)
    team.organisation_id = org.id if org is not None else None
    ctx.session.flush()
    audit.record(ctx, "team.organisation_set", "team", team.id,
                 {"organisation": str(org.id) if org is not None else None}, at=ctx.now())
    return team


def organisations_for_teams(ctx: Context, *, country: str | None = "GB") -> int:
    """Give every team without an organisation one of its own name (reusing an organisation of that name):
    the demo's custodians become organisations with teams. Returns how many teams were linked."""
    require(ctx.actor, Permission.ORGANISATION_MANAGE)
    linked = 0
    for team in ctx.session.scalars(select(Team).where(Team.organisation_id.is_(None)).order_by(Team.name_key)):
        org = ctx.session.scalar(select(Organisation).where(Organisation.name_key == team.name_key,
                                                            Organisation.merged_into_id.is_(None)))
        if org is None:
            org = create_organisation(ctx, team.name, country=country)
        set_team_organisation(ctx, team, org)
        linked += 1
    return linked
