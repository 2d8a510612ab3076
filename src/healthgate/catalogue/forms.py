"""The dataset form of the custodian workspace, generated from the HDR UK 4.0.0 JSON schema.

``form()`` walks the schema once: every object becomes a group of fields (the top-level ones are the form's
sections), every property a field with the schema's title as label, its description as help text (and its
guidance behind a disclosure), required ones marked, enumerations as choices and arrays of objects as repeatable
groups. ``parse`` turns posted form fields back into a document, ``values`` a document into form fields, and
``errors_by_field`` places the catalogue's validation errors (``$.summary.title``) beside their fields
(``summary.title``). Pure: no database, no web framework.

Field names are the document paths without ``$.``: ``summary.title``, ``observations[0].measuredValue``.
A value the form cannot read (letters in a number field) is kept as typed, so that the draft keeps it and
the schema error says what is wrong next to the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from healthgate.errors import FieldError

SCHEMA_VERSION = "4.0.0"
MAX_ITEMS = 500  # repeated items read from one form (a bound on what a crafted post can make us build)
CHECKBOX_LIMIT = 16  # enumerations with more choices than this are a multiple-choice list, not checkboxes
TEXTAREA_FROM = 501  # strings allowed to be longer than this are a text area
# Beside a field that may hold a string or a list: this field held a list, so one line stays a list of one.
LIST_MARK = "~list"
# A section too large to edit field by field (thousands of table columns) travels whole, as JSON, in one field
# named after it with this mark; saving keeps it as it was.
KEPT_MARK = "~json"
MAX_SECTION_FIELDS = 1500

SECTION_ORDER = ["summary", "documentation", "coverage", "provenance", "accessibility", "enrichmentAndLinkage",
                 "observations", "structuralMetadata", "demographicFrequency", "omics"]
RECORD = "record"  # the pseudo-section of the top-level scalars (identifier, version, dates, revisions)


@dataclass
class Field:
    """One field of the form (``kind`` says how it is shown and read):

    group (an object: ``children``), repeat (a list of objects: ``children`` of each item), text, textarea,
    integer, boolean, choice (one of ``options``), choices (several of ``options``), lines (a list of strings,
    one per line; ``single`` when one line is stored as a plain string)."""

    key: str
    label: str
    kind: str
    required: bool = False
    help: str = ""
    guidance: str = ""
    options: list[str] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    max_length: int | None = None
    single: bool = False
    hint: str = ""  # the format expected, when the schema says (a date, an email address, a URL)

    def child(self, key: str) -> Field | None:
        return next((c for c in self.children if c.key == key), None)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """A choice's (value, text) pairs."""
        return [("true", "Yes"), ("false", "No")] if self.kind == "boolean" else [(o, o) for o in self.options]


@dataclass
class Section:
    key: str
    label: str
    help: str
    group: Field  # a group; for a section that is a list (observations) a group holding that one repeat


def _schema() -> dict[str, Any]:
    text = resources.files("healthgate.catalogue.standard").joinpath(f"schemas/{SCHEMA_VERSION}.schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


def _text(value: Any) -> str:
    """Schema prose as plain text: the schema's escaped newlines made real, Markdown emphasis dropped."""
    if not isinstance(value, str):
        return ""
    return value.replace("\\n", "\n").replace("**", "").strip()


class _Walker:
    def __init__(self, schema: dict[str, Any]):
        self.defs: dict[str, Any] = schema.get("$defs", {})

    def resolve(self, node: Any) -> dict[str, Any]:
        """``$ref``, one-element ``allOf`` and ``anyOf`` with ``null`` folded away; the outer node's own
        keys (title, description) win over the referenced definition's."""
        if not isinstance(node, dict):
            return {}
        seen = 0
        while seen < 20:
            seen += 1
            if "$ref" in node:
                target = self.defs.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
                node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
                continue
            if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
                inner = self.resolve(node["allOf"][0])
                node = {**inner, **{k: v for k, v in node.items() if k != "allOf"}}
                continue
            if isinstance(node.get("anyOf"), list):
                options = [o for o in node["anyOf"] if not (isinstance(o, dict) and o.get("type") == "null")]
                if len(options) == 1:
                    inner = self.resolve(options[0])
                    node = {**inner, **{k: v for k, v in node.items() if k != "anyOf"}}
                    continue
            return node
        return node

    def options(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.resolve(o) for o in node.get("anyOf", []) if not (isinstance(o, dict) and o.get("type") == "null")]

    def enum(self, node: dict[str, Any]) -> list[str] | None:
        values = node.get("enum")
        if isinstance(values, list):
            return [str(v) for v in values if v is not None]
        return None

    def field(self, key: str, raw: Any, required: bool) -> Field:
        node = self.resolve(raw)
        label = node.get("title") if isinstance(node.get("title"), str) and key != node.get("title") else None
        f = Field(key=key, label=label or _humanize(key), kind="text", required=required,
                  help=_text(node.get("description")), guidance=_text(node.get("guidance")))
        if f.guidance == f.help or f.guidance == "N/A":
            f.guidance = ""
        choices = self.enum(node)
        if choices is not None:
            f.kind, f.options = "choice", choices
            return f
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            f.kind = "group"
            f.children = self.children(node)
            return f
        if kind == "array":
            item = self.resolve(node.get("items", {}))
            item_choices = self.enum(item)
            if item_choices is not None:
                f.kind, f.options = "choices", item_choices
            elif item.get("type") == "object" or "properties" in item:
                f.kind, f.children = "repeat", self.children(item)
            elif "anyOf" in item and all(o.get("type") == "object" for o in self.options(item)):
                f.kind, f.children = "repeat", self.merged(self.options(item))
            else:
                f.kind = "lines"
                f.hint = _hint(item)
            return f
        if kind == "integer":
            f.kind = "integer"
            return f
        if kind == "boolean":
            f.kind = "boolean"
            return f
        options = self.options(node)
        if options:  # a choice of shapes: a string or a list of them, a date or a date-time, ...
            if any(o.get("type") == "array" for o in options):
                f.kind, f.single = "lines", True
            hints = [h for o in options if (h := _hint(o) or ("a UUID" if o.get("title") == "Uuidv4" else ""))]
            words = [w for o in options for w in (self.enum(o) or [])]
            f.hint = " or ".join(dict.fromkeys(hints + ([" or ".join(f"“{w}”" for w in words)] if words else [])))
            return f
        f.max_length = node.get("maxLength") if isinstance(node.get("maxLength"), int) else None
        f.hint = _hint(node)
        if f.max_length is None or f.max_length >= TEXTAREA_FROM:
            f.kind = "textarea" if f.max_length is not None or key in ("description", "accessRights") else "text"
        return f

    def children(self, node: dict[str, Any]) -> list[Field]:
        required = set(node.get("required", []))
        props = node.get("properties", {})
        return [self.field(k, v, k in required) for k, v in props.items() if isinstance(v, dict)]

    def merged(self, variants: list[dict[str, Any]]) -> list[Field]:
        """One item shape for a list whose items may take several shapes (dataset types: a name and its
        subtypes): a property fixed per shape (``default``) becomes a choice of the shapes' values, the
        others a union of their choices."""
        out: dict[str, Field] = {}
        for v in variants:
            for f in self.children(v):
                raw = self.resolve(v.get("properties", {}).get(f.key, {}))
                if f.kind == "text" and isinstance(raw.get("default"), str):
                    f.kind, f.options = "choice", [raw["default"]]
                have = out.get(f.key)
                if have is None:
                    out[f.key] = f
                else:
                    have.options.extend(o for o in f.options if o not in have.options)
                    have.required = have.required or f.required
        return list(out.values())


def _hint(node: dict[str, Any]) -> str:
    fmt = node.get("format")
    return {"date": "a date, YYYY-MM-DD", "date-time": "a date and time, YYYY-MM-DDThh:mm:ssZ",
            "email": "an email address", "uri": "a web address (https://...)"}.get(str(fmt), "") if fmt else ""


def _humanize(key: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ")
    return words[:1].upper() + words[1:].lower()


@cache
def form() -> list[Section]:
    """The form's sections, in the order of the public dataset page (the record's own identity first)."""
    schema = _schema()
    walker = _Walker(schema)
    top = walker.children(schema)
    by_key = {f.key: f for f in top}
    record = Field(key="", label="Record", kind="group",
                   children=[f for f in top if f.key not in SECTION_ORDER])
    sections = [Section(RECORD, "Record", "The record's identifier, version and dates.", record)]
    for key in SECTION_ORDER:
        f = by_key.get(key)
        if f is None:
            continue
        label = f.label if f.label != _humanize(key) else _SECTION_LABELS.get(key, f.label)
        group = f if f.kind == "group" else Field(key="", label=label, kind="group", children=[f])
        sections.append(Section(key, _SECTION_LABELS.get(key, label), f.help, group))
    return sections


_SECTION_LABELS = {"summary": "Summary", "enrichmentAndLinkage": "Enrichment and linkage",
                   "structuralMetadata": "Structural metadata", "demographicFrequency": "Demographic frequency"}


_ID_CHARS = str.maketrans({".": "-", "[": "-", "]": None})


def field_id(name: str) -> str:
    """The HTML id of a field: ``summary.title`` is ``f-summary-title``, ``tables[0].name`` ``f-tables-0-name``."""
    return "f-" + name.translate(_ID_CHARS)


def name_of(prefix: str, key: str) -> str:
    """A field's form name below ``prefix``: ``summary`` + ``title`` is ``summary.title``."""
    if not key:
        return prefix
    return f"{prefix}.{key}" if prefix else key


def _section_prefix(section: Section) -> str:
    return "" if section.key == RECORD or section.group.key == "" else section.key


# ---- form fields -> document ---------------------------------------------------------------------------


FormData = Mapping[str, Sequence[str]]
_MISSING = object()


def parse(data: FormData, *, keep_empty_items: bool = False) -> dict[str, Any]:
    """The document the posted fields describe. Empty fields are left out (a required list stays, empty);
    values the form cannot read are kept as typed. ``keep_empty_items``: keep blank repeated items (while
    the form is being edited: "add another" makes one), else they are dropped."""
    doc: dict[str, Any] = {}
    for section in form():
        prefix = _section_prefix(section)
        kept = _kept(data, prefix) if prefix else None
        if kept is not None:
            doc[prefix] = kept
            continue
        # the top level keeps its required empty lists (``revisions``, ``observations``) even when nothing else
        value = _group(section.group, prefix, data, keep_empty_items, top=not prefix)
        if not isinstance(value, dict):
            continue
        if prefix:
            doc[prefix] = value
        else:
            doc.update(value)
    return doc


def _kept(data: FormData, prefix: str) -> Any:
    raw = _one(data, prefix + KEPT_MARK)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # kept as sent: the schema says what is wrong with it


def _one(data: FormData, name: str) -> str:
    got = data.get(name) or []
    return got[0].strip() if got else ""


def _value(f: Field, name: str, data: FormData, keep: bool) -> Any:
    if f.kind == "group":
        return _group(f, name, data, keep)
    if f.kind == "repeat":
        items = []
        for i in _indices(name, data):
            item = _group(f, f"{name}[{i}]", data, keep)
            if item is _MISSING:
                if not keep:
                    continue
                item = {}
            items.append(item)
        return items if items else ([] if f.required else _MISSING)
    if f.kind == "choices":
        picked = [v for v in (data.get(name) or []) if v.strip()]
        return picked or ([] if f.required else _MISSING)
    raw = _one(data, name)
    if f.kind == "lines":
        lines = [line.strip() for line in raw.splitlines() if line.strip()]
        if not lines:
            return [] if f.required and not f.single else _MISSING
        as_list = not f.single or len(lines) > 1 or bool(data.get(name + LIST_MARK))
        return lines if as_list else lines[0]
    if not raw:
        return _MISSING
    if f.kind == "integer":
        try:
            return int(raw.replace(",", "")) if re.fullmatch(r"-?[\d,]{1,18}", raw) else raw
        except ValueError:
            return raw
    if f.kind == "boolean":
        return {"true": True, "false": False}.get(raw, raw)
    return raw


def _group(f: Field, name: str, data: FormData, keep: bool, *, top: bool = False) -> Any:
    out: dict[str, Any] = {}
    for c in f.children:
        value = _value(c, name_of(name, c.key), data, keep)
        if value is not _MISSING:
            out[c.key] = value
    meaningful = any(v not in ([], {}) for v in out.values())
    return out if meaningful or ((keep or top) and out) else _MISSING


_ITEM = re.compile(r"\[(\d{1,6})\]")
class FormValues(dict[str, Sequence[str]]):
    """Form fields (name -> values) that work out their repeated groups' item numbers once, when first asked
    (a form with hundreds of table columns asks for them hundreds of times). Read, never changed, once asked."""

    item_numbers: dict[str, list[int]] | None = None


def _item_index(data: FormData) -> dict[str, list[int]]:
    """Every repeated group's item numbers, by the group's name, from one pass over the field names
    (``tables[0].columns[3].name`` gives ``tables``: 0 and ``tables[0].columns``: 3)."""
    if isinstance(data, FormValues) and data.item_numbers is not None:
        return data.item_numbers
    found: dict[str, set[int]] = {}
    for key in data:
        for m in _ITEM.finditer(key):
            held = found.setdefault(key[:m.start()], set())
            if len(held) < MAX_ITEMS:
                held.add(int(m.group(1)))
    index = {k: sorted(v) for k, v in found.items()}
    if isinstance(data, FormValues):
        data.item_numbers = index
    return index


def _indices(name: str, data: FormData) -> list[int]:
    return _item_index(data).get(name, [])


# ---- document -> form fields ---------------------------------------------------------------------------


def values(doc: Any) -> FormValues:
    """The form fields that show ``doc`` (the inverse of ``parse`` for what the form can show)."""
    out = FormValues()
    if not isinstance(doc, dict):
        return out
    for section in form():
        prefix = _section_prefix(section)
        value = doc.get(prefix) if prefix else doc
        before = len(out)
        _fill(section.group, prefix, value, out)
        if prefix and len(out) - before > MAX_SECTION_FIELDS:
            for key in [k for k in out if k.startswith((prefix + ".", prefix + "["))]:
                del out[key]
            out[prefix + KEPT_MARK] = [json.dumps(value, ensure_ascii=False)]
    return out


def _fill(f: Field, name: str, value: Any, out: FormValues) -> None:
    if value is None:
        return
    if f.kind == "group":
        if isinstance(value, dict):
            for c in f.children:
                _fill(c, name_of(name, c.key), value.get(c.key), out)
        return
    if f.kind == "repeat":
        if isinstance(value, list):
            for i, item in enumerate(value[:MAX_ITEMS]):
                out.setdefault(f"{name}[{i}]", [])  # an item shows even when all its fields are blank
                if isinstance(item, dict):
                    for c in f.children:
                        _fill(c, name_of(f"{name}[{i}]", c.key), item.get(c.key), out)
        return
    if f.kind == "choices":
        out[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        return
    if f.kind == "lines":
        items = value if isinstance(value, list) else [value]
        out[name] = ["\n".join(_scalar(v) for v in items)]
        if f.single and isinstance(value, list):
            out[name + LIST_MARK] = ["1"]  # one line stays a list of one, as it was
        return
    out[name] = [_scalar(value)]


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def item_count(data: FormData, name: str) -> int:
    """How many items a repeatable group shows (at least one, so there is always a blank to fill)."""
    return max(1, len(_indices(name, data)))


def item_indices(data: FormData, name: str) -> list[int]:
    return _indices(name, data) or [0]


# ---- "add another" / "remove" without script -------------------------------------------------------------


def apply_op(data: FormData, op: str) -> FormValues:
    """The form after an "add another" (``add:NAME``) or "remove" (``remove:NAME[i]``) button: items are
    renumbered so that names stay dense."""
    verb, _, target = op.partition(":")
    if verb == "add" and target:
        have = _indices(target, data)
        grown = FormValues(data)
        if len(have) < MAX_ITEMS:
            if not have:  # the blank item the form already showed becomes item 0: add item 1 after it
                grown[f"{target}[0]"] = []
                have = [0]
            grown[f"{target}[{have[-1] + 1}]"] = []
        return grown
    m = re.fullmatch(r"(.+)\[(\d{1,6})\]", target) if verb == "remove" else None
    if m is None:
        return FormValues(data)
    base, drop = m.group(1), int(m.group(2))
    kept = [i for i in _indices(base, data) if i != drop]
    renumber = {f"{base}[{old}]": f"{base}[{new}]" for new, old in enumerate(kept)}
    out = FormValues()
    pattern = re.compile(re.escape(base) + r"\[(\d{1,6})\]")
    for key, vals in data.items():
        hit = pattern.match(key)
        if hit is None:
            out[key] = vals
            continue
        head = hit.group(0)
        if head in renumber:
            out[renumber[head] + key[len(head):]] = vals
    return out


# ---- errors beside their fields ------------------------------------------------------------------------


def field_name(path: str) -> str:
    """``$.summary.title`` -> ``summary.title``; ``$`` -> ``""``."""
    path = path.strip()
    path = path.removeprefix("$")
    return path.removeprefix(".")


def target(path: str) -> str:
    """The form field an error at ``path`` is shown beside: the field itself, else the nearest field holding
    it (a value inside a list field, ``keywords[2]``, goes to the list field), else ``""`` (the top)."""
    known = _names()
    name = field_name(path)
    while name and _pattern(name) not in known:
        name = re.sub(r"(\[\d+\]|\.[^.\[]+)$", "", name) if re.search(r"(\[\d+\]|\.[^.\[]+)$", name) else ""
    return name


def errors_by_field(errors: Sequence[FieldError]) -> dict[str, list[str]]:
    """Messages by form field name (see ``target``); a message shown on an enclosing field says where."""
    out: dict[str, list[str]] = {}
    for e in errors:
        name, at = field_name(e.path), target(e.path)
        out.setdefault(at, []).append(e.message if at == name else f"{name}: {e.message}")
    return out


def _pattern(name: str) -> str:
    return re.sub(r"\[\d+\]", "[]", name)


@cache
def _names() -> frozenset[str]:
    """Every field name of the form, with ``[]`` for item indices (``observations[].measuredValue``)."""
    names: set[str] = set()

    def walk(f: Field, name: str) -> None:
        if name:
            names.add(name)
        if f.kind == "group":
            for c in f.children:
                walk(c, name_of(name, c.key))
        elif f.kind == "repeat":
            for c in f.children:
                walk(c, name_of(f"{name}[]", c.key))

    for section in form():
        walk(section.group, _section_prefix(section))
    return frozenset(names)


def blank_document(identifier: str, now: str) -> dict[str, Any]:
    """What a new dataset's form starts with: its persistent id, version 1.0.0, today's dates."""
    return {"identifier": identifier, "version": "1.0.0", "issued": now, "modified": now, "revisions": []}
