"""Alliance operations: the only code that writes members and their letters of intent.

Every write needs ``alliance:manage`` (the alliance admin), validates, writes and records one audit event, in
the caller's transaction. Reads of the public members list are open to anyone; members that are hidden or
have left, and letters of intent, are the alliance admin's only.

A member is an organisation (one membership per organisation) with a type, a join date and an announcement
wave. New members are announced about every three months, so a wave is a calendar quarter, ``"2026 Q3"``:
``propose_wave`` proposes the quarter of the join date and the admin may set another."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from healthgate.access import attachments
from healthgate.access.storage import Storage
from healthgate.alliance.models import LetterOfIntent, Member
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound, UnsupportedMediaType
from healthgate.identity import organisations
from healthgate.identity.models import Organisation
from healthgate.identity.permissions import Permission, require

MEMBER_TYPES: dict[str, str] = {
    "data-custodian": "Data custodian",
    "non-custodian-partner": "Non-custodian partner",
    "industry-association": "Industry association",
    "funder": "Funder",
    "patient-organisation": "Patient organisation",
    "other": "Other",
}
CUSTODIAN = "data-custodian"
_WAVE = re.compile(r"^(\d{4}) ?Q([1-4])$", re.IGNORECASE)
MAX_DESCRIPTION = 5_000
MAX_NAME = 300
# a signed letter of intent: a PDF, a Word or OpenDocument text, or a scan (PNG, JPEG)
LETTER_TYPES = ("pdf", "docx", "odt", "png", "jpg", "jpeg")
LETTER_ALLOWED = "PDF, DOCX, ODT, PNG or JPEG"
DEFAULT_LETTER_MAX_BYTES = attachments.DEFAULT_MAX_BYTES


def quarter_of(d: date) -> tuple[int, int]:
    return d.year, (d.month - 1) // 3 + 1


def propose_wave(join_date: date) -> str:
    """The announcement wave a member joining on ``join_date`` belongs to: the calendar quarter it joined in."""
    year, q = quarter_of(join_date)
    return f"{year} Q{q}"


def checked_wave(value: str, path: str = "wave") -> str:
    """A wave in its canonical form ``YYYY Qn``, or ``Invalid``."""
    m = _WAVE.match(value.strip())
    if not m:
        raise Invalid("not a wave", [FieldError(path, f"{value[:40]!r} is not a quarter like 2026 Q3")])
    return f"{m.group(1)} Q{m.group(2)}"


def wave_sort_key(wave: str | None) -> tuple[int, int]:
    m = _WAVE.match(wave or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


@dataclass
class MemberData:
    """A member's fields as plain values (from a form, the API or the CLI). ``organisation`` names the
    organisation by id, ROR id (or ROR URL) or slug."""

    organisation: str
    member_type: str
    join_date: date | None
    wave: str | None = None  # None: proposed from the join date
    announced_on: date | None = None
    left_on: date | None = None
    public: bool = True
    description: str | None = None


def _check(ctx: Context, data: MemberData) -> tuple[Organisation | None, MemberData, list[FieldError]]:
    errors: list[FieldError] = []
    org: Organisation | None = None
    if not (data.organisation or "").strip():
        errors.append(FieldError("organisation", "name the organisation (its id, ROR id or slug)"))
    else:
        try:
            org = organisations.current(ctx, organisations.get_organisation(ctx, data.organisation))
        except NotFound:
            errors.append(FieldError("organisation", f"no organisation {data.organisation[:100]!r} (give its id, "
                                                     "ROR id or slug; add it under organisations first)"))
    if data.member_type not in MEMBER_TYPES:
        errors.append(FieldError("member_type", f"one of: {', '.join(MEMBER_TYPES)}"))
    if data.join_date is None:
        errors.append(FieldError("join_date", "the join date is required"))
    if data.wave is not None and data.wave.strip():
        try:
            data.wave = checked_wave(data.wave)
        except Invalid as exc:
            errors.extend(exc.errors)
    else:
        data.wave = propose_wave(data.join_date) if data.join_date else None
    if data.join_date and data.left_on and data.left_on < data.join_date:
        errors.append(FieldError("left_on", "a member cannot leave before it joined"))
    if data.join_date and data.announced_on and data.announced_on < data.join_date:
        errors.append(FieldError("announced_on", "a member cannot be announced before it joined"))
    if data.description is not None:
        data.description = data.description.strip() or None
        if data.description and len(data.description) > MAX_DESCRIPTION:
            errors.append(FieldError("description", f"at most {MAX_DESCRIPTION:,} characters"))
    return org, data, errors


def _apply(member: Member, org: Organisation, data: MemberData) -> None:
    assert data.join_date is not None
    member.organisation_id = org.id
    member.member_type = data.member_type
    member.join_date = data.join_date
    member.wave = data.wave
    member.announced_on = data.announced_on
    member.left_on = data.left_on
    member.public = data.public
    member.description = data.description


def _fields(member: Member) -> dict[str, object]:
    return {"organisation_id": str(member.organisation_id), "member_type": member.member_type,
            "join_date": member.join_date.isoformat(), "wave": member.wave,
            "announced_on": member.announced_on.isoformat() if member.announced_on else None,
            "left_on": member.left_on.isoformat() if member.left_on else None, "public": member.public,
            "description": member.description}


def create(ctx: Context, data: MemberData) -> Member:
    """A new member (one per organisation)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    org, data, errors = _check(ctx, data)
    if errors:
        raise Invalid("the member is not valid", errors)
    assert org is not None
    held = ctx.session.scalar(select(Member).where(Member.organisation_id == org.id))
    if held is not None:
        raise Conflict(f"{org.name} is already a member",
                       [FieldError("organisation", f"already a member since {held.join_date.isoformat()} "
                                                   f"({held.id})")])
    now = ctx.now()
    member = Member(id=uuid.uuid4(), created_at=now, updated_at=now, row_version=1)
    _apply(member, org, data)
    ctx.session.add(member)
    ctx.session.flush()
    audit.record(ctx, "alliance_member.created", "alliance_member", member.id, _fields(member), at=now)
    return member


def _load(ctx: Context, member_id: uuid.UUID, *, for_update: bool = False) -> Member:
    stmt = select(Member).where(Member.id == member_id)
    member = ctx.session.scalar(stmt.with_for_update() if for_update else stmt)
    if member is None:
        raise NotFound("no such member")
    return member


def _check_version(member: Member, expected: int | None) -> None:
    if expected is not None and expected != member.row_version:
        raise Conflict("someone else changed this member; read it again and retry",
                       [FieldError("row_version", f"is {member.row_version}, not {expected}")])


def update(ctx: Context, member_id: uuid.UUID, data: MemberData, *, expected_version: int | None = None) -> Member:
    """Replace a member's fields (its organisation too, if no other member holds that one)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    member = _load(ctx, member_id, for_update=True)
    _check_version(member, expected_version)
    org, data, errors = _check(ctx, data)
    if errors:
        raise Invalid("the member is not valid", errors)
    assert org is not None
    if org.id != member.organisation_id and ctx.session.scalar(
            select(Member.id).where(Member.organisation_id == org.id)):
        raise Conflict(f"{org.name} is already a member", [FieldError("organisation", "already a member")])
    before = _fields(member)
    _apply(member, org, data)
    after = _fields(member)
    if before == after:
        return member
    now = ctx.now()
    member.updated_at = now
    member.row_version += 1
    ctx.session.flush()
    changed = sorted(k for k in after if before[k] != after[k])
    action = "alliance_member.left" if before["left_on"] is None and after["left_on"] is not None \
        else "alliance_member.updated"
    audit.record(ctx, action, "alliance_member", member.id, {"fields": changed, **{k: after[k] for k in changed}},
                 at=now)
    return member


def leave(ctx: Context, member_id: uuid.UUID, left_on: date, *, expected_version: int | None = None) -> Member:
    """Record that a member left the alliance on ``left_on`` (it keeps its history; its obligations end)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    member = _load(ctx, member_id, for_update=True)
    _check_version(member, expected_version)
    if member.left_on is not None:
        raise Conflict(f"the member already left on {member.left_on.isoformat()}",
                       [FieldError("left_on", "already set")])
    if left_on < member.join_date:
        raise Invalid("the member is not valid", [FieldError("left_on", "a member cannot leave before it joined")])
    now = ctx.now()
    member.left_on = left_on
    member.updated_at = now
    member.row_version += 1
    ctx.session.flush()
    audit.record(ctx, "alliance_member.left", "alliance_member", member.id, {"left_on": left_on.isoformat()},
                 at=now)
    return member


# ---- reads ----------------------------------------------------------------------------------------------


def is_current(member: Member, on: date) -> bool:
    """A member on ``on``: joined by then and not yet left."""
    return member.join_date <= on and (member.left_on is None or member.left_on > on)


def can_manage(ctx: Context) -> bool:
    return ctx.actor.can(Permission.ALLIANCE_MANAGE)


def require_manage(ctx: Context) -> None:
    """Refuse anyone but the alliance admin (for pages that show a blank form before any operation runs)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)


def get(ctx: Context, member_id: uuid.UUID) -> Member:
    """A public member for anyone; a hidden one for the alliance admin only (404 for others)."""
    member = _load(ctx, member_id)
    if not member.public and not can_manage(ctx):
        raise NotFound("no such member")
    return member


def members(ctx: Context, *, everyone: bool = False) -> list[tuple[Member, Organisation]]:
    """Members with their organisations, newest wave first, then by organisation name. Without ``everyone``
    (or for anyone but the alliance admin): the public page's members, public and not left."""
    everyone = everyone and can_manage(ctx)
    stmt = select(Member, Organisation).join(Organisation, Organisation.id == Member.organisation_id)
    if not everyone:
        stmt = stmt.where(Member.public.is_(True))
    rows = [(m, o) for m, o in ctx.session.execute(stmt)]
    if not everyone:
        from healthgate.access.clocks import london_date

        today = london_date(ctx.now())
        rows = [(m, o) for m, o in rows if m.left_on is None or m.left_on > today]
    rows.sort(key=lambda r: (tuple(-x for x in wave_sort_key(r[0].wave)), r[1].name_key, str(r[0].id)))
    return rows


def organisation_of(ctx: Context, member: Member) -> Organisation:
    org = ctx.session.get(Organisation, member.organisation_id)
    assert org is not None
    return org


def by_wave(rows: list[tuple[Member, Organisation]]) -> list[tuple[str, list[tuple[Member, Organisation]]]]:
    """Members grouped by wave, newest wave first (the public page's sections)."""
    groups: dict[str, list[tuple[Member, Organisation]]] = {}
    for m, o in rows:
        groups.setdefault(m.wave or "Not yet announced", []).append((m, o))
    return sorted(groups.items(), key=lambda g: tuple(-x for x in wave_sort_key(g[0])))


# ---- letters of intent ----------------------------------------------------------------------------------


@dataclass
class LetterData:
    signed_on: date | None
    signatory_name: str
    signatory_position: str


def _check_letter(member: Member, data: LetterData) -> LetterData:
    errors: list[FieldError] = []
    if data.signed_on is None:
        errors.append(FieldError("signed_on", "the date the letter was signed is required"))
    for name in ("signatory_name", "signatory_position"):
        value = (getattr(data, name) or "").strip()
        setattr(data, name, value)
        label = name.replace("_", " ")
        if not value:
            errors.append(FieldError(name, f"the {label} is required"))
        elif len(value) > MAX_NAME:
            errors.append(FieldError(name, f"the {label} is longer than {MAX_NAME} characters"))
    if errors:
        raise Invalid("the letter of intent is not valid", errors)
    return data


def check_letter_file(filename: str, data: bytes, max_bytes: int) -> tuple[str, str]:
    """(a safe file name, its content type) for a signed letter, checked by size and by content like an access
    attachment (413/415), and limited to documents and scans."""
    name, content_type = attachments.check_file(filename, data, max_bytes)
    ext = name.rsplit(".", 1)[-1].lower()
    if ext not in LETTER_TYPES:
        raise UnsupportedMediaType("this type of file is not accepted for a letter of intent",
                                   [FieldError("file", f"attach the signed letter as a {LETTER_ALLOWED} file")])
    return name, content_type


def add_letter(ctx: Context, store: Storage, member_id: uuid.UUID, data: LetterData, *,
               filename: str | None = None, content: bytes | None = None,
               max_bytes: int = DEFAULT_LETTER_MAX_BYTES) -> LetterOfIntent:
    """Record a signed letter of intent, with the signed document when given (a member may sign again: the
    latest letter counts)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    member = _load(ctx, member_id)
    data = _check_letter(member, data)
    assert data.signed_on is not None
    file: tuple[str, str] | None = None
    if content is not None and (content or filename):
        file = check_letter_file(filename or "letter", content, max_bytes)
    now = ctx.now()
    letter = LetterOfIntent(id=uuid.uuid4(), member_id=member.id, signed_on=data.signed_on,
                            signatory_name=data.signatory_name, signatory_position=data.signatory_position,
                            uploaded_at=now, uploaded_by=ctx.actor.name[:300])
    if file is not None and content is not None:
        letter.filename, letter.content_type = file
        letter.size = len(content)
        letter.sha256 = hashlib.sha256(content).hexdigest()
        letter.storage_key = f"alliance/letters/{member.id}/{letter.id}"
    ctx.session.add(letter)
    ctx.session.flush()
    if letter.storage_key and content is not None:
        store.put(letter.storage_key, content, letter.content_type or "application/octet-stream")
    audit.record(ctx, "alliance_letter.added", "alliance_member", member.id,
                 {"letter_id": str(letter.id), "signed_on": data.signed_on.isoformat(),
                  "signatory_position": data.signatory_position, "filename": letter.filename, "size": letter.size,
                  "sha256": letter.sha256}, at=now)
    return letter


def letters(ctx: Context, member_id: uuid.UUID) -> list[LetterOfIntent]:
    """A member's letters of intent, latest signature first (the alliance admin's)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    _load(ctx, member_id)
    return list(ctx.session.scalars(select(LetterOfIntent).where(LetterOfIntent.member_id == member_id)
                                    .order_by(LetterOfIntent.signed_on.desc(), LetterOfIntent.uploaded_at.desc())))


def latest_letters(ctx: Context) -> dict[uuid.UUID, LetterOfIntent]:
    """Each member's latest letter of intent (member id -> letter)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    out: dict[uuid.UUID, LetterOfIntent] = {}
    for letter in ctx.session.scalars(select(LetterOfIntent).order_by(LetterOfIntent.signed_on,
                                                                      LetterOfIntent.uploaded_at)):
        out[letter.member_id] = letter
    return out


@dataclass(frozen=True)
class LetterDownload:
    letter: LetterOfIntent
    data: bytes


def _letter(ctx: Context, member_id: uuid.UUID, letter_id: uuid.UUID) -> LetterOfIntent:
    letter = ctx.session.get(LetterOfIntent, letter_id)
    if letter is None or letter.member_id != member_id:
        raise NotFound("no such letter of intent")
    return letter


def download_letter(ctx: Context, store: Storage, member_id: uuid.UUID, letter_id: uuid.UUID) -> LetterDownload:
    """The signed document of a letter (the alliance admin's; recorded in the audit log)."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    letter = _letter(ctx, member_id, letter_id)
    if not letter.storage_key:
        raise NotFound("this letter of intent has no signed document attached")
    data = store.get(letter.storage_key)
    audit.record(ctx, "alliance_letter.downloaded", "alliance_member", member_id,
                 {"letter_id": str(letter.id), "filename": letter.filename})
    return LetterDownload(letter, data)


def delete_letter(ctx: Context, store: Storage, member_id: uuid.UUID, letter_id: uuid.UUID) -> None:
    """Remove a letter recorded by mistake, and its document."""
    require(ctx.actor, Permission.ALLIANCE_MANAGE)
    letter = _letter(ctx, member_id, letter_id)
    key = letter.storage_key
    ctx.session.delete(letter)
    ctx.session.flush()
    audit.record(ctx, "alliance_letter.deleted", "alliance_member", member_id,
                 {"letter_id": str(letter_id), "filename": letter.filename})
    if key:
        store.delete(key)
