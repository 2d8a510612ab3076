"""A dataset's GA4GH DUO data-use conditions (``access_dataset_data_use``): one permission term, disease
restrictions (ICD-10, see ``diseases``) and modifiers. Its custodian sets them (``Permission.DATASET_DATA_USE``
on the dataset's team); anyone who may see the dataset may read them (they are shown on its public page).
The only code that writes them; pages, the API and the data-use check call it."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from healthgate.access import diseases
from healthgate.access import duo_terms as duo
from healthgate.access.models import DatasetDataUse
from healthgate.audit import service as audit
from healthgate.catalogue import service as catalogue
from healthgate.catalogue.models import Dataset
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound, PreconditionFailed
from healthgate.identity.permissions import Permission, require

MAX_DISEASES = 50


@dataclass(frozen=True)
class Conditions:
    """What a dataset may be used for. ``permission`` None: its custodian has set no conditions."""

    dataset_id: uuid.UUID
    permission: str | None = None  # DUO id
    diseases: tuple[str, ...] = ()  # ICD10:... ids
    modifiers: tuple[str, ...] = ()  # DUO ids, in the order of duo_terms.MODIFIERS
    updated_at: datetime | None = None
    team_id: uuid.UUID | None = None

    @property
    def set(self) -> bool:
        return self.permission is not None

    @property
    def etag(self) -> str:
        """An entity tag that changes whenever the conditions do (for ``If-Match``)."""
        raw = json.dumps([self.permission, list(self.diseases), list(self.modifiers),
                          self.updated_at.isoformat() if self.updated_at else None])
        return f'"du-{hashlib.sha256(raw.encode()).hexdigest()[:16]}"'

    def has(self, term_id: str) -> bool:
        return term_id in self.modifiers

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON, with names people read (what the templates and the API show)."""
        perm = duo.find(self.permission) if self.permission else None
        return {
            "dataset_id": str(self.dataset_id),
            "set": self.set,
            "permission": _term_dict(perm) if perm else None,
            "diseases": [{"id": d, "label": diseases.label(d)} for d in self.diseases],
            "modifiers": [_term_dict(duo.get(m)) for m in self.modifiers if duo.find(m)],
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def _term_dict(term: duo.Term) -> dict[str, str]:
    return {"id": term.id, "shorthand": term.shorthand, "label": term.label, "description": term.description}


def _of(row: DatasetDataUse | None, dataset_id: uuid.UUID, team_id: uuid.UUID | None = None) -> Conditions:
    if row is None:
        return Conditions(dataset_id=dataset_id, team_id=team_id)
    return Conditions(dataset_id=dataset_id, permission=row.permission, diseases=tuple(row.diseases or ()),
                      modifiers=tuple(row.modifiers or ()), updated_at=row.updated_at, team_id=team_id)


# -- reading -------------------------------------------------------------------------------------------------


def _dataset(ctx: Context, dataset_id: uuid.UUID) -> Dataset:
    """The dataset, if this actor may see it or set its conditions (404/410 otherwise, as the catalogue)."""
    dataset = ctx.session.get(Dataset, dataset_id)
    if dataset is not None and ctx.actor.can(Permission.DATASET_DATA_USE, dataset.team_id):
        return dataset
    return catalogue.get_dataset(ctx, dataset_id)


def get(ctx: Context, dataset_id: uuid.UUID) -> Conditions:
    """A dataset's conditions (``set`` False when its custodian has set none)."""
    dataset = _dataset(ctx, dataset_id)
    return _of(ctx.session.get(DatasetDataUse, dataset_id), dataset_id, dataset.team_id)


def for_datasets(ctx: Context, dataset_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Conditions]:
    """The conditions of many datasets at once, without a visibility check (the data-use check of an
    application, whose datasets were checked when it was made). Datasets with none get an unset entry."""
    ids = list(dict.fromkeys(dataset_ids))
    if not ids:
        return {}
    rows = {r.dataset_id: r for r in ctx.session.scalars(select(DatasetDataUse)
                                                        .where(DatasetDataUse.dataset_id.in_(ids)))}
    teams = {r.id: r.team_id for r in ctx.session.execute(select(Dataset.id, Dataset.team_id)
                                                           .where(Dataset.id.in_(ids)))}
    return {i: _of(rows.get(i), i, teams.get(i)) for i in ids}


def can_set(ctx: Context, team_id: uuid.UUID) -> bool:
    return ctx.actor.can(Permission.DATASET_DATA_USE, team_id)


# -- validating and writing ----------------------------------------------------------------------------------


@dataclass
class _Errors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append(FieldError(path, message))


def _str_list(raw: Any, path: str, errors: _Errors) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, Sequence) or isinstance(raw, (bytes, bytearray)):
        errors.add(path, "a list of ids")
        return []
    out = []
    for i, v in enumerate(raw):
        if not isinstance(v, str):
            errors.add(f"{path}/{i}", "an id (text)")
        elif v.strip():
            out.append(v.strip())
    return out


def clean_diseases(raw: Any, path: str, errors: _Errors) -> list[str]:
    """ICD-10 ids, normalised and de-duplicated; each unknown code named in ``errors``."""
    out: list[str] = []
    values = _str_list(raw, path, errors)
    if len(values) > MAX_DISEASES:
        errors.add(path, f"at most {MAX_DISEASES} diseases")
        return []
    for i, v in enumerate(values):
        norm = diseases.normalise(v)
        if norm is None:
            errors.add(f"{path}/{i}", f"{v[:40]!r} is not an ICD-10 code (e.g. E11 or E11.9)")
        elif norm not in out:
            out.append(norm)
    return out


def clean(payload: Mapping[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """(permission id, disease ids, modifier ids) from ``{"permission", "diseases", "modifiers"}``; raises
    ``Invalid`` naming every unknown term and every broken rule. A null permission clears the conditions."""
    errors = _Errors()
    unknown = set(payload) - {"permission", "diseases", "modifiers"}
    for key in sorted(unknown):
        errors.add(key, "not a field of data-use conditions (permission, diseases, modifiers)")
    raw_perm = payload.get("permission")
    permission: str | None = None
    if raw_perm not in (None, ""):
        term = duo.find(raw_perm) if isinstance(raw_perm, str) else None
        if term is None:
            errors.add("permission", f"{str(raw_perm)[:40]!r} is not a DUO term")
        elif term.kind != "permission":
            errors.add("permission", f"{term.name} is not a data use permission; choose one of "
                                     + ", ".join(t.shorthand for t in duo.permissions()))
        else:
            permission = term.id
    disease_ids = clean_diseases(payload.get("diseases"), "diseases", errors)
    modifier_ids: set[str] = set()
    for i, ref in enumerate(_str_list(payload.get("modifiers"), "modifiers", errors)):
        term = duo.find(ref)
        if term is None:
            errors.add(f"modifiers/{i}", f"{ref[:40]!r} is not a DUO term")
        elif term.kind != "modifier":
            errors.add(f"modifiers/{i}", f"{term.name} is not a data use modifier")
        else:
            modifier_ids.add(term.id)
    if permission == duo.DS and not disease_ids and not any(e.path.startswith("diseases") for e in errors.items):
        errors.add("diseases", "disease-specific research (DS) needs at least one disease")
    if permission is not None and permission != duo.DS and disease_ids:
        errors.add("diseases", "disease restrictions go with the DS permission only")
    if permission is None and raw_perm in (None, "") and (disease_ids or modifier_ids):
        errors.add("permission", "choose a data use permission for these restrictions")
    if errors.items:
        raise Invalid("the data-use conditions are not valid", errors.items)
    return permission, disease_ids, [m for m in duo.MODIFIERS if m in modifier_ids]


def set_conditions(ctx: Context, dataset_id: uuid.UUID, payload: Mapping[str, Any], *,
                   if_match: str | None = None) -> Conditions:
    """Set (or, with a null permission, clear) a dataset's conditions; audited with what changed. ``if_match``:
    the entity tag the caller read (412 if the conditions changed since)."""
    dataset = _dataset(ctx, dataset_id)
    require(ctx.actor, Permission.DATASET_DATA_USE, on=dataset.team_id)
    permission, disease_ids, modifier_ids = clean(payload)
    row = ctx.session.scalars(select(DatasetDataUse).where(DatasetDataUse.dataset_id == dataset_id)
                              .with_for_update()).one_or_none()
    current = _of(row, dataset_id, dataset.team_id)
    if if_match is not None:
        tags = [t.strip() for t in if_match.split(",") if t.strip()]
        if "*" not in tags and current.etag not in tags:
            raise PreconditionFailed("the data-use conditions changed since you read them; read them again",
                                     [FieldError("header.if-match", f"{if_match[:100]} does not match {current.etag}")])
    before = current.as_dict() if row is not None else None
    if permission is None:
        if row is not None:
            ctx.session.delete(row)
            audit.record(ctx, "dataset.data_use_cleared", "dataset", dataset_id, {"before": _summary(before)})
        ctx.session.flush()
        return Conditions(dataset_id=dataset_id, team_id=dataset.team_id)
    try:
        with ctx.session.begin_nested():
            if row is None:
                row = DatasetDataUse(dataset_id=dataset_id)
                ctx.session.add(row)
            row.permission = permission
            row.diseases = disease_ids
            row.modifiers = modifier_ids
            row.updated_at = ctx.now()
            row.updated_by = str(ctx.actor.user_id or ctx.actor.name)[:300]
            ctx.session.flush()
    except IntegrityError:
        raise Conflict("the data-use conditions were set by someone else at the same moment; read them again",
                       [FieldError("permission", "read the conditions again and retry")]) from None
    after = _of(row, dataset_id, dataset.team_id)
    audit.record(ctx, "dataset.data_use_set", "dataset", dataset_id,
                 {"before": _summary(before), "after": _summary(after.as_dict())})
    return after


def _summary(d: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"permission": d["permission"]["id"] if d["permission"] else None,
            "diseases": [x["id"] for x in d["diseases"]], "modifiers": [x["id"] for x in d["modifiers"]]}



def workspace_dataset(ctx: Context, dataset_id: uuid.UUID) -> Dataset:
    """The dataset for its team's workspace page: 404 for anyone outside the team (as for an unknown id)."""
    dataset = ctx.session.get(Dataset, dataset_id)
    if dataset is None or not (ctx.actor.authenticated and (ctx.actor.is_admin or ctx.actor.roles_in(dataset.team_id))):
        raise NotFound(f"no dataset {dataset_id} in your teams")
    return dataset


def title(ctx: Context, dataset: Dataset) -> str:
    """The dataset's latest published title, else its draft's."""
    if dataset.latest_version:
        return catalogue.get_version(ctx.session, dataset.id, dataset.latest_version).title
    summary = (dataset.draft or {}).get("summary") or {}
    return str(summary.get("title") or "(untitled)")
