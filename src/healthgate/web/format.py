"""How values read on a page: field names, numbers, dates, and links made only from safe schemes.

Pure functions, registered as Jinja2 filters by :mod:`healthgate.web.templates`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import quote

from markupsafe import Markup, escape


def humanize(key: object) -> str:
    """``dataCustodian`` -> ``Data custodian``: metadata field names as people read them."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text else text


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def field_label(path: object) -> str:
    """A JSON path or dotted field name as people read it:
    ``$.documentation.description`` -> ``Documentation › Description``,
    ``$.summary.keywords[2]`` -> ``Summary › Keywords › item 3``."""
    text = str(path).removeprefix("$").strip(".")
    parts = []
    for name, index in _PART.findall(text):
        parts.append(humanize(name) if name else f"item {int(index) + 1}")
    return " › ".join(parts) if parts else "Whole document"


def thousands(value: object) -> str:
    """``950000`` -> ``950,000``; anything that is not a number is shown as it is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,}"
    return "" if value is None else str(value)


def parse_date(value: object) -> date | None:
    """An ISO 8601 date or date-time from a metadata document, else None (never raises)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text).date() if len(text) > 10 else date.fromisoformat(text)
    except ValueError:
        return None


def record_date(value: object) -> Markup:
    """A metadata date as ``<time datetime="2020-01-13">13 Jan 2020</time>``; text that is not a date as it is."""
    day = parse_date(value)
    if day is None:
        return Markup("") if value in (None, "") else escape(str(value))
    return Markup('<time datetime="{}">{}</time>').format(day.isoformat(), f"{day.day} {day:%b %Y}")


# Links are made only to these: web pages, e-mail addresses, and DOIs (through doi.org). Text is cut at white
# space first and each word is matched whole by patterns without nested repetition, so the cost stays linear
# in the length of the text whatever it holds.
_SPACE = re.compile(r"(\s+)")
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_DOI = re.compile(r"(?:doi:)?(10\.\d{4,9}/\S+)", re.IGNORECASE)
_EMAIL = re.compile(r"(?:mailto:)?([^\s@/:<>\"'`()\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})", re.IGNORECASE)
_OPENING = "([<\"'"
_TRAILING = ".,;:!?)]>}'\""


def _trim(word: str) -> tuple[str, str, str]:
    """Split a word into leading punctuation, the core, and trailing punctuation (``(see`` ``x.org`` ``).``);
    a closing bracket stays when the core opened one (``https://en.wikipedia.org/wiki/Cohort_(study)``)."""
    start = 0
    while start < len(word) and word[start] in _OPENING:
        start += 1
    end = len(word)
    while end > start and word[end - 1] in _TRAILING:
        if word[end - 1] == ")" and word.count("(", start, end) >= word.count(")", start, end):
            break
        end -= 1
    return word[:start], word[start:end], word[end:]


def _anchor(href: str, label: str) -> Markup:
    return Markup('<a href="{}" rel="nofollow ugc">{}</a>').format(href, label)


def _link(core: str) -> Markup | None:
    if _URL.fullmatch(core):
        return _anchor(core, core)
    m = _DOI.fullmatch(core)
    if m:
        return _anchor("https://doi.org/" + quote(m.group(1), safe="/:;()._-"), core)
    m = _EMAIL.fullmatch(core)
    if m:
        return _anchor("mailto:" + m.group(1), core)
    return None


def linkify(value: object) -> Markup:
    """Escape the text and turn the web addresses, e-mail addresses and DOIs in it into links.

    Only ``http(s):``, ``mailto:`` and ``https://doi.org/`` links are ever made, so a ``javascript:`` or
    ``data:`` value stays plain text."""
    text = "" if value is None else str(value)
    out: list[Markup] = []
    for word in _SPACE.split(text):
        lead, core, tail = _trim(word)
        link = _link(core) if core and len(core) <= 2000 else None
        out.append(escape(word) if link is None else escape(lead) + link + escape(tail))
    return Markup("").join(out)
