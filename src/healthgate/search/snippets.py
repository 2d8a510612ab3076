"""Highlighted snippets for the hits on one page, made here rather than by the engines: asking FTS5 or
ts_headline means re-running the whole match, which costs more than the search itself on a large catalogue."""

from __future__ import annotations

import html
import re
from bisect import bisect_left, bisect_right

from healthgate.search.query import Query, words
from healthgate.search.stem import stem

_TOKEN = re.compile(r"\w+", re.UNICODE)
WINDOW = 40  # words in a snippet


def _targets(query: Query) -> tuple[set[str], tuple[str, ...]]:
    stems: set[str] = set()
    prefixes: list[str] = []
    for unit in query.must:
        for alt in unit.alts:
            if alt.prefix:
                prefixes.append(alt.words[0])
            else:
                stems.update(stem(w) for w in alt.words)
    return stems, tuple(prefixes)


def _hits(text: str, stems: set[str], prefixes: tuple[str, ...]) -> list[tuple[int, int]]:
    spans = []
    seen: dict[str, bool] = {}  # each distinct word is stemmed and tested once
    folded = text.casefold() if text.isascii() else None  # ASCII folds in place: spans stay the same
    for m in _TOKEN.finditer(folded if folded is not None else text):
        if folded is not None:
            w = m.group()
            if w == "_":
                continue
        else:
            found = words(m.group())
            if not found:
                continue
            w = found[0]
        hit = seen.get(w)
        if hit is None:
            hit = seen[w] = stem(w) in stems or bool(prefixes and w.startswith(prefixes))
        if hit:
            spans.append((m.start(), m.end()))
    return spans


def highlight(query: Query, *texts: str) -> str:
    """An HTML-escaped extract of the first text with the query's words in <mark>, around the densest hits."""
    stems, prefixes = _targets(query)
    fallback = next((t for t in texts if t), "")
    for text in texts:
        if not text:
            continue
        spans = _hits(text, stems, prefixes) if (stems or prefixes) else []
        if not spans:
            continue
        tokens = [m.span() for m in _TOKEN.finditer(text)]
        starts = [a for a, _ in tokens]
        # the window of WINDOW words holding most hits (every span starts a token: its index by bisection)
        hit_words = [bisect_right(starts, s) - 1 for s, _ in spans]
        best = max(range(len(hit_words)), key=lambda i: bisect_left(hit_words, hit_words[i] + WINDOW)
                   - bisect_left(hit_words, hit_words[i]))
        first = max(0, hit_words[best] - 5)
        last = min(len(tokens), first + WINDOW)
        lo = starts[first] if first else 0
        hi = tokens[last - 1][1] if last < len(tokens) else len(text)
        out, cursor = [], lo
        for s, e in spans:
            if s < lo or e > hi:
                continue
            out.append(html.escape(text[cursor:s]))
            out.append(f"<mark>{html.escape(text[s:e])}</mark>")
            cursor = e
        out.append(html.escape(text[cursor:hi]))
        return ("…" if lo else "") + "".join(out) + ("…" if hi < len(text) else "")
    return html.escape(fallback[:300]) + ("…" if len(fallback) > 300 else "")


def matched(query: Query, values: list[str]) -> list[str]:
    """The values (a record's keywords) holding any of the query's words, each HTML-escaped with them in
    <mark>: why a record matched when its text does not show it."""
    stems, prefixes = _targets(query)
    if not stems and not prefixes:
        return []
    out = []
    for value in values:
        spans = _hits(value, stems, prefixes)
        if not spans:
            continue
        parts, cursor = [], 0
        for s, e in spans:
            parts.append(html.escape(value[cursor:s]))
            parts.append(f"<mark>{html.escape(value[s:e])}</mark>")
            cursor = e
        parts.append(html.escape(value[cursor:]))
        out.append("".join(parts))
    return out
