"""Data use register operations: the only code that writes register entries.

Every operation takes a ``Context``, checks ``register:manage`` on the entry's custodian team (reads of
published entries are public), validates, writes, and records one audit event per change, in the caller's
transaction. ``register.bulk.upsert_many`` is the same create/update over many rows (an upload), all-or-nothing.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.catalogue.models import Dataset, DatasetVersion
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity import orcid as orcids
from healthgate.identity.models import Organisation, Team, User
from healthgate.identity.organisations import checked_ror
from healthgate.identity.permissions import Permission, require
from healthgate.register import fields as F
from healthgate.register import indexing
from healthgate.register.models import (
    RegisterEntry,
    RegisterEntryApplicant,
    RegisterEntryDataset,
    RegisterEntryOutput,
)

DRAFT, PUBLISHED, WITHDRAWN = "draft", "published", "withdrawn"
ORIGINS = ("application", "upload", "manual")
_DOI = re.compile(r"(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)", re.IGNORECASE)
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "zenodo.org")
MAX_TEXT = 20_000  # characters in any one field


@dataclass
class DatasetRef:
    name: str
    dataset_id: uuid.UUID | None = None  # a catalogue dataset, when matched (and confirmed)


@dataclass
class Applicant:
    name: str
    orcid: str | None = None


@dataclass
class Output:
    url: str
    kind: str = "link"  # paper | tool | code | link
    doi: str | None = None
    title: str | None = None


@dataclass
class EntryData:
    """One entry's fields as plain values (what a form, an upload row or an application gives)."""

    organisation_name: str
    project_title: str
    lay_summary: str
    public_benefit: str
    approval_date: date
    access_type: str
    datasets: list[DatasetRef]
    project_id: str | None = None
    organisation_ror: str | None = None
    organisation_sector: str | None = None
    applicants: list[Applicant] = field(default_factory=list)
    funders: list[str] = field(default_factory=list)
    accredited_researcher: str | None = None
    sublicence: str | None = None
    request_category: str | None = None
    technical_summary: str | None = None
    other_approvals: str | None = None
    project_start: date | None = None
    project_end: date | None = None
    sensitivity: str | None = None
    legal_basis: str | None = None
    lawful_condition: str | None = None
    confidentiality_duty: str | None = None
    opt_out_applied: str | None = None
    request_frequency: str | None = None
    linkage_description: str | None = None
    confidential_description: str | None = None
    access_date: date | None = None
    privacy_enhancements: str | None = None
    outputs: list[Output] = field(default_factory=list)

    def comparable(self) -> dict[str, Any]:
        """Everything an upload compares to decide whether a row changes an entry."""
        return asdict(self)


SCALARS = tuple(f.name for f in F.FIELDS if f.kind != "list" and f.name != "project_id") + ("project_id",)


# ---- checking -------------------------------------------------------------------------------------------


def output_of(url: str, title: str | None = None) -> Output:
    """An output link classified: a DOI is a paper, a code host is code, anything else a link."""
    url = url.strip()
    m = _DOI.fullmatch(url)
    if m:
        doi = m.group(1).rstrip(".,;")
        return Output(url=f"https://doi.org/{doi}", kind="paper", doi=doi.lower(), title=title)
    host = re.sub(r"^https?://(www\.)?", "", url.lower()).split("/", 1)[0]
    return Output(url=url, kind="code" if host in _CODE_HOSTS else "link", title=title)


def check(data: EntryData, *, drafting: bool = False) -> EntryData:
    """The entry with its values in canonical form (lookup spellings, ORCID and ROR forms), or ``Invalid``
    naming every field that is wrong (paths are field names; an upload prefixes its row and column).
    ``drafting``: a required field may still be empty (a draft from an application the custodian completes;
    ``publish`` checks the whole entry again and refuses an incomplete one)."""
    errors: list[FieldError] = []
    nul = _nul_paths(data.comparable(), "")
    if nul:  # no database stores NUL characters: refused before anything else is looked at
        raise Invalid("text cannot contain NUL characters", [FieldError(p, "contains a NUL character") for p in nul])
    for f in F.FIELDS:
        if f.kind == "list":
            continue
        value = getattr(data, f.name)
        if isinstance(value, str):
            value = value.strip() or None
            setattr(data, f.name, value)
        if value is None:
            if f.required and not drafting:
                errors.append(FieldError(f.name, f"{f.label} is required"))
            continue
        if f.kind == "date" and not isinstance(value, date):
            errors.append(FieldError(f.name, f"{f.label} must be a date"))
        elif f.kind == "text" and not isinstance(value, str):
            errors.append(FieldError(f.name, f"{f.label} must be text"))
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            errors.append(FieldError(f.name, f"{f.label} is longer than {MAX_TEXT:,} characters"))
        elif f.lookup and isinstance(value, str):
            canonical = F.canonical_value(f, value)
            if canonical is None:
                shown = "; ".join(o if len(o) < 40 else o[:37] + "..." for o in F.allowed(f))
                errors.append(FieldError(f.name, f"{value[:80]!r} is not one of: {shown}"))
            else:
                setattr(data, f.name, canonical)
    if data.organisation_ror:
        try:
            data.organisation_ror = checked_ror(data.organisation_ror, "organisation_ror")
        except Invalid as exc:
            errors.extend(exc.errors or [FieldError("organisation_ror", exc.detail)])
    for i, a in enumerate(data.applicants):
        if a.orcid:
            try:
                a.orcid = orcids.normalise(a.orcid, field=f"applicants[{i}].orcid")
            except Invalid as exc:
                errors.extend(exc.errors or [FieldError(f"applicants[{i}].orcid", exc.detail)])
    data.datasets = [d for d in data.datasets if d.name.strip() or d.dataset_id]
    if not data.datasets:
        errors.append(FieldError("datasets", "Dataset(s) name is required"))
    if data.project_start and data.project_end and data.project_end < data.project_start:
        errors.append(FieldError("project_end", "the project ends before it starts"))
    if errors:
        raise Invalid("the register entry is not valid", errors)
    return data


def _nul_paths(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nul_paths(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _nul_paths(v, f"{path}[{i}]")]
    return []


def is_complete(entry: RegisterEntry) -> bool:
    """Whether every required field is filled in (a draft from an application may not be yet)."""
    return all(getattr(entry, f.name) not in (None, "") for f in F.REQUIRED if f.kind != "list")


# ---- writes ---------------------------------------------------------------------------------------------


def _lists(session: Session, entry: RegisterEntry, data: EntryData) -> None:
    for model in (RegisterEntryDataset, RegisterEntryApplicant, RegisterEntryOutput):
        for row in session.scalars(select(model).where(model.entry_id == entry.id)):
            session.delete(row)
    session.flush()
    for i, d in enumerate(data.datasets):
        session.add(RegisterEntryDataset(entry_id=entry.id, position=i, name=d.name.strip(), dataset_id=d.dataset_id))
    orcids_known = [a.orcid for a in data.applicants if a.orcid]
    users_by_orcid = {o: u for o, u in session.execute(
        select(User.orcid, User.id).where(User.orcid.in_(orcids_known)))} if orcids_known else {}
    for i, a in enumerate(data.applicants):
        session.add(RegisterEntryApplicant(entry_id=entry.id, position=i, name=a.name.strip(), orcid=a.orcid,
                                           user_id=users_by_orcid.get(a.orcid) if a.orcid else None))
    for i, o in enumerate(data.outputs):
        session.add(RegisterEntryOutput(entry_id=entry.id, position=i, kind=o.kind, url=o.url, doi=o.doi,
                                        title=o.title))


def _link_organisation(session: Session, entry: RegisterEntry) -> None:
    """Point the entry at the organisation registry by its ROR id (organisation pages find their projects by
    it). A name alone is not an identifier: an entry without a known ROR id stays a name."""
    org_id = None
    if entry.organisation_ror:
        org_id = session.scalar(select(Organisation.id).where(Organisation.ror_id == entry.organisation_ror))
    entry.organisation_id = org_id


def _apply(entry: RegisterEntry, data: EntryData) -> None:
    for name in SCALARS:
        value = getattr(data, name)
        if value is None and F.BY_NAME[name].required and F.BY_NAME[name].kind == "text":
            value = ""  # an incomplete draft: stored empty, refused by publish until filled in
        setattr(entry, name, value)
    entry.funders = list(data.funders)


def create(ctx: Context, team_id: uuid.UUID, data: EntryData, *, origin: str = "manual",
           application_id: uuid.UUID | None = None) -> RegisterEntry:
    """A new draft entry of ``team_id``'s register."""
    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)
    return insert_draft(ctx, team_id, data, origin=origin, application_id=application_id)


def insert_draft(ctx: Context, team_id: uuid.UUID, data: EntryData, *, origin: str,
                 application_id: uuid.UUID | None = None, drafting: bool = False) -> RegisterEntry:
    """``create`` without its permission check, for a caller that has checked its own: an application's
    approval (``register.applications``) drafts the entry as part of the custodian's decision. A draft is
    never public, so nothing is published by this. ``drafting``: required fields may be left empty."""
    data = check(data, drafting=drafting)
    if origin not in ORIGINS:
        raise Invalid("unknown origin", [FieldError("origin", f"one of {', '.join(ORIGINS)}")])
    if data.project_id and ctx.session.scalar(select(RegisterEntry.id).where(
            RegisterEntry.team_id == team_id, RegisterEntry.project_id == data.project_id)):
        raise Conflict(f"the register already has project {data.project_id!r}",
                       [FieldError("project_id", "already used by another entry of this register")])
    now = ctx.clock.now()
    entry = RegisterEntry(id=uuid.uuid4(), team_id=team_id, status=DRAFT, origin=origin,
                          application_id=application_id, created_at=now, updated_at=now, row_version=1)
    _apply(entry, data)
    _link_organisation(ctx.session, entry)
    ctx.session.add(entry)
    ctx.session.flush()
    _lists(ctx.session, entry, data)
    ctx.session.flush()
    audit.record(ctx, "register_entry.created", "register_entry", entry.id,
                 {"team_id": str(team_id), "origin": origin, "project_id": data.project_id,
                  **({"application_id": str(application_id)} if application_id else {})}, at=now)
    return entry


def _load(ctx: Context, entry_id: uuid.UUID, *, for_update: bool = False) -> RegisterEntry:
    stmt = select(RegisterEntry).where(RegisterEntry.id == entry_id)
    entry = ctx.session.scalar(stmt.with_for_update() if for_update else stmt)
    if entry is None:
        raise NotFound("no such register entry")
    return entry


def _check_version(entry: RegisterEntry, expected: int | None) -> None:
    if expected is not None and expected != entry.row_version:
        raise Conflict("someone else changed this entry; read it again and retry",
                       [FieldError("row_version", f"is {entry.row_version}, not {expected}")])


def _writable(ctx: Context, entry_id: uuid.UUID, expected: int | None) -> RegisterEntry:
    indexing.lock(ctx.session)  # the index lock before any row lock: one order for every index writer
    entry = _load(ctx, entry_id, for_update=True)
    if not ctx.actor.can(Permission.REGISTER_MANAGE, on=entry.team_id) and entry.status != PUBLISHED:
        raise NotFound("no such register entry")  # a stranger cannot tell a draft exists
    require(ctx.actor, Permission.REGISTER_MANAGE, on=entry.team_id)
    _check_version(entry, expected)
    return entry


def update(ctx: Context, entry_id: uuid.UUID, data: EntryData, *, expected_version: int | None = None
           ) -> RegisterEntry:
    """Replace an entry's fields (a published entry stays published, its new text public at once)."""
    entry = _writable(ctx, entry_id, expected_version)
    data = check(data)
    if data.project_id and data.project_id != entry.project_id and ctx.session.scalar(
            select(RegisterEntry.id).where(RegisterEntry.team_id == entry.team_id,
                                           RegisterEntry.project_id == data.project_id)):
        raise Conflict(f"the register already has project {data.project_id!r}",
                       [FieldError("project_id", "already used by another entry of this register")])
    before = entry_data(ctx.session, entry).comparable()
    if before == data.comparable():
        return entry
    now = ctx.clock.now()
    _apply(entry, data)
    _link_organisation(ctx.session, entry)
    _lists(ctx.session, entry, data)
    entry.updated_at = now
    entry.row_version += 1
    ctx.session.flush()
    indexing.changed(ctx.session, entry)
    changed = sorted(k for k, v in data.comparable().items() if before.get(k) != v)
    audit.record(ctx, "register_entry.updated", "register_entry", entry.id, {"fields": changed}, at=now)
    return entry


def _set_status(ctx: Context, entry_id: uuid.UUID, status: str, action: str, expected: int | None
                ) -> RegisterEntry:
    entry = _writable(ctx, entry_id, expected)
    if entry.status == status:
        raise Conflict(f"the entry is already {status}")
    if status == PUBLISHED:
        try:
            check(entry_data(ctx.session, entry))
        except Invalid as exc:
            raise Invalid("complete the entry before publishing it", exc.errors) from None
    now = ctx.clock.now()
    entry.status = status
    if status == PUBLISHED:
        entry.published_at = entry.published_at or now
    entry.updated_at = now
    entry.row_version += 1
    ctx.session.flush()
    indexing.changed(ctx.session, entry)
    audit.record(ctx, action, "register_entry", entry.id, {"team_id": str(entry.team_id)}, at=now)
    return entry


def publish(ctx: Context, entry_id: uuid.UUID, *, expected_version: int | None = None) -> RegisterEntry:
    """Make an entry public (a draft, or a withdrawn entry again)."""
    return _set_status(ctx, entry_id, PUBLISHED, "register_entry.published", expected_version)


def withdraw(ctx: Context, entry_id: uuid.UUID, *, expected_version: int | None = None) -> RegisterEntry:
    """Take an entry off the public register (it is kept, and can be published again)."""
    return _set_status(ctx, entry_id, WITHDRAWN, "register_entry.withdrawn", expected_version)


# ---- reads ----------------------------------------------------------------------------------------------


def require_manager(ctx: Context, team_id: uuid.UUID) -> None:
    """Forbidden unless the actor manages ``team_id``'s register (a page asks before showing a blank form)."""
    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)


def dataset_choices(ctx: Context, team_id: uuid.UUID, *, also: Sequence[uuid.UUID] = ()) -> dict[str, str]:
    """Catalogue datasets an entry of ``team_id`` may link to (id -> title of the latest published version):
    the team's published datasets, plus ``also`` (datasets an entry already links to), by title."""
    latest = (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.latest_version)
    stmt = select(Dataset.id, DatasetVersion.title).join(DatasetVersion, latest)
    rows = list(ctx.session.execute(stmt.where(Dataset.team_id == team_id)))
    if also:
        rows += list(ctx.session.execute(stmt.where(Dataset.id.in_(list(also)))))
    return {str(i): t for i, t in sorted(set(rows), key=lambda r: (r[1].casefold(), str(r[0])))}


def can_manage(ctx: Context, entry: RegisterEntry) -> bool:
    return ctx.actor.can(Permission.REGISTER_MANAGE, on=entry.team_id)


def get(ctx: Context, entry_id: uuid.UUID) -> RegisterEntry:
    """A published entry for anyone; a draft or withdrawn one for its team only (404 for others)."""
    entry = _load(ctx, entry_id)
    if entry.status != PUBLISHED and not can_manage(ctx, entry):
        raise NotFound("no such register entry")
    return entry


@dataclass(frozen=True)
class EntryView:
    """An entry as one reader sees it: its fields, its custodian team, and whether the reader manages it."""

    entry: RegisterEntry
    data: EntryData
    team: Team
    manager: bool


def view(ctx: Context, entry_id: uuid.UUID) -> EntryView:
    """``get`` with everything a page or the API shows (404 as ``get``)."""
    entry = get(ctx, entry_id)
    team = ctx.session.get(Team, entry.team_id)
    assert team is not None  # a foreign key
    return EntryView(entry=entry, data=entry_data(ctx.session, entry), team=team, manager=can_manage(ctx, entry))


def view_of(ctx: Context, entry: RegisterEntry) -> EntryView:
    team = ctx.session.get(Team, entry.team_id)
    assert team is not None
    return EntryView(entry=entry, data=entry_data(ctx.session, entry), team=team, manager=can_manage(ctx, entry))


def entry_data(session: Session, entry: RegisterEntry) -> EntryData:
    """An entry's fields back as ``EntryData`` (what export writes and upload compares)."""
    values: dict[str, Any] = {name: getattr(entry, name) for name in SCALARS}
    datasets = [DatasetRef(r.name, r.dataset_id) for r in session.scalars(
        select(RegisterEntryDataset).where(RegisterEntryDataset.entry_id == entry.id)
        .order_by(RegisterEntryDataset.position))]
    applicants = [Applicant(r.name, r.orcid) for r in session.scalars(
        select(RegisterEntryApplicant).where(RegisterEntryApplicant.entry_id == entry.id)
        .order_by(RegisterEntryApplicant.position))]
    outputs = [Output(r.url, r.kind, r.doi, r.title) for r in session.scalars(
        select(RegisterEntryOutput).where(RegisterEntryOutput.entry_id == entry.id)
        .order_by(RegisterEntryOutput.position))]
    return EntryData(**values, datasets=datasets, applicants=applicants, outputs=outputs,
                     funders=list(entry.funders or []))


def team_entries(ctx: Context, team_id: uuid.UUID, *, status: str | None = None, origin: str | None = None
                 ) -> list[RegisterEntry]:
    """Every entry of a team's register (its managers only), newest approval first."""
    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)
    stmt = select(RegisterEntry).where(RegisterEntry.team_id == team_id)
    if status:
        stmt = stmt.where(RegisterEntry.status == status)
    if origin:
        stmt = stmt.where(RegisterEntry.origin == origin)
    return list(ctx.session.scalars(stmt.order_by(RegisterEntry.approval_date.desc(), RegisterEntry.id)))


def by_project_ids(session: Session, team_id: uuid.UUID, project_ids: Sequence[str]) -> Mapping[str, RegisterEntry]:
    if not project_ids:
        return {}
    rows = session.scalars(select(RegisterEntry).where(RegisterEntry.team_id == team_id,
                                                       RegisterEntry.project_id.in_(list(project_ids))))
    return {r.project_id: r for r in rows if r.project_id}


def last_updated(session: Session, team_id: uuid.UUID) -> datetime | None:
    """When the team's register last changed (an entry created, updated, published or withdrawn)."""
    from sqlalchemy import func

    return session.scalar(select(func.max(RegisterEntry.updated_at)).where(RegisterEntry.team_id == team_id))
