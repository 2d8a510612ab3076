"""Custodian templates: the form a custodian team builds from the question bank.

A template chooses questions of one bank version, marks them required or not, adds the team's own guidance,
and may add follow-ups of its own ("show X only when the answer to Y is V"). A team edits one draft; publishing
it makes it version n (immutable), and the next edit starts draft n + 1. An application keeps the template
version it started on (``pin``). A team that never published a template uses the default: the bank's own
required questions (with their follow-ups), pinned as ``bank:<version>``.

``items`` (``access_templates.items``)::

    {"questions": [{"id": "<bank question id>", "required": true, "guidance": "...",
                    "show_if": {"question": "<id>", "value": "<option>"} | null}, ...]}
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from healthgate.access import bank as qbank
from healthgate.access.models import FormTemplate
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.permissions import Permission, require

DEFAULT_PREFIX = "bank:"
MAX_GUIDANCE = 5000


@dataclass(frozen=True)
class Item:
    id: str
    required: bool
    guidance: str = ""
    show_if: tuple[str, str] | None = None


@dataclass(frozen=True)
class Template:
    """A template as forms use it: which questions of which bank version (the default one has no row)."""

    ref: str  # the template id, or bank:<version> for the default
    team_id: uuid.UUID | None
    version: int | None  # None: the default
    bank: qbank.Bank
    items: tuple[Item, ...]


def _items(raw: Mapping[str, Any]) -> tuple[Item, ...]:
    out = []
    for i in raw.get("questions") or []:
        cond = i.get("show_if")
        out.append(Item(id=str(i["id"]), required=bool(i.get("required")), guidance=str(i.get("guidance") or ""),
                        show_if=(str(cond["question"]), str(cond["value"])) if cond else None))
    return tuple(out)


def default_items(b: qbank.Bank) -> tuple[Item, ...]:
    """The default form: the bank's required top-level questions."""
    return tuple(Item(id=e.id, required=True) for e in b.top_level() if e.question.get("required"))


def default(ctx: Context, bank_version: int | None = None) -> Template:
    b = qbank.get(ctx, bank_version)
    return Template(ref=f"{DEFAULT_PREFIX}{b.version}", team_id=None, version=None, bank=b, items=default_items(b))


def of_row(ctx: Context, row: FormTemplate) -> Template:
    return Template(ref=str(row.id), team_id=row.team_id, version=row.version, bank=qbank.get(ctx, row.bank_version),
                    items=_items(row.items))


def resolve(ctx: Context, ref: str | None) -> Template:
    """The template an application pinned (``ref``: a template id or bank:<version>)."""
    if ref and ref.startswith(DEFAULT_PREFIX) and ref[len(DEFAULT_PREFIX):].isdigit():
        return default(ctx, int(ref[len(DEFAULT_PREFIX):]))
    try:
        row = ctx.session.get(FormTemplate, uuid.UUID(str(ref)))
    except ValueError:
        row = None
    if row is None:
        return default(ctx)
    return of_row(ctx, row)


def published(ctx: Context, team_id: uuid.UUID) -> FormTemplate | None:
    return ctx.session.scalars(select(FormTemplate).where(FormTemplate.team_id == team_id,
                                                          FormTemplate.status == "published")
                               .order_by(FormTemplate.version.desc()).limit(1)).first()


def draft(ctx: Context, team_id: uuid.UUID, *, for_update: bool = False) -> FormTemplate | None:
    """The team's draft; ``for_update`` locks it (PostgreSQL), so a save racing a publish never changes a
    version that has just been published: the second waits, then finds no draft and starts the next one."""
    stmt = select(FormTemplate).where(FormTemplate.team_id == team_id, FormTemplate.status == "draft")
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return ctx.session.scalars(stmt).first()


def current(ctx: Context, team_id: uuid.UUID) -> Template:
    """What a new application for this team's datasets gets: its latest published template, else the default."""
    row = published(ctx, team_id)
    return of_row(ctx, row) if row is not None else default(ctx)


def pin(ctx: Context, team_ids: Iterable[uuid.UUID]) -> dict[str, str]:
    return {str(t): current(ctx, t).ref for t in team_ids}


def history(ctx: Context, team_id: uuid.UUID) -> list[FormTemplate]:
    require(ctx.actor, Permission.APPLICATION_REVIEW, on=team_id)
    return list(ctx.session.scalars(select(FormTemplate).where(FormTemplate.team_id == team_id)
                                    .order_by(FormTemplate.version.desc())))


def get_row(ctx: Context, team_id: uuid.UUID, template_id: uuid.UUID) -> FormTemplate:
    require(ctx.actor, Permission.APPLICATION_REVIEW, on=team_id)
    row = ctx.session.get(FormTemplate, template_id)
    if row is None or row.team_id != team_id:
        raise NotFound(f"no template {template_id}")
    return row


def working(ctx: Context, team_id: uuid.UUID) -> Template:
    """What the builder starts from: the draft, else the published template, else the default."""
    row = draft(ctx, team_id) or published(ctx, team_id)
    return of_row(ctx, row) if row is not None else default(ctx)


# -- building ------------------------------------------------------------------------------------------------


def clean_items(b: qbank.Bank, raw: Any, *, kept: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Check a template's items against a bank version; every problem named by its place. A retired question
    may stay in a template that already has it (``kept``), never be newly chosen."""
    if not isinstance(raw, list):
        raise Invalid("questions must be a list", [FieldError("questions", "a list of {id, required, guidance}")])
    errors: list[FieldError] = []
    out: list[dict[str, Any]] = []
    places: list[int] = []  # each kept item's place in ``raw``
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path = f"questions/{i}"
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
            errors.append(FieldError(path, "an object with the question's id"))
            continue
        extra = set(item) - {"id", "required", "guidance", "show_if"}
        errors += [FieldError(f"{path}/{k}", "unknown field") for k in sorted(extra)]
        qid = item["id"]
        entry = b.entries.get(qid)
        if entry is None:
            errors.append(FieldError(f"{path}/id", f"no question {qid} in bank version {b.version}"))
            continue
        if entry.question.get("retired") and qid not in kept:
            errors.append(FieldError(f"{path}/id", f"{qid} is retired"))
        if qid in seen:
            errors.append(FieldError(f"{path}/id", f"{qid} is chosen twice"))
        seen.add(qid)
        required = item.get("required", False)
        if not isinstance(required, bool):
            errors.append(FieldError(f"{path}/required", "true or false"))
        guidance = item.get("guidance") or ""
        if not isinstance(guidance, str) or len(guidance) > MAX_GUIDANCE:
            errors.append(FieldError(f"{path}/guidance", f"text of at most {MAX_GUIDANCE} characters"))
            guidance = ""
        out.append({"id": qid, "required": bool(required), "guidance": guidance.strip(),
                    "show_if": item.get("show_if") or None})
        places.append(i)
    # follow-ups: a chosen question shown only when another chosen choice question has a given answer
    chosen = {o["id"] for o in out}
    for i, o in zip(places, out, strict=True):
        cond = o["show_if"]
        entry = b.entries[o["id"]]
        if entry.parent is not None and entry.parent not in chosen and _top(b, entry.id) not in chosen:
            errors.append(FieldError(f"questions/{i}/id", f"{o['id']} follows up {entry.parent}: choose that too"))
        if cond is None:
            continue
        path = f"questions/{i}/show_if"
        if not isinstance(cond, Mapping) or not isinstance(cond.get("question"), str) \
                or not isinstance(cond.get("value"), str):
            errors.append(FieldError(path, "{question, value}: the question and the answer that shows this one"))
            continue
        target = b.entries.get(cond["question"])
        if target is None or cond["question"] not in chosen:
            errors.append(FieldError(f"{path}/question", "a question chosen in this template"))
        elif cond["question"] == o["id"]:
            errors.append(FieldError(f"{path}/question", "a question cannot follow up itself"))
        elif target.question["component"] not in qbank.CHOICES:
            errors.append(FieldError(f"{path}/question", "a choice question (radio buttons or check boxes)"))
        elif cond["value"] not in [opt["value"] for opt in target.question.get("options") or []]:
            errors.append(FieldError(f"{path}/value", f"one of the options of {cond['question']}"))
        else:
            o["show_if"] = {"question": cond["question"], "value": cond["value"]}
    if errors:
        raise Invalid("the template is not valid", errors)
    return out


def _top(b: qbank.Bank, qid: str) -> str:
    entry = b.entries[qid]
    while entry.parent is not None:
        entry = b.entries[entry.parent]
    return entry.id


def save_draft(ctx: Context, team_id: uuid.UUID, questions: Any) -> FormTemplate:
    """Replace the team's draft template (made on first save) with these questions, against the current bank."""
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    b = qbank.get(ctx)
    kept = frozenset(i.id for i in working(ctx, team_id).items)
    items = clean_items(b, questions, kept=kept)
    row = draft(ctx, team_id, for_update=True)
    if row is None:
        latest = ctx.session.scalar(select(func.max(FormTemplate.version)).where(FormTemplate.team_id == team_id))
        row = FormTemplate(id=uuid.uuid4(), team_id=team_id, version=(latest or 0) + 1, bank_version=b.version,
                           items={"questions": items}, status="draft", created_at=ctx.now(),
                           created_by=ctx.actor.name)
        try:
            with ctx.session.begin_nested():
                ctx.session.add(row)
        except IntegrityError:
            raise Conflict("someone else started a draft of this form meanwhile; reload",
                           [FieldError("version", "a draft was started meanwhile")]) from None
    else:
        row.items = {"questions": items}
        row.bank_version = b.version
    audit.record(ctx, "access_template.draft_saved", "team", team_id,
                 {"template_id": str(row.id), "version": row.version, "questions": len(items)})
    return row


def publish(ctx: Context, team_id: uuid.UUID) -> FormTemplate:
    """The draft becomes the team's published template (new applications get it; older ones keep theirs)."""
    require(ctx.actor, Permission.APPLICATION_MANAGE, on=team_id)
    row = draft(ctx, team_id, for_update=True)
    if row is None:
        raise Conflict("there is no draft to publish", [FieldError("template", "save a draft first")])
    b = qbank.get(ctx, row.bank_version)
    items = row.items.get("questions") or []
    clean_items(b, items, kept=frozenset(i["id"] for i in items))  # still valid against its bank version
    if not row.items.get("questions"):
        raise Invalid("a template asks at least one question", [FieldError("questions", "choose questions")])
    row.status = "published"
    row.published_at = ctx.now()
    audit.record(ctx, "access_template.published", "team", team_id,
                 {"template_id": str(row.id), "version": row.version, "bank_version": row.bank_version})
    return row
