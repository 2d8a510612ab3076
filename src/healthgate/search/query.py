"""Researchers' query syntax, parsed once and compiled for each engine.

Syntax: words (all must match, in any field), "quoted phrases", -excluded words or -"phrases", and ``OR``
between two words or phrases. The last word, if the query does not end in a space, also matches as a
prefix (type-ahead). Each word or known multi-word term also matches its medical synonyms and
abbreviations (``synonyms.txt``) and its British/American spellings; plurals and other inflections are left
to each engine's stemmer. Nothing a user types is passed to an engine's own query language: every word is
reduced to letters and digits and quoted, so FTS operators, SQL and stray quotes are plain text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

MAX_QUERY_CHARS = 1000
MAX_UNITS = 12
MIN_PREFIX = 2
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "data",
        "database",
        "dataset",
        "datasets",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "many",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "number",
        "people",
        "please",
        "show",
        "that",
        "the",
        "their",
        "there",
        "these",
        "this",
        "those",
        "to",
        "want",
        "was",
        "what",
        "where",
        "which",
        "who",
        "with",
    ]
)
_WORD = re.compile(r"\w+", re.UNICODE)


class _Marks(dict[int, int | None]):
    """str.translate table dropping combining marks (diacritics once decomposed), filled as characters are met."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_MARKS = _Marks()
_LEX = re.compile(r'-?"[^"]*"?|\S+')


def words(text: str) -> list[str]:
    """Lower-case letters-and-digits tokens without diacritics, as the FTS5 unicode61 tokenizer splits."""
    folded = text.casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded).translate(_MARKS)
    return [w for w in _WORD.findall(folded) if w != "_"]


@dataclass(frozen=True)
class Alt:
    """One way to satisfy a unit: a word, a phrase of several words, or a word prefix."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Unit:
    """Something the query asks for, satisfied by any of its alternatives."""

    alts: tuple[Alt, ...]
    label: str  # what the user typed, for notes and highlighting


@dataclass
class Query:
    must: list[Unit] = field(default_factory=list)
    exclude: list[Unit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phrase: tuple[str, ...] = ()  # the positive words in order, for the phrase bonus

    @property
    def empty(self) -> bool:
        return not self.must and not self.exclude


# ---- synonyms ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thesaurus:
    groups: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]  # any member -> all members
    longest: int
    spellings: tuple[tuple[str, str], ...]


@cache
def thesaurus() -> Thesaurus:
    text = resources.files("healthgate.search").joinpath("synonyms.txt").read_text(encoding="utf-8")
    groups: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    spellings: list[tuple[str, str]] = []
    in_spelling = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line == "[spelling]":
            in_spelling = True
            continue
        if in_spelling:
            uk, _, us = (p.strip().casefold() for p in line.partition("="))
            if uk and us and uk != us:
                spellings.append((uk, us))
            continue
        members = tuple(dict.fromkeys(tuple(words(m)) for m in line.split("|") if words(m)))
        for m in members:
            groups[m] = tuple(dict.fromkeys(groups.get(m, ()) + members))
    longest = max((len(k) for k in groups), default=1)
    return Thesaurus(groups, longest, tuple(spellings))


def spelling_variants(word: str) -> list[str]:
    out = []
    for uk, us in thesaurus().spellings:
        if uk in word:
            out.append(word.replace(uk, us))
        elif us in word and len(word) > len(us):
            out.append(word.replace(us, uk))
        elif us == word:
            out.append(uk)
    return [v for v in dict.fromkeys(out) if v != word]


def _word_alts(word: str) -> list[Alt]:
    return [Alt((word,)), *(Alt((v,)) for v in spelling_variants(word))]


def _synonym_unit(key: tuple[str, ...], label: str) -> Unit:
    alts: list[Alt] = []
    for member in thesaurus().groups[key]:
        # Two-letter abbreviations (AD, MS, ED, ...) are ambiguous: only search them when typed.
        if member != key and len(member) == 1 and len(member[0]) <= 2:
            continue
        alts.extend(_word_alts(member[0]) if len(member) == 1 else [Alt(member)])
    return Unit(tuple(dict.fromkeys(alts)), label)


def _plain_units(tokens: list[str], labels: list[str]) -> list[Unit]:
    """Units for a run of unquoted words: longest known multi-word terms first, stopwords dropped."""
    th = thesaurus()
    units: list[Unit] = []
    i = 0
    while i < len(tokens):
        for n in range(min(th.longest, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + n])
            if key in th.groups and (n > 1 or key[0] not in STOPWORDS):
                units.append(_synonym_unit(key, " ".join(labels[i : i + n])))
                i += n
                break
        else:
            if tokens[i] not in STOPWORDS and (len(tokens[i]) > 1 or tokens[i].isdigit()):
                alts = _word_alts(tokens[i])
                if labels[i] != tokens[i]:  # keep the accented form too: PostgreSQL's index keeps accents
                    alts.append(Alt((labels[i],)))
                units.append(Unit(tuple(alts), labels[i]))
            i += 1
    return units


def parse(text: str) -> Query:
    """A Query from whatever the user typed; never raises."""
    query = Query()
    text = text or ""
    if len(text) > MAX_QUERY_CHARS:
        query.notes.append(f"the query was cut to its first {MAX_QUERY_CHARS} characters")
        text = text[:MAX_QUERY_CHARS]
    type_ahead = bool(text) and not text[-1].isspace() and not text.rstrip().endswith('"')
    pending_or = False
    run: list[str] = []
    run_labels: list[str] = []
    positive: list[str] = []

    def add(unit: Unit) -> None:
        nonlocal pending_or
        if pending_or and query.must:
            last = query.must.pop()
            unit = Unit(tuple(dict.fromkeys(last.alts + unit.alts)), f"{last.label} OR {unit.label}")
        query.must.append(unit)
        pending_or = False

    def flush() -> None:
        units = _plain_units(run, run_labels)
        for u in units:
            add(u)
        run.clear()
        run_labels.clear()

    for lexeme in _LEX.findall(text):
        if lexeme in ("OR", "|"):
            flush()
            pending_or = bool(query.must)
            continue
        negative = lexeme.startswith("-") and len(lexeme) > 1
        body = lexeme[1:] if negative else lexeme
        if body.startswith('"'):
            flush()
            phrase = tuple(words(body.strip('"')))
            if not phrase:
                continue
            unit = Unit((Alt(phrase),), " ".join(phrase))
            if negative:
                query.exclude.append(unit)
            else:
                positive.extend(phrase)
                add(unit)
            continue
        toks = words(body)
        if negative:
            flush()
            for t in toks:
                query.exclude.append(Unit(tuple(_word_alts(t)), t))
            continue
        run.extend(toks)
        accented = _WORD.findall(body.casefold())
        run_labels.extend(accented if len(accented) == len(toks) else toks)
        positive.extend(t for t in toks if t not in STOPWORDS)
    last_typed = run[-1] if run else None
    last_label = run_labels[-1] if run_labels else None
    flush()
    if type_ahead and last_typed and len(last_typed) >= MIN_PREFIX and query.must:
        last = query.must[-1]
        if last.label == last_label:
            query.must[-1] = Unit((*last.alts, Alt((last_typed,), prefix=True)), last.label)
    if len(query.must) > MAX_UNITS:
        query.notes.append(f"only the first {MAX_UNITS} terms of the query were used")
        query.must = query.must[:MAX_UNITS]
    query.exclude = query.exclude[:MAX_UNITS]
    query.phrase = tuple(positive)
    return query


def relaxed(query: Query) -> Query:
    """The same query with any one of its terms enough (used when no dataset matches all of them)."""
    if len(query.must) < 2:
        return query
    alts = tuple(dict.fromkeys(a for u in query.must for a in u.alts))
    return Query(
        [Unit(alts, " OR ".join(u.label for u in query.must))], query.exclude, list(query.notes), query.phrase
    )


# ---- compilation --------------------------------------------------------------------------------------


def _fts_alt(alt: Alt) -> str:
    quoted = '"' + " ".join(alt.words) + '"'
    return quoted + "*" if alt.prefix else quoted


def fts_unit(unit: Unit) -> str:
    return "(" + " OR ".join(_fts_alt(a) for a in unit.alts) + ")"


def to_fts5(query: Query) -> str | None:
    """An FTS5 MATCH expression for the positive part (None when there is none)."""
    if not query.must:
        return None
    expr = " AND ".join(fts_unit(u) for u in query.must)
    for u in query.exclude:
        expr = f"({expr}) NOT {fts_unit(u)}"
    return expr


def to_tsquery_sql(units: list[Unit], params: dict[str, str], start: int = 0) -> list[str]:
    """PostgreSQL tsquery expressions, one per unit, with their text bound as parameters."""
    out = []
    n = start
    for unit in units:
        parts = []
        for alt in unit.alts:
            name = f"tq{n}"
            n += 1
            if alt.prefix:
                params[name] = f"{alt.words[0]}:*"
                parts.append(f"to_tsquery('healthgate_english', :{name})")
            else:
                params[name] = " ".join(alt.words)
                parts.append(f"phraseto_tsquery('healthgate_english', :{name})")
        out.append("(" + " || ".join(parts) + ")")
    return out
