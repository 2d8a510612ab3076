"""Facet values as researchers expect to count them: one value per place, organisation or topic however the
records spell it. Data (``facet_values.txt``: aliases per facet) plus a few general rules. Only the facets
see normalised values; records keep their original text."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from urllib.parse import unquote, urlparse

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_PAREN_URL = re.compile(r"\s*\(\s*https?://[^)]*\)\s*", re.IGNORECASE)
_DATE = re.compile(r"^\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}(-\d{2})?)\b")
_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def match_key(value: str) -> str:
    """What two spellings of one value share: case, punctuation, "&"/"and" and a leading "The" ignored."""
    v = value.casefold().replace("&", " and ")
    v = _SPACE.sub(" ", _PUNCT.sub(" ", v)).strip()
    return v.removeprefix("the ")


@cache
def aliases() -> dict[str, dict[str, str]]:
    """facet -> match key of any spelling -> label."""
    text = resources.files("healthgate.search").joinpath("facet_values.txt").read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1].strip(), {})
            continue
        if section is None:
            continue
        terms = [t.strip() for t in line.split("|") if t.strip()]
        for t in terms:
            section[match_key(t)] = terms[0]
    return out


def _from_table(facet: str, value: str) -> str:
    return aliases().get(facet, {}).get(match_key(value), value)


def _place_from_url(url: str) -> str | None:
    """A geonames (or similar) URL names its place in its last path segment: .../2635167/united-kingdom.html"""
    path = unquote(urlparse(url).path).rstrip("/")
    last = path.rsplit("/", 1)[-1]
    last = re.sub(r"\.\w+$", "", last)
    words = [w for w in re.split(r"[-_+\s]+", last) if w and not w.isdigit()]
    return " ".join(w.capitalize() for w in words) or None


def geography(value: str) -> str | None:
    v = _PAREN_URL.sub(" ", value).strip()  # "United Kingdom (https://www.geonames.org/...)"
    if _URL.fullmatch(v):
        v = _place_from_url(v) or ""
    if not v or _DATE.match(v):
        return None  # a date (or nothing) is not a place
    return _from_table("geography", v)


def keyword(value: str) -> str | None:
    return _from_table("keyword", value)


def organisation(value: str) -> str | None:
    return value


NORMALISERS: dict[str, Callable[[str], str | None]] = {
    "geography": geography, "keyword": keyword, "organisation": organisation,
}
