"""The catalogue as an Atom feed (RFC 4287), paged as RFC 5005 describes (``first``/``previous``/``next``/
``last`` links), with archived datasets as RFC 6721 tombstones (``at:deleted-entry``). Pure: the caller passes
the entries and the absolute URLs. Written with ElementTree, so every text is escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree import ElementTree as ET

from healthgate.interop.gmi import timestamp

ATOM = "http://www.w3.org/2005/Atom"
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
# characters XML 1.0 cannot hold, even escaped
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
ET.register_namespace("", ATOM)
ET.register_namespace("at", TOMBSTONES)


@dataclass
class Entry:
    id: str  # urn:uuid:...
    title: str
    updated: datetime
    published: datetime | None = None
    summary: str | None = None
    author: str | None = None
    html_url: str | None = None
    json_url: str | None = None
    keywords: list[str] = field(default_factory=list)
    deleted: bool = False  # archived: written as a tombstone


@dataclass
class Feed:
    id: str
    title: str
    updated: datetime
    self_url: str
    author: str
    links: dict[str, str] = field(default_factory=dict)  # rel -> URL (first, previous, next, last, alternate)
    entries: list[Entry] = field(default_factory=list)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    e = ET.SubElement(parent, tag, {k: _NOT_XML.sub("", v) for k, v in attrs.items()})
    if text is not None:
        e.text = _NOT_XML.sub("", text)
    return e


def render(feed: Feed) -> bytes:
    root = ET.Element(f"{{{ATOM}}}feed")
    _el(root, f"{{{ATOM}}}id", feed.id)
    _el(root, f"{{{ATOM}}}title", feed.title)
    _el(root, f"{{{ATOM}}}updated", timestamp(feed.updated))
    author = _el(root, f"{{{ATOM}}}author")
    _el(author, f"{{{ATOM}}}name", feed.author)
    _el(root, f"{{{ATOM}}}link", rel="self", href=feed.self_url, type="application/atom+xml")
    for rel, url in feed.links.items():
        kind = "text/html" if rel == "alternate" else "application/atom+xml"
        _el(root, f"{{{ATOM}}}link", rel=rel, href=url, type=kind)
    for e in feed.entries:
        if e.deleted:
            gone = _el(root, f"{{{TOMBSTONES}}}deleted-entry", ref=e.id, when=timestamp(e.updated))
            _el(gone, f"{{{TOMBSTONES}}}comment", f"{e.title}: archived by its custodian")
            continue
        entry = _el(root, f"{{{ATOM}}}entry")
        _el(entry, f"{{{ATOM}}}id", e.id)
        _el(entry, f"{{{ATOM}}}title", e.title)
        _el(entry, f"{{{ATOM}}}updated", timestamp(e.updated))
        if e.published is not None:
            _el(entry, f"{{{ATOM}}}published", timestamp(e.published))
        if e.author:
            a = _el(entry, f"{{{ATOM}}}author")
            _el(a, f"{{{ATOM}}}name", e.author)
        if e.html_url:
            _el(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=e.html_url)
        if e.json_url:
            _el(entry, f"{{{ATOM}}}link", rel="describedby", type="application/json", href=e.json_url)
        for k in e.keywords:
            _el(entry, f"{{{ATOM}}}category", term=k)
        if e.summary:
            _el(entry, f"{{{ATOM}}}summary", e.summary, type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
