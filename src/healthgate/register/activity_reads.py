"""Public reads of the data use register: an entry's page, the uses of a dataset, and the activity of an
organisation (by its registry entry, ROR id or slug) or a researcher (by ORCID iD) across every custodian.

Everything here reads **published** entries only, whoever asks: a draft or a withdrawn entry is never shown on a
public page, not even to its own custodian (the workspace is where they see those).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from healthgate.context import Context
from healthgate.errors import FieldError, Invalid, NotFound
from healthgate.identity import orcid as orcids
from healthgate.identity import organisations
from healthgate.identity.models import Organisation, Team, User
from healthgate.register import fields as F
from healthgate.register import service
from healthgate.register.indexing import catalogue_titles
from healthgate.register.models import (
    RegisterEntry,
    RegisterEntryApplicant,
    RegisterEntryDataset,
    RegisterEntryOutput,
)

PUBLISHED = service.PUBLISHED
GROUPS = ("Safe People", "Safe Project", "Safe Data", "Safe Setting", "Safe Outputs")
PAGE = 50  # projects per page of an organisation or researcher


# ---- shapes -----------------------------------------------------------------------------------------------


@dataclass
class DatasetUsed:
    name: str  # as the custodian wrote it (or the catalogue title)
    dataset_id: uuid.UUID | None  # a public catalogue dataset, when matched
    title: str | None = None  # its catalogue title
    count: int = 1  # projects that used it (in activity summaries)


@dataclass
class Project:
    """A published entry as lists show it."""

    id: uuid.UUID
    title: str
    organisation: str
    custodian: str
    team_slug: str
    approval_date: date
    access_type: str
    datasets: list[DatasetUsed] = field(default_factory=list)


@dataclass
class OutputLink:
    kind: str
    url: str
    doi: str | None
    title: str | None
    entry_id: uuid.UUID
    entry_title: str


@dataclass
class PublicEntry:
    """One published entry, for its public page: its fields by Five Safes group, and its links."""

    entry: RegisterEntry
    custodian: Team
    organisation: Organisation | None  # the registry's organisation, when linked (current after merges)
    organisation_ror: str | None
    datasets: list[DatasetUsed]
    applicants: list[dict[str, Any]]  # {name, orcid}
    outputs: list[dict[str, Any]]  # {kind, url, doi, title}
    groups: list[tuple[str, list[tuple[str, Any]]]]  # (group, [(label, value)]) of the scalar fields


@dataclass
class Activity:
    """An organisation's or researcher's published projects across all custodians."""

    name: str
    total: int  # projects
    page: int
    projects: list[Project]
    datasets: list[DatasetUsed]  # the datasets their projects used, most used first
    outputs: list[OutputLink]
    custodians: list[tuple[str, str, int]]  # (name, slug, projects)
    people: list[tuple[str, str | None, int]] = field(default_factory=list)  # (name, orcid, projects)
    organisations: list[tuple[str, str | None, str | None, int]] = field(default_factory=list)
    #                                  (name, ror, slug, projects)


# ---- one entry ----------------------------------------------------------------------------------------------


def public_entry(ctx: Context, entry_id: uuid.UUID) -> PublicEntry:
    """A published entry with everything its public page shows; NotFound for any other (drafts, withdrawn)."""
    entry = ctx.session.get(RegisterEntry, entry_id)
    if entry is None or entry.status != PUBLISHED:
        raise NotFound("no such data use", [FieldError("id", "no published register entry has this id")])
    data = service.entry_data(ctx.session, entry)
    team = ctx.session.get(Team, entry.team_id)
    assert team is not None
    org = None
    if entry.organisation_id:
        found = ctx.session.get(Organisation, entry.organisation_id)
        org = organisations.current(ctx, found) if found is not None else None
    titles = catalogue_titles(ctx.session, [d.dataset_id for d in data.datasets if d.dataset_id])
    used = [DatasetUsed(d.name, d.dataset_id if d.dataset_id in titles else None, titles.get(d.dataset_id)
                        if d.dataset_id else None) for d in data.datasets]
    groups: list[tuple[str, list[tuple[str, Any]]]] = []
    for group in GROUPS:
        rows: list[tuple[str, Any]] = []
        for f in F.FIELDS:
            if f.group != group or f.kind == "list" or f.name in ("organisation_name", "project_title"):
                continue
            value = getattr(entry, f.name)
            if value not in (None, ""):
                rows.append((f.label, value))
        if group == "Safe People" and entry.funders:
            rows.append(("Funders / sponsors", "; ".join(entry.funders)))
        groups.append((group, rows))
    return PublicEntry(
        entry=entry, custodian=team, organisation=org,
        organisation_ror=entry.organisation_ror or (org.ror_id if org is not None else None), datasets=used,
        applicants=[{"name": a.name, "orcid": a.orcid} for a in data.applicants],
        outputs=[{"kind": o.kind, "url": o.url, "doi": o.doi, "title": o.title} for o in data.outputs],
        groups=groups,
    )


# ---- lists of projects --------------------------------------------------------------------------------------


def _projects(session: Session, entries: list[RegisterEntry]) -> list[Project]:
    if not entries:
        return []
    ids = [e.id for e in entries]
    teams = {t.id: t for t in session.scalars(select(Team).where(Team.id.in_({e.team_id for e in entries})))}
    rows = list(session.scalars(select(RegisterEntryDataset).where(RegisterEntryDataset.entry_id.in_(ids))
                                .order_by(RegisterEntryDataset.entry_id, RegisterEntryDataset.position)))
    titles = catalogue_titles(session, [r.dataset_id for r in rows if r.dataset_id])
    used: dict[uuid.UUID, list[DatasetUsed]] = {}
    for r in rows:
        linked = r.dataset_id if r.dataset_id in titles else None
        used.setdefault(r.entry_id, []).append(DatasetUsed(r.name, linked, titles.get(linked) if linked else None))
    return [Project(id=e.id, title=e.project_title, organisation=e.organisation_name,
                    custodian=teams[e.team_id].name, team_slug=teams[e.team_id].slug,
                    approval_date=e.approval_date, access_type=e.access_type, datasets=used.get(e.id, []))
            for e in entries]


def _ordered(stmt: Select[Any]) -> Select[Any]:
    """Newest approval first; ties by id, so pages never overlap or skip."""
    return stmt.order_by(RegisterEntry.approval_date.desc(), RegisterEntry.id)


@dataclass
class DatasetUses:
    total: int
    projects: list[Project]
    facet_value: str | None  # the register's dataset facet value that lists them all


def dataset_uses(session: Session, dataset_id: uuid.UUID, limit: int = 20) -> DatasetUses:
    """Published entries that used this catalogue dataset, newest approval first (the first ``limit``)."""
    used = select(RegisterEntryDataset.entry_id).where(RegisterEntryDataset.dataset_id == dataset_id)
    where = (RegisterEntry.status == PUBLISHED, RegisterEntry.id.in_(used))
    total = session.scalar(select(func.count()).select_from(RegisterEntry).where(*where)) or 0
    entries = list(session.scalars(_ordered(select(RegisterEntry).where(*where)).limit(limit))) if total else []
    title = catalogue_titles(session, [dataset_id]).get(dataset_id)
    return DatasetUses(total=total, projects=_projects(session, entries), facet_value=title)


def _activity(session: Session, name: str, condition: Any, page: int) -> Activity:
    where = (RegisterEntry.status == PUBLISHED, condition)
    total = session.scalar(select(func.count()).select_from(RegisterEntry).where(*where)) or 0
    page = max(1, min(page, max(1, -(-total // PAGE))))
    entries = list(session.scalars(_ordered(select(RegisterEntry).where(*where))
                                   .limit(PAGE).offset((page - 1) * PAGE)))
    ids = select(RegisterEntry.id).where(*where).scalar_subquery()
    # datasets: catalogue datasets by id, others by name as written
    counts = session.execute(
        select(RegisterEntryDataset.dataset_id, RegisterEntryDataset.name,
               func.count(func.distinct(RegisterEntryDataset.entry_id)))
        .where(RegisterEntryDataset.entry_id.in_(ids))
        .group_by(RegisterEntryDataset.dataset_id, RegisterEntryDataset.name)).all()
    titles = catalogue_titles(session, [r[0] for r in counts if r[0]])
    merged: dict[Any, DatasetUsed] = {}
    for dataset_id, ds_name, n in counts:
        linked = dataset_id if dataset_id in titles else None
        key = linked or " ".join(ds_name.split()).casefold()
        if key in merged:
            merged[key].count += n
        else:
            merged[key] = DatasetUsed(ds_name, linked, titles.get(linked) if linked else None, n)
    datasets = sorted(merged.values(), key=lambda d: (-d.count, (d.title or d.name).casefold()))
    outputs = [OutputLink(o.kind, o.url, o.doi, o.title, o.entry_id, title) for o, title in session.execute(
        select(RegisterEntryOutput, RegisterEntry.project_title)
        .join(RegisterEntry, RegisterEntry.id == RegisterEntryOutput.entry_id)
        .where(*where).order_by(RegisterEntry.approval_date.desc(), RegisterEntry.id, RegisterEntryOutput.position)
        .limit(500))]
    custodians = [(r[0], r[1], r[2]) for r in session.execute(
        select(Team.name, Team.slug, func.count(RegisterEntry.id)).join(RegisterEntry, RegisterEntry.team_id == Team.id)
        .where(*where).group_by(Team.name, Team.slug).order_by(func.count(RegisterEntry.id).desc(), Team.name))]
    return Activity(name=name, total=total, page=page, projects=_projects(session, entries), datasets=datasets,
                    outputs=outputs, custodians=custodians)


# ---- organisations ------------------------------------------------------------------------------------------


@dataclass
class OrganisationActivity:
    activity: Activity
    organisation: Organisation | None  # in the registry (None: known only by the ROR id entries give)
    ror: str | None
    canonical_ref: str  # its ROR id, else its slug: the address its page is kept at
    teams: list[Team] = field(default_factory=list)  # its custodian teams
    as_custodian: int = 0  # published entries its teams reported (uses of its datasets)


def _merged_ids(session: Session, org: Organisation) -> list[uuid.UUID]:
    """The organisation and every duplicate merged into it (directly or through another)."""
    found = [org.id]
    frontier = [org.id]
    while frontier:
        frontier = [i for i in session.scalars(select(Organisation.id).where(
            Organisation.merged_into_id.in_(frontier))) if i not in found]
        found.extend(frontier)
    return found


def organisation_activity(ctx: Context, ref: str, page: int = 1) -> OrganisationActivity:
    """An organisation's published projects across every custodian, by its id, ROR id (or ROR URL) or slug.
    Entries count as its own when linked to it (or to a duplicate merged into it) or when they give its ROR id.
    A ROR id that is not in the registry still has a page when published entries give it."""
    org: Organisation | None
    try:
        org = organisations.current(ctx, organisations.get_organisation(ctx, ref))
    except NotFound:
        org = None
    ror: str | None
    if org is not None:
        ror = org.ror_id
    else:
        try:
            ror = organisations.checked_ror(ref, "ref")
        except Invalid:
            raise NotFound(f"no organisation {ref[:100]!r}", [FieldError(
                "ref", "no organisation with this ROR id or slug")]) from None
    conditions: list[Any] = []
    if org is not None:
        conditions.append(RegisterEntry.organisation_id.in_(_merged_ids(ctx.session, org)))
    if ror:
        conditions.append(RegisterEntry.organisation_ror == ror)
    condition = or_(*conditions)
    name = org.name if org is not None else ""
    if org is None:
        latest = ctx.session.scalar(_ordered(select(RegisterEntry.organisation_name).where(
            RegisterEntry.status == PUBLISHED, condition)).limit(1))
        if latest is None:
            raise NotFound(f"no organisation {ref[:100]!r}", [FieldError(
                "ref", "no organisation in the registry and no published data use has this ROR id")])
        name = latest
    activity = _activity(ctx.session, name, condition, page)
    activity.people = _people(ctx.session, condition)
    teams = organisations.teams_of(ctx, org) if org is not None else []
    as_custodian = ctx.session.scalar(select(func.count()).select_from(RegisterEntry).where(
        RegisterEntry.status == PUBLISHED, RegisterEntry.team_id.in_([t.id for t in teams]))) or 0 if teams else 0
    return OrganisationActivity(activity=activity, organisation=org, ror=ror,
                                canonical_ref=ror or (org.slug if org is not None else ref), teams=teams,
                                as_custodian=as_custodian)


def _people(session: Session, condition: Any) -> list[tuple[str, str | None, int]]:
    rows = session.execute(
        select(RegisterEntryApplicant.name, RegisterEntryApplicant.orcid,
               func.count(func.distinct(RegisterEntryApplicant.entry_id)))
        .join(RegisterEntry, RegisterEntry.id == RegisterEntryApplicant.entry_id)
        .where(RegisterEntry.status == PUBLISHED, condition)
        .group_by(RegisterEntryApplicant.name, RegisterEntryApplicant.orcid)).all()
    # one line per ORCID iD (its commonest spelling of the name), else per name
    by: dict[str, tuple[Counter[str], int, str | None]] = {}
    for person_name, orcid, n in rows:
        key = orcid or " ".join(person_name.split()).casefold()
        names, total, _ = by.get(key, (Counter(), 0, orcid))
        names[person_name] += n
        by[key] = (names, total + n, orcid)
    people = [(names.most_common(1)[0][0], orcid, total) for names, total, orcid in by.values()]
    return sorted(people, key=lambda p: (-p[2], p[0].casefold(), p[1] or ""))[:200]


# ---- researchers --------------------------------------------------------------------------------------------


@dataclass
class ResearcherActivity:
    activity: Activity
    orcid: str
    profile_id: uuid.UUID | None  # their public profile on this site, when they made their ORCID iD public


def canonical_orcid(raw: str) -> str:
    """The ORCID iD a page address names, or NotFound saying what is wrong with it."""
    try:
        return orcids.normalise(raw, field="orcid")
    except Invalid as exc:
        raise NotFound(f"{raw[:40]!r} is not an ORCID iD", exc.errors) from None


def researcher_activity(ctx: Context, orcid: str, page: int = 1) -> ResearcherActivity:
    """A researcher's published projects (those naming their ORCID iD as an applicant) across all custodians."""
    orcid = canonical_orcid(orcid)
    mine = select(RegisterEntryApplicant.entry_id).where(RegisterEntryApplicant.orcid == orcid)
    condition = RegisterEntry.id.in_(mine)
    names = Counter(ctx.session.scalars(
        select(RegisterEntryApplicant.name).join(RegisterEntry, RegisterEntry.id == RegisterEntryApplicant.entry_id)
        .where(RegisterEntryApplicant.orcid == orcid, RegisterEntry.status == PUBLISHED)))
    if not names:
        raise NotFound(f"no published data use names ORCID iD {orcid}",
                       [FieldError("orcid", "no published register entry lists this researcher")])
    name = min(names.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    activity = _activity(ctx.session, name, condition, page)
    activity.organisations = [(r[0], r[1], r[2], r[3]) for r in ctx.session.execute(
        select(RegisterEntry.organisation_name, RegisterEntry.organisation_ror, Organisation.slug,
               func.count(RegisterEntry.id))
        .outerjoin(Organisation, Organisation.id == RegisterEntry.organisation_id)
        .where(RegisterEntry.status == PUBLISHED, condition)
        .group_by(RegisterEntry.organisation_name, RegisterEntry.organisation_ror, Organisation.slug)
        .order_by(func.count(RegisterEntry.id).desc(), RegisterEntry.organisation_name))]
    user = ctx.session.scalar(select(User).where(User.orcid == orcid))
    public = user is not None and user.disabled_at is None and "orcid" in (user.public_fields or [])
    return ResearcherActivity(activity=activity, orcid=orcid, profile_id=user.id if public and user else None)
