"""The data use register exported, for one custodian or the whole alliance (consolidated reporting): CSV and
XLSX in HDR UK's upload template's own layout (so a custodian's export uploads back to the same entries), and
JSON. Only published entries are exported: this is the public register.

CSV and XLSX carry the template's 31 columns, then "Data custodian" and "Register entry ID" (which an upload
ignores). Cells that a spreadsheet would take for a formula (starting with =, +, -, @, tab or carriage return)
are neutralised (``interop.register_table.neutralise``) and read back unchanged on upload.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import select

from healthgate.context import Context
from healthgate.identity.models import Team
from healthgate.interop import register_csv, register_xlsx
from healthgate.interop import register_table as T
from healthgate.register import bulk, service
from healthgate.register import fields as F
from healthgate.register.models import RegisterEntry

FORMATS = {"csv": register_csv.MEDIA_TYPE, "xlsx": register_xlsx.MEDIA_TYPE, "json": "application/json"}


@dataclass
class ExportRow:
    entry_id: uuid.UUID
    team_id: uuid.UUID
    custodian: str
    status: str
    published_at: datetime | None
    updated_at: datetime
    data: service.EntryData


def rows(ctx: Context, team_id: uuid.UUID | None = None) -> list[ExportRow]:
    """The published entries of one custodian's register (``team_id``) or of every custodian, by custodian and
    then latest approval first."""
    stmt = (select(RegisterEntry.id, RegisterEntry.team_id, Team.name, RegisterEntry.status,
                   RegisterEntry.published_at, RegisterEntry.updated_at)
            .join(Team, Team.id == RegisterEntry.team_id)
            .where(RegisterEntry.status == service.PUBLISHED)
            .order_by(Team.name, RegisterEntry.approval_date.desc(), RegisterEntry.project_id, RegisterEntry.id))
    if team_id is not None:
        stmt = stmt.where(RegisterEntry.team_id == team_id)
    found = ctx.session.execute(stmt).all()
    data = bulk.data_many(ctx.session, [r.id for r in found])
    return [ExportRow(r.id, r.team_id, r.name, r.status, r.published_at, r.updated_at, data[r.id]) for r in found]


def _extras(items: Sequence[ExportRow]) -> list[list[str]]:
    return [[r.custodian, str(r.entry_id)] for r in items]


def to_csv(items: Sequence[ExportRow]) -> bytes:
    return register_csv.write([r.data for r in items], extra_headers=T.EXPORT_ONLY, extras=_extras(items))


def to_xlsx(items: Sequence[ExportRow]) -> bytes:
    return register_xlsx.write([r.data for r in items], extra_headers=T.EXPORT_ONLY, extras=_extras(items))


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def entry_json(row: ExportRow, base_url: str) -> dict[str, Any]:
    """One entry for the JSON export: the template's fields by name, lists as objects, links to this site."""
    d = asdict(row.data)
    out: dict[str, Any] = {"id": str(row.entry_id), "url": f"{base_url}/data-uses/{row.entry_id}",
                           "custodian": {"id": str(row.team_id), "name": row.custodian}}
    for f in F.FIELDS:
        if f.name in ("applicant_ids",):
            continue
        value: Any = d[f.name]
        if f.name == "datasets":
            value = [{"name": x["name"], "dataset_id": _plain(x["dataset_id"]),
                      "url": f"{base_url}/datasets/{x['dataset_id']}" if x["dataset_id"] else None} for x in value]
        elif f.name == "applicants":
            value = [{"name": a["name"], "orcid": a["orcid"]} for a in value]
        elif f.name == "outputs":
            value = [{"url": o["url"], "kind": o["kind"], "doi": o["doi"], "title": o["title"]} for o in value]
        out[f.name] = _plain(value)
    out["published_at"] = _plain(row.published_at)
    out["updated_at"] = _plain(row.updated_at)
    return out


def to_json(items: Sequence[ExportRow], *, base_url: str, team: Team | None, generated_at: datetime) -> bytes:
    body = {
        "generated_at": generated_at.isoformat(),
        "custodian": {"id": str(team.id), "name": team.name, "slug": team.slug} if team else None,
        "count": len(items),
        "fields": [{"name": f.name, "header": f.header, "required": f.required, "group": f.group,
                    "lookup": list(F.allowed(f)) or None} for f in F.FIELDS],
        "entries": [entry_json(r, base_url) for r in items],
    }
    return orjson.dumps(body)


def export(ctx: Context, fmt: str, *, team: Team | None, base_url: str) -> bytes:
    """The public register (one custodian's, or the alliance's) as ``fmt``: csv, xlsx or json."""
    items = rows(ctx, team.id if team else None)
    if fmt == "csv":
        return to_csv(items)
    if fmt == "xlsx":
        return to_xlsx(items)
    return to_json(items, base_url=base_url, team=team, generated_at=ctx.clock.now())
