"""The data use register exported, for one custodian or the whole alliance (consolidated reporting): CSV and
XLSX in HDR UK's upload template's own layout (so a custodian's export uploads back to the same entries), and
JSON. Only published entries are exported: this is the public register.

CSV and XLSX carry the template's 31 columns, then "Data custodian" and "Register entry ID" (which an upload
ignores). Cells that a spreadsheet would take for a formula (starting with =, +, -, @, tab or carriage return)
are neutralised (``interop.register_table.neutralise``) and read back unchanged on upload.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
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


CHUNK = 500  # entries read (with their datasets, applicants and outputs) per query while streaming


def _listed(ctx: Context, team_id: uuid.UUID | None) -> Sequence[Any]:
    """The published entries' ids, custodians and dates, in the export's order (not yet their fields)."""
    stmt = (select(RegisterEntry.id, RegisterEntry.team_id, Team.name, RegisterEntry.status,
                   RegisterEntry.published_at, RegisterEntry.updated_at)
            .join(Team, Team.id == RegisterEntry.team_id)
            .where(RegisterEntry.status == service.PUBLISHED)
            .order_by(Team.name, RegisterEntry.approval_date.desc(), RegisterEntry.project_id, RegisterEntry.id))
    if team_id is not None:
        stmt = stmt.where(RegisterEntry.team_id == team_id)
    return ctx.session.execute(stmt).all()


def _with_data(ctx: Context, found: Sequence[Any]) -> Iterator[ExportRow]:
    for start in range(0, len(found), CHUNK):
        part = found[start:start + CHUNK]
        data = bulk.data_many(ctx.session, [r.id for r in part])
        for r in part:
            yield ExportRow(r.id, r.team_id, r.name, r.status, r.published_at, r.updated_at, data[r.id])


def rows(ctx: Context, team_id: uuid.UUID | None = None) -> list[ExportRow]:
    """The published entries of one custodian's register (``team_id``) or of every custodian, by custodian and
    then latest approval first."""
    return list(_with_data(ctx, _listed(ctx, team_id)))


def _extras(r: ExportRow) -> list[str]:
    return [r.custodian, str(r.entry_id)]


def csv_chunks(items: Iterable[ExportRow]) -> Iterator[bytes]:
    """The CSV export, a line at a time."""
    lines = register_csv.lines(((r.data, _extras(r)) for r in items), T.EXPORT_ONLY)
    return (line.encode("utf-8") for line in lines)


def to_csv(items: Sequence[ExportRow]) -> bytes:
    return b"".join(csv_chunks(items))


def to_xlsx(items: Sequence[ExportRow]) -> bytes:
    return register_xlsx.write([r.data for r in items], extra_headers=T.EXPORT_ONLY,
                               extras=[_extras(r) for r in items])


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


def json_chunks(items: Iterable[ExportRow], count: int, *, base_url: str, team: Team | None,
                generated_at: datetime) -> Iterator[bytes]:
    """The JSON export a piece at a time: the head (``count`` entries to come), then each entry."""
    head = orjson.dumps({
        "generated_at": generated_at.isoformat(),
        "custodian": {"id": str(team.id), "name": team.name, "slug": team.slug} if team else None,
        "count": count,
        "fields": [{"name": f.name, "header": f.header, "required": f.required, "group": f.group,
                    "lookup": list(F.allowed(f)) or None} for f in F.FIELDS],
        "entries": [],
    })
    yield head[:-2]  # up to and with the entries' opening bracket
    for i, r in enumerate(items):
        yield (b"," if i else b"") + orjson.dumps(entry_json(r, base_url))
    yield b"]}"


def to_json(items: Sequence[ExportRow], *, base_url: str, team: Team | None, generated_at: datetime) -> bytes:
    return b"".join(json_chunks(items, len(items), base_url=base_url, team=team, generated_at=generated_at))


def _buffered(parts: Iterable[bytes], size: int = 1 << 16) -> Iterator[bytes]:
    buf = bytearray()
    for part in parts:
        buf += part
        if len(buf) >= size:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


def stream(ctx: Context, fmt: str, *, team: Team | None, base_url: str) -> Iterator[bytes]:
    """The CSV or JSON export (as ``export`` makes it) in pieces of about 64 KiB: only the entries' ids and dates
    are held all at once, their fields are read ``CHUNK`` entries at a time."""
    found = _listed(ctx, team.id if team else None)
    items = _with_data(ctx, found)
    if fmt == "csv":
        return _buffered(csv_chunks(items))
    if fmt == "json":
        return _buffered(json_chunks(items, len(found), base_url=base_url, team=team, generated_at=ctx.clock.now()))
    raise ValueError(f"{fmt} is not streamed")


def export(ctx: Context, fmt: str, *, team: Team | None, base_url: str) -> bytes:
    """The public register (one custodian's, or the alliance's) as ``fmt``: csv, xlsx or json."""
    if fmt == "xlsx":
        return to_xlsx(rows(ctx, team.id if team else None))
    return b"".join(stream(ctx, fmt, team=team, base_url=base_url))
