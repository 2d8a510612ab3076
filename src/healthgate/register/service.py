"""Data use register operations: the only code that writes register entries.

Every operation takes a ``Context``, checks ``register:manage`` on the entry's custodian team (reads of
published entries are public), validates, writes, and records one audit event per change, in the caller's
transaction. ``upsert_many`` is the same create/update over many rows (an upload), all-or-nothing.
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
from healthgate.identity.service import name_key
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
    """Point the entry at the organisation registry: by ROR id, else by the exact name (NFKC, case and spacing
    aside). Organisation pages find their projects by it; an unknown organisation stays a name."""
    org_id = None
    if entry.organisation_ror:
        org_id = session.scalar(select(Organisation.id).where(Organisation.ror_id == entry.organisation_ror))
    if org_id is None and entry.organisation_name:
        org_id = session.scalar(select(Organisation.id).where(
            Organisation.name_key == name_key(entry.organisation_name)).order_by(Organisation.created_at).limit(1))
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


# ---- bulk: an uploaded register -------------------------------------------------------------------------
# The same create / update / publish as above over many entries at once (a register upload): one permission
# check, the same ``check`` of every entry, the same project-id rule, one audit event per change, the search
# index told of every published entry; written with a few statements per thousand entries, not per entry.

BULK_CHUNK = 1_000


class InvalidItems(Invalid):
    """Some of the entries given to ``upsert_many`` are not valid: ``by_item`` lists (index, error) pairs."""

    def __init__(self, by_item: list[tuple[int, FieldError]]):
        super().__init__(f"{len({i for i, _ in by_item})} of the entries are not valid",
                         [FieldError(f"[{i}].{e.path}", e.message) for i, e in by_item])
        self.by_item = by_item


@dataclass
class Planned:
    """What ``upsert_many`` does (or would do) with one entry given."""

    index: int
    action: str  # create | update | unchanged
    entry_id: uuid.UUID
    status: str  # the entry's status afterwards
    changed: list[str] = field(default_factory=list)  # the fields an update changes
    publish: bool = False  # the upload publishes it (a new entry, or a draft)
    matched_by: str | None = None  # project_id | natural key (title, organisation, approval date)


@dataclass
class BulkResult:
    items: list[Planned]
    applied: bool

    def counts(self) -> dict[str, int]:
        out = {"rows": len(self.items), "created": 0, "updated": 0, "unchanged": 0, "published": 0}
        for p in self.items:
            out[{"create": "created", "update": "updated", "unchanged": "unchanged"}[p.action]] += 1
            out["published"] += int(p.publish)
        return out


def _natural_key(title: str, organisation: str, approved: date) -> tuple[str, str, date]:
    return (" ".join(title.split()).casefold(), " ".join(organisation.split()).casefold(), approved)


def _chunks(seq: Sequence[Any], size: int = BULK_CHUNK) -> list[Sequence[Any]]:
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def _data_many(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[EntryData, str]]:
    """Entries' fields and status, read a chunk at a time (what ``entry_data`` gives for one)."""
    out: dict[uuid.UUID, tuple[EntryData, str]] = {}
    table = RegisterEntry.__table__
    for chunk in _chunks(list(ids)):
        scalars = {r.id: r for r in session.execute(select(table).where(table.c.id.in_(chunk)))}
        datasets: dict[uuid.UUID, list[DatasetRef]] = {i: [] for i in chunk}
        applicants: dict[uuid.UUID, list[Applicant]] = {i: [] for i in chunk}
        outputs: dict[uuid.UUID, list[Output]] = {i: [] for i in chunk}
        for d in session.execute(select(RegisterEntryDataset.__table__).where(
                RegisterEntryDataset.entry_id.in_(chunk)).order_by("entry_id", "position")):
            datasets[d.entry_id].append(DatasetRef(d.name, d.dataset_id))
        for a in session.execute(select(RegisterEntryApplicant.__table__).where(
                RegisterEntryApplicant.entry_id.in_(chunk)).order_by("entry_id", "position")):
            applicants[a.entry_id].append(Applicant(a.name, a.orcid))
        for o in session.execute(select(RegisterEntryOutput.__table__).where(
                RegisterEntryOutput.entry_id.in_(chunk)).order_by("entry_id", "position")):
            outputs[o.entry_id].append(Output(o.url, o.kind, o.doi, o.title))
        for entry_id, r in scalars.items():
            values = {name: getattr(r, name) for name in SCALARS}
            out[entry_id] = (EntryData(**values, datasets=datasets[entry_id], applicants=applicants[entry_id],
                                       outputs=outputs[entry_id], funders=list(r.funders or [])), r.status)
    return out


def plan_many(ctx: Context, team_id: uuid.UUID, items: Sequence[EntryData], *, publish: bool = True
              ) -> list[Planned]:
    """What ``upsert_many`` would do with ``items`` (checked in place), or InvalidItems naming every problem.

    An item with a project id updates the team's entry with that id, or creates one. An item without one updates
    the team's one entry without a project id that has the same project title, organisation name and latest
    approval date (an earlier upload of the same row), or creates one. Two items may not name the same entry."""
    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)
    errors: list[tuple[int, FieldError]] = []
    for i, data in enumerate(items):
        try:
            check(data)
        except Invalid as exc:
            errors.extend((i, e) for e in exc.errors)
    seen_ids: dict[str, int] = {}
    seen_keys: dict[tuple[str, str, date], int] = {}
    for i, data in enumerate(items):
        if data.project_id:
            if data.project_id in seen_ids:
                errors.append((i, FieldError("project_id", f"{data.project_id!r} is also the project id of "
                                                           f"entry {seen_ids[data.project_id] + 1} of this file")))
            seen_ids.setdefault(data.project_id, i)
        elif data.project_title and data.organisation_name and isinstance(data.approval_date, date):
            key = _natural_key(data.project_title, data.organisation_name, data.approval_date)
            if key in seen_keys:
                errors.append((i, FieldError("project_id", f"the same project, organisation and approval date as "
                                                           f"entry {seen_keys[key] + 1} of this file: give each a "
                                                           "project id")))
            seen_keys.setdefault(key, i)
    if errors:
        raise InvalidItems(sorted(errors, key=lambda e: e[0]))
    table = RegisterEntry.__table__
    by_project: dict[str, uuid.UUID] = {}
    for chunk in _chunks(list(seen_ids)):
        for r in ctx.session.execute(select(table.c.id, table.c.project_id).where(
                table.c.team_id == team_id, table.c.project_id.in_(chunk))):
            by_project[r.project_id] = r.id
    by_key: dict[tuple[str, str, date], list[uuid.UUID]] = {}
    if seen_keys:
        for n in ctx.session.execute(select(table.c.id, table.c.project_title, table.c.organisation_name,
                                            table.c.approval_date).where(table.c.team_id == team_id,
                                                                         table.c.project_id.is_(None))):
            by_key.setdefault(_natural_key(n.project_title, n.organisation_name, n.approval_date), []).append(n.id)
    targets: dict[int, tuple[uuid.UUID, str]] = {}
    for i, data in enumerate(items):
        if data.project_id and data.project_id in by_project:
            targets[i] = (by_project[data.project_id], "project_id")
        elif not data.project_id:
            found = by_key.get(_natural_key(data.project_title, data.organisation_name, data.approval_date), [])
            if len(found) == 1:
                targets[i] = (found[0], "natural key")
    existing = _data_many(ctx.session, [t for t, _ in targets.values()])
    plan: list[Planned] = []
    for i, data in enumerate(items):
        if i not in targets:
            plan.append(Planned(i, "create", uuid.uuid4(), PUBLISHED if publish else DRAFT, publish=publish))
            continue
        entry_id, how = targets[i]
        before, status = existing[entry_id]
        if how == "natural key":
            data.project_id = None
        old, new = before.comparable(), data.comparable()
        changed = sorted(k for k, v in new.items() if old.get(k) != v)
        goes_public = publish and status == DRAFT
        plan.append(Planned(i, "update" if changed else "unchanged", entry_id,
                            PUBLISHED if goes_public else status, changed, goes_public, how))
    return plan


def _index_entries(session: Session, ids: Sequence[uuid.UUID]) -> None:
    """Tell the search index of these entries (as ``create``/``update``/``publish`` do, a chunk at a time)."""
    many = getattr(indexing, "index_many", None)
    for chunk in _chunks(list(ids)):
        entries = list(session.scalars(select(RegisterEntry).where(RegisterEntry.id.in_(chunk))
                                       .execution_options(populate_existing=True)))
        if many is not None:
            many(session, entries)
        else:
            for entry in entries:
                indexing.changed(session, entry)


def upsert_many(ctx: Context, team_id: uuid.UUID, items: Sequence[EntryData], *, publish: bool = True,
                origin: str = "upload", dry_run: bool = False) -> BulkResult:
    """Create or update many entries of ``team_id``'s register at once, all or nothing (``plan_many`` says
    how each is matched). ``publish``: new entries, and drafts the items update or repeat, are published at once
    (withdrawn entries stay withdrawn). ``dry_run``: check and plan only, write nothing."""
    if origin not in ORIGINS:
        raise Invalid("unknown origin", [FieldError("origin", f"one of {', '.join(ORIGINS)}")])
    plan = plan_many(ctx, team_id, items, publish=publish)
    if dry_run:
        return BulkResult(plan, applied=False)
    from sqlalchemy import delete, insert, update

    now = ctx.clock.now()
    session = ctx.session
    creates = [p for p in plan if p.action == "create"]
    updates = [p for p in plan if p.action == "update"]
    publishes = [p for p in plan if p.publish and p.action != "create"]
    for chunk in _chunks(creates):
        session.execute(insert(RegisterEntry), [
            {"id": p.entry_id, "team_id": team_id, "status": p.status, "origin": origin, "application_id": None,
             **{name: getattr(items[p.index], name) for name in SCALARS}, "funders": list(items[p.index].funders),
             "created_at": now, "updated_at": now, "published_at": now if p.status == PUBLISHED else None,
             "row_version": 1} for p in chunk])
    if updates or publishes:
        versions: dict[uuid.UUID, int] = {}
        for chunk in _chunks([p.entry_id for p in [*updates, *publishes]]):
            versions.update(session.execute(select(RegisterEntry.id, RegisterEntry.row_version).where(
                RegisterEntry.id.in_(chunk))).all())
        rows: dict[uuid.UUID, dict[str, Any]] = {}
        for p in updates:
            data = items[p.index]
            rows[p.entry_id] = {"id": p.entry_id, **{name: getattr(data, name) for name in SCALARS},
                                "funders": list(data.funders), "updated_at": now}
        for p in publishes:
            row = rows.setdefault(p.entry_id, {"id": p.entry_id, "updated_at": now})
            row["status"] = PUBLISHED
            row["published_at"] = now
        for entry_id, row in rows.items():
            row["row_version"] = versions[entry_id] + 1
        groups: dict[frozenset[str], list[dict[str, Any]]] = {}
        for row in rows.values():
            groups.setdefault(frozenset(row), []).append(row)
        for group in groups.values():
            for chunk in _chunks(group):
                session.execute(update(RegisterEntry), list(chunk))
        for model in (RegisterEntryDataset, RegisterEntryApplicant, RegisterEntryOutput):
            for chunk in _chunks([p.entry_id for p in updates]):
                session.execute(delete(model).where(model.entry_id.in_(chunk)))
    written = [*creates, *updates]
    for model, rows_of in (
        (RegisterEntryDataset, lambda d, e: [{"entry_id": e, "position": i, "name": x.name.strip(),
                                              "dataset_id": x.dataset_id} for i, x in enumerate(d.datasets)]),
        (RegisterEntryApplicant, lambda d, e: [{"entry_id": e, "position": i, "name": x.name.strip(),
                                                "orcid": x.orcid, "user_id": None}
                                               for i, x in enumerate(d.applicants)]),
        (RegisterEntryOutput, lambda d, e: [{"entry_id": e, "position": i, "kind": x.kind, "url": x.url,
                                             "doi": x.doi, "title": x.title} for i, x in enumerate(d.outputs)]),
    ):
        children = [row for p in written for row in rows_of(items[p.index], p.entry_id)]
        for chunk in _chunks(children, 5 * BULK_CHUNK):
            session.execute(insert(model), list(chunk))
    audit.record_new_many(ctx, "register_entry.created", "register_entry", [
        (p.entry_id, {"team_id": str(team_id), "origin": origin, "project_id": items[p.index].project_id})
        for p in creates], at=now)
    audit.record_new_many(ctx, "register_entry.updated", "register_entry", [
        (p.entry_id, {"fields": p.changed}) for p in updates], at=now)
    audit.record_new_many(ctx, "register_entry.published", "register_entry", [
        (p.entry_id, {"team_id": str(team_id)}) for p in plan if p.publish], at=now)
    session.flush()
    _index_entries(session, [p.entry_id for p in plan if p.status == PUBLISHED and (p.action != "unchanged"
                                                                                      or p.publish)])
    return BulkResult(plan, applied=True)


def record_upload(ctx: Context, team_id: uuid.UUID, *, filename: str, format: str, sha256: str,
                  counts: Mapping[str, int]) -> Any:
    """Keep a record of an applied register file (who, when, which file, what it did), audited."""
    from healthgate.register.models import RegisterUpload

    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)
    now = ctx.clock.now()
    row = RegisterUpload(id=uuid.uuid4(), team_id=team_id, filename=filename[:300], format=format, sha256=sha256,
                         counts=dict(counts), uploaded_by=ctx.actor.name[:300], uploaded_at=now)
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, "register_upload.applied", "register_upload", row.id,
                 {"team_id": str(team_id), "filename": row.filename, "format": format, "sha256": sha256,
                  "counts": dict(counts)}, at=now)
    return row


def uploads(ctx: Context, team_id: uuid.UUID, *, limit: int = 20) -> list[Any]:
    """A team's latest applied register files, newest first (its register managers only)."""
    from healthgate.register.models import RegisterUpload

    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)
    return list(ctx.session.scalars(select(RegisterUpload).where(RegisterUpload.team_id == team_id)
                                    .order_by(RegisterUpload.uploaded_at.desc()).limit(limit)))


def data_many(session: Session, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, EntryData]:
    """Many entries' fields at once, a chunk of entries per query (exports); ``entry_data`` for one."""
    return {i: d for i, (d, _) in _data_many(session, entry_ids).items()}
