"""The central question bank, grouped by the Five Safes, and its versions.

Version 1 is read from HDR UK's own question bank, shipped in ``access/data/dar/`` (Apache-2.0), turned into
one canonical shape (both of HDR UK's formats, the Gateway's ``field`` questions and the older ``input``
follow-ups, become the same thing), with stable, readable question ids derived from section, sub-section and
title (``safedata.lawful-basis.article-6-lawful-basis``), and with the questions the issue asks for that HDR UK's
bank lacks added as healthgate's own (``source: "healthgate"``). Each change an alliance admin makes (add, edit,
retire a question) is a new version; versions are immutable, so a parsed version is cached by its number.

The canonical shape (``access_question_bank.questions``)::

    {"sections": [{"key": "safedata", "title": "Safe data", "description": "...",
                   "subsections": [{"key": "lawful-basis", "title": "Lawful basis", "description": "...",
                                    "questions": [QUESTION, ...]}]}]}
    QUESTION = {"id", "title", "guidance", "component", "required", "options": [{"value", "questions": [...]}],
                "validations": [{"min"?, "max"?, "type"?, "message"?}], "source": "hdruk" | "healthgate",
                "retired": false}

An option's ``questions`` are follow-ups asked only when that option is chosen.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from healthgate.access.models import QuestionBankVersion
from healthgate.audit import service as audit
from healthgate.context import Context
from healthgate.errors import Conflict, FieldError, Invalid, NotFound
from healthgate.identity.permissions import Permission, require

FILES = ("hdruk-question-bank.json", "hdruk-question-bank-part-two.json")
SECTIONS: dict[str, str] = {
    "safepeople": "Safe people",
    "safeproject": "Safe project",
    "safedata": "Safe data",
    "safesettings": "Safe settings",
    "safeoutputs": "Safe outputs",
    "additionalinfo": "Additional information and files",
}
COMPONENTS = ("TextField", "TextArea", "RadioGroup", "CheckboxGroup", "DatePicker", "FileUploadMultiple")
CHOICES = ("RadioGroup", "CheckboxGroup")
# HDR UK's older follow-up format names its inputs differently; each becomes one of COMPONENTS.
_INPUT_TYPES = {
    "textInput": "TextField", "textareaInput": "TextArea", "TextArea": "TextArea",
    "checkboxOptionsInput": "CheckboxGroup", "radioOptionsInput": "RadioGroup",
    "datePickerCustom": "DatePicker", "doubleDropdownCustom": "CheckboxGroup",
}
MAX_ID = 200  # access_attachments.question_id and access_messages.question_id hold 200 characters
_SLUG_WORDS = 6
_STOP = {"a", "an", "the", "of", "to", "and", "or", "for", "in", "on", "is", "be", "will", "you", "your",
         "please", "if", "this", "that", "any", "are", "do", "does", "has", "have", "what", "which", "with"}


def slug(text: str, words: int = _SLUG_WORDS) -> str:
    """A short, readable slug of a title: lower case, stop words dropped, at most ``words`` words."""
    tokens = re.findall(r"[a-z0-9]+", text.lower())
    kept = [t for t in tokens if t not in _STOP] or tokens
    return "-".join(kept[:words]) or "question"


# -- reading the shipped files ----------------------------------------------------------------------------


def _shipped(name: str) -> Any:
    return json.loads(resources.files("healthgate.access").joinpath(f"data/dar/{name}").read_text("utf-8"))


def _validations(raw: Any) -> list[dict[str, Any]]:
    out = []
    for v in raw or []:
        if not isinstance(v, Mapping):
            continue
        item: dict[str, Any] = {}
        if v.get("type") == "email":
            item["type"] = "email"
        elif v.get("type") == "isCustomDate":
            item["type"] = "date"
        elif v.get("type") == "isLength":
            params = list(v.get("params") or [])
            if params:
                item["min"] = int(params[0])
            if len(params) > 1:
                item["max"] = int(params[1])
        for key in ("min", "max"):
            if isinstance(v.get(key), int):
                item[key] = v[key]
        if v.get("message"):
            item["message"] = str(v["message"])
        if item and item not in out:
            out.append(item)
    return out


class _Ids:
    """Unique ids within one bank: a clash gets -2, -3 ..."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def make(self, prefix: str, title: str) -> str:
        base = f"{prefix}.{slug(title)}"[:MAX_ID - 4].rstrip("-.")
        qid, n = base, 2
        while qid in self.seen:
            qid, n = f"{base}-{n}", n + 1
        self.seen.add(qid)
        return qid


def _question(raw: Mapping[str, Any], prefix: str, ids: _Ids) -> dict[str, Any] | None:
    """One HDR UK question in either format, with its follow-ups, in the canonical shape (None: not a
    question, such as the older format's "add another" buttons)."""
    if "field" in raw:
        field = raw["field"] or {}
        component = str(field.get("component") or "TextField")
        title = str(raw.get("title") or "")
        raw_options = field.get("options") or []
        validations = _validations(field.get("validations"))
        required = bool(raw.get("required") or raw.get("force_required"))
    else:
        inp = raw.get("input") or {}
        kind = str(inp.get("type") or "")
        if kind not in _INPUT_TYPES:
            return None
        component = _INPUT_TYPES[kind]
        title = str(raw.get("question") or raw.get("label") or "")
        raw_options = []
        for o in inp.get("options") or []:
            raw_options.append(o)
            for extra in o.get("extraOptions") or []:  # the two-level research type list, flattened
                raw_options.append({"value": f"{o.get('value')}: {extra.get('value')}"})
        validations = _validations(raw.get("validations") or inp.get("validations"))
        required = bool(raw.get("required") or inp.get("required"))
    if component not in COMPONENTS or not title.strip():
        return None
    qid = ids.make(prefix, title)
    options = []
    for o in raw_options:
        value = str(o.get("value") if o.get("value") is not None else o.get("text", "")).strip()
        if not value:
            continue
        follow = [q for q in (_question(c, qid, ids) for c in (o.get("conditional") or o.get("conditionalQuestions")
                                                              or [])) if q is not None]
        options.append({"value": value, "questions": follow})
    return {"id": qid, "title": title.strip(), "guidance": str(raw.get("guidance") or "").strip(),
            "component": component, "required": required, "options": options, "validations": validations,
            "source": "hdruk", "retired": False}


def _healthgate_additions() -> list[tuple[str, dict[str, Any], str | None]]:
    """What the issue asks safe data to cover that HDR UK's bank lacks: (section, sub-section, after which
    sub-section key it goes). Checked against the shipped bank: datasets and fields, linkage, GDPR Art. 6
    and Art. 9, the common law duty of confidentiality (consent / section 251 / other) and ethics approval
    are all there; the national data opt-out is not."""
    opt_out = "safedata.national-data-opt-out"
    sub = {
        "key": "national-data-opt-out", "title": "National data opt-out",
        "description": "Patients in England may opt out of their confidential patient information being used "
                       "for research and planning (the national data opt-out). Say whether it applies to the "
                       "data requested and how it is respected.",
        "questions": [
            {"id": f"{opt_out}.applies", "title": "Does the national data opt-out apply to the data requested?",
             "guidance": "It applies to confidential patient information from health and adult social care in "
                         "England used for purposes beyond individual care, unless an exemption applies (for "
                         "example, the data are anonymised, or the individuals gave explicit consent).",
             "component": "RadioGroup", "required": True, "validations": [], "source": "healthgate",
             "retired": False, "options": [
                 {"value": "Yes, opted-out patients' data will be excluded", "questions": []},
                 {"value": "No, an exemption applies", "questions": [
                     {"id": f"{opt_out}.applies.exemption", "title": "Which exemption applies, and why?",
                      "guidance": "For example: explicit consent, anonymised data, section 251 support with the "
                                  "opt-out set aside by the Confidentiality Advisory Group, or a legal duty.",
                      "component": "TextArea", "required": True, "options": [], "validations": [],
                      "source": "healthgate", "retired": False}]},
                 {"value": "Not applicable: no confidential patient information from England", "questions": []},
             ]},
        ],
    }
    return [("safedata", sub, "confidentiality-avenue")]


def canonical() -> dict[str, Any]:
    """Version 1 of the bank: HDR UK's two files, merged by section (part two's safe data sub-section joins
    safe data), with healthgate's additions."""
    ids = _Ids()
    sections: dict[str, dict[str, Any]] = {
        k: {"key": k, "title": t, "description": "", "subsections": []} for k, t in SECTIONS.items()}
    for name in FILES:
        for raw_section in _shipped(name):
            for raw_sub in raw_section.get("subSections") or []:
                key = str(raw_sub.get("sub_section") or "additionalinfo")
                section = sections.setdefault(key, {"key": key, "title": str(raw_section.get("title") or key),
                                                    "description": "", "subsections": []})
                if not section["description"]:
                    section["description"] = str(raw_section.get("description") or "").strip()
                sub_key = slug(str(raw_sub.get("name") or "questions"), words=8)
                prefix = f"{key}.{sub_key}"
                questions = [q for q in (_question(r, prefix, ids) for r in raw_sub.get("questions") or [])
                             if q is not None]
                section["subsections"].append({"key": sub_key, "title": str(raw_sub.get("name") or ""),
                                               "description": str(raw_sub.get("description") or "").strip(),
                                               "questions": questions})
    for key, sub, after in _healthgate_additions():
        subs = sections[key]["subsections"]
        at = next((i + 1 for i, s in enumerate(subs) if s["key"] == after), len(subs))
        subs.insert(at, sub)
    return {"sections": [sections[k] for k in sections if sections[k]["subsections"]]}


# -- a parsed version ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One question of a bank version with where it sits: its section and sub-section, and the question and
    option it follows up (a top-level question has no parent)."""

    question: Mapping[str, Any]
    section: str
    subsection: str
    parent: str | None = None
    option: str | None = None

    @property
    def id(self) -> str:
        return str(self.question["id"])


@dataclass(frozen=True)
class Bank:
    version: int
    doc: Mapping[str, Any]
    entries: Mapping[str, Entry]  # every question, follow-ups too, in bank order

    def top_level(self, *, retired: bool = False) -> Iterator[Entry]:
        return (e for e in self.entries.values()
                if e.parent is None and (retired or not e.question.get("retired")))

    def children(self, qid: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.parent == qid]

    def section_title(self, key: str) -> str:
        return next((s["title"] for s in self.doc["sections"] if s["key"] == key), key)


def _walk(doc: Mapping[str, Any]) -> dict[str, Entry]:
    out: dict[str, Entry] = {}

    def visit(q: Mapping[str, Any], section: str, sub: str, parent: str | None, option: str | None) -> None:
        out[str(q["id"])] = Entry(q, section, sub, parent, option)
        for o in q.get("options") or []:
            for child in o.get("questions") or []:
                visit(child, section, sub, str(q["id"]), str(o["value"]))

    for s in doc["sections"]:
        for sub in s["subsections"]:
            for q in sub["questions"]:
                visit(q, s["key"], sub["key"], None, None)
    return out


# Versions never change, so a parsed version is kept in memory, keyed by its number and its note, which ends
# with a digest of its content (a row written by anything else carries none and is parsed each time).
_CACHE: dict[tuple[int, str], Bank] = {}
_CACHE_SIZE = 64


def digest(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def _note(text: str, doc: Mapping[str, Any]) -> str:
    return f"{text[:1900]} · sha256 {digest(doc)}"


# -- versions in the database -------------------------------------------------------------------------------


def latest_version(ctx: Context) -> int | None:
    return ctx.session.scalar(select(func.max(QuestionBankVersion.version)))


def ensure_seeded(ctx: Context) -> int:
    """The current version number, seeding version 1 from the shipped files on first use. Two processes
    seeding at once both try to insert version 1 in a savepoint; one wins and the other reads it."""
    current = latest_version(ctx)
    if current is not None:
        return current
    try:
        with ctx.session.begin_nested():
            doc = canonical()
            ctx.session.add(QuestionBankVersion(version=1, questions=doc, created_at=ctx.now(),
                                                created_by="healthgate (HDR UK question bank)",
                                                note=_note("Seeded from HDR UK's question bank", doc)))
    except IntegrityError:
        pass
    return latest_version(ctx) or 1


def get(ctx: Context, version: int | None = None) -> Bank:
    """A version of the bank (the current one by default)."""
    current = ensure_seeded(ctx)
    number = version if version is not None else current
    note = ctx.session.scalar(select(QuestionBankVersion.note).where(QuestionBankVersion.version == number))
    if note is None:
        raise NotFound(f"no question bank version {number}")
    cached = _CACHE.get((number, note))
    if cached is not None:
        return cached
    row = ctx.session.get(QuestionBankVersion, number)
    assert row is not None
    parsed = Bank(version=number, doc=row.questions, entries=_walk(row.questions))
    if " · sha256 " in note and note.endswith(digest(row.questions)):
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[(number, note)] = parsed
    return parsed


def versions(ctx: Context) -> list[QuestionBankVersion]:
    ensure_seeded(ctx)
    return list(ctx.session.scalars(select(QuestionBankVersion).order_by(QuestionBankVersion.version.desc())))


def for_admin(ctx: Context) -> tuple[Bank, list[QuestionBankVersion]]:
    """The current bank and its versions, for the alliance admin's page."""
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    return get(ctx), versions(ctx)


# -- changes by an alliance admin ---------------------------------------------------------------------------


def _clean_question(raw: Mapping[str, Any], path: str, *, partial: bool = False) -> dict[str, Any]:
    """A question as an admin gives it (title, component, guidance, required, options as a list of values)."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    unknown = set(raw) - {"title", "guidance", "component", "required", "options"}
    errors += [FieldError(f"{path}/{k}", "unknown field") for k in sorted(unknown)]
    if "title" in raw or not partial:
        title = raw.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > 1000:
            errors.append(FieldError(f"{path}/title", "give a title of at most 1000 characters"))
        else:
            out["title"] = title.strip()
    if "component" in raw or not partial:
        component = raw.get("component", "TextArea" if partial else raw.get("component"))
        if component not in COMPONENTS:
            errors.append(FieldError(f"{path}/component", f"one of {', '.join(COMPONENTS)}"))
        else:
            out["component"] = component
    if "guidance" in raw:
        if not isinstance(raw["guidance"], str) or len(raw["guidance"]) > 5000:
            errors.append(FieldError(f"{path}/guidance", "text of at most 5000 characters"))
        else:
            out["guidance"] = raw["guidance"].strip()
    if "required" in raw:
        if not isinstance(raw["required"], bool):
            errors.append(FieldError(f"{path}/required", "true or false"))
        else:
            out["required"] = raw["required"]
    if "options" in raw:
        opts = raw["options"]
        if not isinstance(opts, list) or not all(isinstance(o, str) and o.strip() and len(o) <= 1000 for o in opts):
            errors.append(FieldError(f"{path}/options", "a list of option texts"))
        else:
            out["options"] = list(dict.fromkeys(o.strip() for o in opts))  # the same option twice is one
    if errors:
        raise Invalid("the question is not valid", errors)
    return out


def _new_version(ctx: Context, doc: dict[str, Any], read: int, note: str, action: str, qid: str,
                 data: dict[str, Any]) -> Bank:
    try:
        with ctx.session.begin_nested():
            ctx.session.add(QuestionBankVersion(version=read + 1, questions=doc, created_at=ctx.now(),
                                                created_by=ctx.actor.name, note=_note(note, doc)))
    except IntegrityError:
        raise Conflict("the question bank changed meanwhile; reload and try again",
                       [FieldError("version", f"you read version {read}")]) from None
    audit.record(ctx, action, "question_bank", read + 1, {"question_id": qid, **data})
    return get(ctx, read + 1)


def _base(ctx: Context, expected_version: int | None) -> tuple[int, dict[str, Any]]:
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    current = get(ctx)
    if expected_version is not None and expected_version != current.version:
        raise Conflict("the question bank changed meanwhile; reload and try again",
                       [FieldError("version", f"you read version {expected_version}; it is {current.version}")])
    return current.version, copy.deepcopy(dict(current.doc))


def _find(doc: dict[str, Any], qid: str) -> dict[str, Any]:
    for entry_id, entry in _walk(doc).items():
        if entry_id == qid:
            return entry.question  # type: ignore[return-value]  # the same dict inside ``doc``
    raise NotFound(f"no question {qid} in the bank")


def _options(values: list[str], old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """New option values, keeping the follow-ups of options that stay."""
    before = {o["value"]: o for o in old}
    return [{"value": v, "questions": before.get(v, {}).get("questions", [])} for v in values]


def add_question(ctx: Context, section: str, subsection: str, question: Mapping[str, Any], *,
                 parent: str | None = None, option: str | None = None, expected_version: int | None = None
                 ) -> tuple[Bank, str]:
    """Add a question (healthgate's own) to a sub-section, or as a follow-up of ``parent``'s ``option``.
    Its id is derived from where it goes and its title. Returns the new version and the question's id."""
    read, doc = _base(ctx, expected_version)
    q = _clean_question(question, "question")
    ids = _Ids()
    ids.seen = set(_walk(doc))
    new = {"title": q["title"], "guidance": q.get("guidance", ""), "component": q["component"],
           "required": q.get("required", False), "options": _options(q.get("options", []), []),
           "validations": [], "source": "healthgate", "retired": False}
    if new["component"] in CHOICES and not new["options"]:
        raise Invalid("a choice question needs options", [FieldError("question/options", "give the options")])
    if parent is not None:
        host = _find(doc, parent)
        target = next((o for o in host.get("options") or [] if o["value"] == option), None)
        if target is None:
            raise Invalid("no such option", [FieldError("option", f"one of the options of {parent}")])
        new = {"id": ids.make(parent, q["title"]), **new}
        target.setdefault("questions", []).append(new)
    else:
        sec = next((s for s in doc["sections"] if s["key"] == section), None)
        if sec is None:
            raise Invalid("no such section", [FieldError("section", f"one of {', '.join(SECTIONS)}")])
        sub_key = slug(subsection, words=8) if subsection else "other"
        sub = next((s for s in sec["subsections"] if s["key"] in (subsection, sub_key)), None)
        if sub is None:
            sub = {"key": sub_key, "title": subsection or "Other", "description": "", "questions": []}
            sec["subsections"].append(sub)
        new = {"id": ids.make(f"{section}.{sub['key']}", q["title"]), **new}
        sub["questions"].append(new)
    return _new_version(ctx, doc, read, f"added {new['id']}", "question_bank.question_added", new["id"],
                        {"title": new["title"]}), new["id"]


def edit_question(ctx: Context, qid: str, changes: Mapping[str, Any], *,
                  expected_version: int | None = None) -> Bank:
    """Change a question's title, guidance, component, required flag or options. Its id stays (answers are
    keyed by it); templates pinned to older versions keep the old wording."""
    read, doc = _base(ctx, expected_version)
    q = _find(doc, qid)
    clean = _clean_question(changes, "changes", partial=True)
    if not clean:
        raise Invalid("nothing to change", [FieldError("changes", "give a field to change")])
    if "options" in clean:
        clean["options"] = _options(clean["options"], q.get("options") or [])
    q.update(clean)
    if q["component"] in CHOICES and not q.get("options"):
        raise Invalid("a choice question needs options", [FieldError("changes/options", "give the options")])
    return _new_version(ctx, doc, read, f"edited {qid}", "question_bank.question_edited", qid,
                        {"fields": sorted(clean)})


def retire_question(ctx: Context, qid: str, *, expected_version: int | None = None) -> Bank:
    """Retire a question: new templates cannot choose it; templates and applications that have it keep it."""
    read, doc = _base(ctx, expected_version)
    q = _find(doc, qid)
    if q.get("retired"):
        raise Conflict(f"{qid} is already retired", [FieldError("question_id", "already retired")])
    q["retired"] = True
    return _new_version(ctx, doc, read, f"retired {qid}", "question_bank.question_retired", qid, {})
