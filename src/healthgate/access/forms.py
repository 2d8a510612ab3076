"""Forms: the question bank, custodian templates and the answers an application gives.

The service calls three functions of this module (``pin_templates`` when an application starts or gains a
custodian, ``clean_answers`` on save, ``missing_answers`` on submission); pages and the API show
``form_for``. An application's form is the union of the templates its custodian teams' parts pinned: each
question asked once even when several custodians ask it, required if any of them requires it, with the bank's
follow-ups (and the templates' own) shown only when their condition holds."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import select

from healthgate.access import bank as qbank
from healthgate.access import templates as tpl
from healthgate.access.lifecycle import State
from healthgate.access.models import Attachment
from healthgate.context import Context
from healthgate.errors import FieldError, Invalid
from healthgate.identity.models import Team

MAX_TEXT = 20_000
MAX_CHOICES = 100
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def pin_templates(ctx: Context, team_ids: Iterable[uuid.UUID]) -> dict[str, str]:
    """The template each team uses now (team id -> template id, or bank:<version> for the default), for an
    application to keep."""
    return tpl.pin(ctx, team_ids)


# -- the form an application shows (applicant pages render it with web/templates/access/forms/_fields.html) --


@dataclass(frozen=True)
class Question:
    id: str  # the bank's stable question id; answers are keyed by it
    title: str
    guidance: str
    component: str  # TextField | TextArea | RadioGroup | CheckboxGroup | DatePicker | FileUploadMultiple
    options: tuple[str, ...] = ()
    required: bool = False
    answer: Any = None
    show_if: tuple[str, str] | None = None  # (question id, option value): a follow-up shown only then
    subsection: str = ""  # the bank sub-section's title
    depth: int = 0  # 0: a question; 1, 2 ...: a follow-up (of a follow-up)
    validations: tuple[Mapping[str, Any], ...] = ()
    source: str = "hdruk"  # hdruk | healthgate
    asked_by: tuple[str, ...] = ()  # the custodian teams whose templates ask it


@dataclass(frozen=True)
class Section:
    key: str  # safepeople | safeproject | safedata | safesettings | safeoutputs | additionalinfo
    title: str
    description: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class ApplicationForm:
    """Every question the application's pinned templates ask, once each, by Five Safes section."""

    sections: tuple[Section, ...]
    attachments: Mapping[str, str] = field(default_factory=dict)  # attachment id -> file name

    def questions(self) -> Iterator[Question]:
        for s in self.sections:
            yield from s.questions

    def index(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions()}


@dataclass
class _Merged:
    entry: qbank.Entry
    bank_version: int
    required: bool = False
    guidance: list[str] = field(default_factory=list)
    conditions: set[tuple[str, str]] = field(default_factory=set)
    always: bool = False
    teams: list[str] = field(default_factory=list)
    depth: int = 0


def _team_names(ctx: Context, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(ids)
    if not wanted:
        return {}
    return {t.id: t.name for t in ctx.session.scalars(select(Team).where(Team.id.in_(wanted)))}


def _pinned(ctx: Context, state: State) -> list[tuple[uuid.UUID, tpl.Template]]:
    out = []
    for team in state.teams:
        ref = state.templates.get(str(team))
        out.append((team, tpl.resolve(ctx, ref) if ref else tpl.current(ctx, team)))
    return out


def _merge(ctx: Context, state: State) -> tuple[dict[str, _Merged], list[str], qbank.Bank | None]:
    """Every question of the pinned templates, merged by id, in bank order."""
    pinned = _pinned(ctx, state)
    names = _team_names(ctx, [t for t, _ in pinned])
    merged: dict[str, _Merged] = {}

    def take(b: qbank.Bank, entry: qbank.Entry, team: str, depth: int) -> _Merged:
        m = merged.get(entry.id)
        if m is None:
            m = merged[entry.id] = _Merged(entry=entry, bank_version=b.version, depth=depth)
        elif b.version > m.bank_version:  # the newest wording among the templates that ask it
            m.entry, m.bank_version = entry, b.version
        if team not in m.teams:
            m.teams.append(team)
        return m

    def with_children(b: qbank.Bank, entry: qbank.Entry, team: str, depth: int) -> None:
        for child in b.children(entry.id):
            m = take(b, child, team, depth + 1)
            m.required = m.required or bool(child.question.get("required"))
            m.conditions.add((entry.id, str(child.option)))
            with_children(b, child, team, depth + 1)

    for team_id, t in pinned:
        team = names.get(team_id, str(team_id))
        items = {i.id: i for i in t.items}
        for item in t.items:
            entry = t.bank.entries.get(item.id)
            if entry is None or entry.parent is not None:
                continue
            m = take(t.bank, entry, team, 0)
            m.required = m.required or item.required
            if item.show_if is None:
                m.always = True
            else:
                m.conditions.add(item.show_if)
            if item.guidance:
                m.guidance.append(f"{team}: {item.guidance}")
            with_children(t.bank, entry, team, 0)
        for item in t.items:  # a template's settings for follow-ups it chose explicitly
            entry = t.bank.entries.get(item.id)
            if entry is None or entry.parent is None or item.id not in merged:
                continue
            m = merged[item.id]
            m.required = m.required or items[item.id].required
            if item.guidance:
                m.guidance.append(f"{team}: {item.guidance}")
    newest = max((t.bank for _, t in pinned), key=lambda b: b.version, default=None)
    order = list(newest.entries) if newest is not None else []
    position = {qid: i for i, qid in enumerate(order)}
    ids = sorted(merged, key=lambda q: (position.get(q, len(order)), q))
    return merged, ids, newest


def _show_if(m: _Merged) -> tuple[str, str] | None:
    """A question any template asks unconditionally is always shown; one asked on one condition is shown on
    it; one asked on differing conditions by different templates is shown always (asked once, never lost)."""
    if m.entry.parent is not None:
        return (m.entry.parent, str(m.entry.option))
    if m.always or len(m.conditions) != 1:
        return None
    return next(iter(m.conditions))


def _answer(q: Mapping[str, Any], state: State, files: list[tuple[str, str, str | None]]) -> Any:
    """A question's answer; a file question's is the files attached to it (uploaded for it, or named by a
    saved answer) that are still there."""
    saved = state.answers.get(str(q["id"]))
    if q["component"] != "FileUploadMultiple":
        return saved
    present = {i for i, _, _ in files}
    named = [a for a in (saved if isinstance(saved, list) else []) if a in present]
    ids = list(dict.fromkeys([*named, *(i for i, _, question in files if question == q["id"])]))
    return ids or None


def _questions(ctx: Context, state: State, files: list[tuple[str, str, str | None]]
               ) -> tuple[list[Question], qbank.Bank | None, dict[str, _Merged]]:
    merged, ids, newest = _merge(ctx, state)
    out = []
    for qid in ids:
        m = merged[qid]
        q = m.entry.question
        guidance = "\n\n".join([g for g in [str(q.get("guidance") or "")] if g] + m.guidance)
        sub = next((s["title"] for s in _subsections(newest) if s["key"] == m.entry.subsection), "")
        out.append(Question(
            id=qid, title=str(q["title"]), guidance=guidance, component=str(q["component"]),
            options=tuple(str(o["value"]) for o in q.get("options") or []), required=m.required,
            answer=_answer(q, state, files), show_if=_show_if(m), subsection=sub, depth=m.depth,
            validations=tuple(q.get("validations") or ()), source=str(q.get("source") or "hdruk"),
            asked_by=tuple(m.teams)))
    return out, newest, merged


def _subsections(b: qbank.Bank | None) -> list[Mapping[str, Any]]:
    if b is None:
        return []
    return [sub for s in b.doc["sections"] for sub in s["subsections"]]


def _attachments(ctx: Context, application_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    """(id, file name, question id) of the application's files, oldest first."""
    rows = ctx.session.execute(select(Attachment.id, Attachment.filename, Attachment.question_id).where(
        Attachment.application_id == application_id, Attachment.deleted_at.is_(None))
        .order_by(Attachment.created_at, Attachment.id))
    return [(str(i), name, question) for i, name, question in rows]


def form_for(ctx: Context, state: State) -> ApplicationForm:
    """The application's whole form with its current answers, grouped by Five Safes section."""
    files = _attachments(ctx, state.id)
    questions, newest, merged = _questions(ctx, state, files)
    sections = []
    keys = list(qbank.SECTIONS) + sorted({merged[q.id].entry.section for q in questions} - set(qbank.SECTIONS))
    for key in keys:
        qs = tuple(q for q in questions if merged[q.id].entry.section == key)
        if not qs:
            continue
        doc: Mapping[str, Any] = next((s for s in newest.doc["sections"] if s["key"] == key), {}) if newest else {}
        sections.append(Section(key=key, title=str(doc.get("title") or qbank.SECTIONS.get(key, key)),
                                description=str(doc.get("description") or ""), questions=qs))
    return ApplicationForm(sections=tuple(sections), attachments={i: name for i, name, _ in files})


def answers_from_form(form: ApplicationForm, data: Mapping[str, Any]) -> dict[str, Any]:
    """The answers posted by ``_fields.html``: one field ``q:<question id>`` per question (every value of a
    check box group; its hidden empty value makes "none ticked" clear the answer). ``data`` maps a name to
    its value or to the list of its values (``Posted.fields``). File questions are answered by uploading."""
    out: dict[str, Any] = {}
    for q in form.questions():
        name = f"q:{q.id}"
        if name not in data or q.component == "FileUploadMultiple":
            continue
        raw = data[name]
        values = [str(v) for v in (raw if isinstance(raw, (list, tuple)) else [raw])]
        if q.component == "CheckboxGroup":
            out[q.id] = [v for v in values if v != ""]
        else:
            out[q.id] = next((v for v in reversed(values) if v != ""), "")
    return out


# -- checking answers ------------------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, (list, tuple)) and not value)


def _check(q: Question, value: Any, attachments: Mapping[str, str]) -> tuple[Any, str | None]:
    """(the value to store, or an error message)."""
    c = q.component
    if c in ("TextField", "TextArea"):
        if not isinstance(value, str):
            return None, "must be text"
        text = value.strip()
        if len(text) > MAX_TEXT:
            return None, f"at most {MAX_TEXT} characters"
        for v in q.validations:
            if v.get("type") == "email" and not _EMAIL.match(text):
                return None, "must be an email address"
            if isinstance(v.get("min"), int) and len(text) < v["min"]:
                return None, str(v.get("message") or f"at least {v['min']} characters")
            if isinstance(v.get("max"), int) and len(text) > v["max"]:
                return None, f"at most {v['max']} characters"
        return text, None
    if c == "RadioGroup":
        if not isinstance(value, str):
            return None, "must be one of the options"
        if value not in q.options:
            return None, "is not one of the options"
        return value, None
    if c == "CheckboxGroup":
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            return None, "must be a list of options"
        if len(values) > MAX_CHOICES:
            return None, f"at most {MAX_CHOICES} choices"
        bad = [v for v in values if v not in q.options]
        if bad:
            return None, f"not among the options: {', '.join(sorted(set(bad)))[:300]}"
        return [o for o in q.options if o in values], None
    if c == "DatePicker":
        if not isinstance(value, str):
            return None, "must be a date (YYYY-MM-DD)"
        try:
            return date.fromisoformat(value.strip()).isoformat(), None
        except ValueError:
            return None, "must be a date (YYYY-MM-DD)"
    if c == "FileUploadMultiple":
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            return None, "must be a list of attachment ids"
        unknown = [v for v in values if v not in attachments]
        if unknown:
            return None, "names files that are not attached to this application"
        return list(dict.fromkeys(values)), None
    return None, f"cannot be answered ({c})"


def clean_answers(ctx: Context, state: State, answers: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Check answers to save against the application's templates: (answers to store, ids to clear). An empty
    value clears an answer. Raises ``Invalid`` naming each bad answer by question (``answers/<id>``)."""
    form = form_for(ctx, state)
    index = form.index()
    kept: dict[str, Any] = {}
    cleared: list[str] = []
    errors: list[FieldError] = []
    for qid, value in answers.items():
        q = index.get(str(qid))
        if q is None:
            errors.append(FieldError(f"answers/{qid}", "is not a question of this application's form"))
            continue
        if _empty(value):
            if q.id in state.answers:
                cleared.append(q.id)
            continue
        clean, problem = _check(q, value, form.attachments)
        if problem:
            errors.append(FieldError(f"answers/{q.id}", problem))
        else:
            kept[q.id] = clean
    if errors:
        raise Invalid(f"{len(errors)} answer(s) are not valid", errors)
    return kept, cleared


def shown(q: Question, index: Mapping[str, Question], answers: Mapping[str, Any]) -> bool:
    """Whether a question is asked given these answers: a follow-up only when its condition holds (and its
    own question is asked)."""
    seen = set()
    while q.show_if is not None:
        if q.id in seen:
            return False
        seen.add(q.id)
        parent_id, value = q.show_if
        answer = answers.get(parent_id)
        chosen = answer if isinstance(answer, list) else [answer]
        if value not in chosen:
            return False
        parent = index.get(parent_id)
        if parent is None:
            return True
        q = parent
    return True


def missing_answers(ctx: Context, state: State) -> list[FieldError]:
    """Every required answer the application lacks, by question (checked on submission): follow-ups too,
    when their condition holds."""
    form = form_for(ctx, state)
    index = form.index()
    answers = {q.id: q.answer for q in form.questions()}  # a file question is answered by its files
    return [FieldError(f"answers/{q.id}", f"{q.title} is required") for q in form.questions()
            if q.required and shown(q, index, answers) and _empty(q.answer)]


def errors_by_question(errors: Iterable[FieldError]) -> dict[str, str]:
    """``Invalid`` errors of ``clean_answers`` or ``missing_answers`` (paths ``answers/<id>``) as ``_fields.html``
    takes them: question id -> message."""
    return {e.path.removeprefix("answers/"): e.message for e in errors if e.path.startswith("answers/")}


def visible_answers(form: ApplicationForm) -> ApplicationForm:
    """The form with only the questions its answers show (for the printable view)."""
    index = form.index()
    answers = {q.id: q.answer for q in form.questions() if q.answer is not None}
    sections = tuple(replace(s, questions=tuple(q for q in s.questions if shown(q, index, answers)))
                     for s in form.sections)
    return replace(form, sections=tuple(s for s in sections if s.questions))
