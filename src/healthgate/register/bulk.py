"""Data use register in bulk: an uploaded register file.

The same create / update / publish as ``register.service`` over many entries at once (a register upload): one
permission check, the same ``service.check`` of every entry, the same project-id rule, one audit event per change,
the search index told of every published entry; written with a few statements per thousand entries, not per
entry, all or nothing. Also the record of applied files and the many-entries read that exports use.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity.permissions import Permission, require
from healthgate.register import indexing
from healthgate.register.models import (
    RegisterEntry,
    RegisterEntryApplicant,
    RegisterEntryDataset,
    RegisterEntryOutput,
    RegisterUpload,
)
from healthgate.register.service import (
    DRAFT,
    ORIGINS,
    PUBLISHED,
    SCALARS,
    Applicant,
    DatasetRef,
    EntryData,
    Output,
    check,
)

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
    if not dry_run:
        indexing.lock(ctx.session)  # before the plan reads the entries it will write: no update is lost
    plan = plan_many(ctx, team_id, items, publish=publish)
    if dry_run:
        return BulkResult(plan, applied=False)
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
    require(ctx.actor, Permission.REGISTER_MANAGE, on=team_id)
    return list(ctx.session.scalars(select(RegisterUpload).where(RegisterUpload.team_id == team_id)
                                    .order_by(RegisterUpload.uploaded_at.desc()).limit(limit)))


def data_many(session: Session, entry_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, EntryData]:
    """Many entries' fields at once, a chunk of entries per query (exports); ``entry_data`` for one."""
    return {i: d for i, (d, _) in _data_many(session, entry_ids).items()}
