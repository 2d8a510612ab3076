"""An in-memory term index of every entry's whole searchable text: what ranks large matches.

A common word matches tens of thousands of entries at 100k records, and scoring every match in the database
(FTS5's bm25 costs a few microseconds a match) costs far more than finding them. Above SQLite's limit, and on
PostgreSQL always (search.postgres says why), the engine therefore scores matches here instead, in numpy, with SQLite FTS5's own bm25: the same six fields with the same
weights (``search.sqlite.BM25``), k1 1.2, b 0.75, the document length as FTS5 counts it (every token of every
field), the average length and the IDF over the visible entries, and one IDF and frequency per phrase of the
query (each word, spelling, synonym or prefix), summed. The database still decides which entries match; this
only orders them. Built with the snapshot (``search.facets``), so it is never stale.

Where it can differ from FTS5: words are stemmed by the Snowball English stemmer (FTS5: Porter), a phrase
counts as often as its rarest word where the database finds the phrase (FTS5: its exact occurrences), and
``_`` joins words (FTS5: splits them).

Layout: per entry, the term of each of its tokens and each field's token count (two small byte strings); per
snapshot, postings grouped by term (``base``) built once, plus the few entries changed since (``delta``), so a
catalogue write costs the changed entries, not the catalogue. The base is rebuilt when the delta grows past a tenth of
the entries.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from healthgate.search.query import Alt, Unit, words
from healthgate.search.stem import stem

FIELDS = ("title", "aliases", "keywords", "abstract", "description", "owner")
FIELD_WEIGHTS = (10.0, 6.0, 6.0, 3.0, 1.0, 2.0)  # as search.sqlite.BM25, in FIELDS order
K1, B = 1.2, 0.75
RowsOf = Callable[[Alt], np.ndarray]  # a phrase -> positions of the entries the database finds having it
CHUNK = 10_000  # entries whose tokens are summed at once when postings are built
MIN_DELTA = 2000  # changed entries kept apart from the base before it is rebuilt (or a tenth of the entries)


def _empty_i() -> np.ndarray:
    return np.zeros(0, np.int32)


def _empty_f() -> np.ndarray:
    return np.zeros(0, np.float32)


@dataclass
class TextIndex:
    vocab: dict[str, int] = field(default_factory=dict)  # stem -> term id (append-only)
    word_ids: dict[str, int] = field(default_factory=dict)  # word as written (folded) -> its stem's term id
    tokens_l: list[bytes] = field(default_factory=list)  # position -> term id of each token, field by field (int32)
    sizes_l: list[bytes] = field(default_factory=list)  # position -> tokens in each field (int32, FIELDS order)
    length_l: list[int] = field(default_factory=list)  # position -> tokens in all fields (FTS5's doc size)
    changed: set[int] = field(default_factory=set)  # positions written since the base was built
    # the base: postings grouped by term, as of its build
    base_pos: np.ndarray = field(default_factory=_empty_i)
    base_f: np.ndarray = field(default_factory=_empty_f)
    base_starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    base_terms: list[str] = field(default_factory=list)  # the base's vocabulary in order, for prefixes
    base_term_ids: np.ndarray = field(default_factory=_empty_i)
    # built per snapshot
    stale: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # positions whose base postings are old
    delta_ids: np.ndarray = field(default_factory=_empty_i)  # the changed entries' postings, by term
    delta_pos: np.ndarray = field(default_factory=_empty_i)
    delta_f: np.ndarray = field(default_factory=_empty_f)
    length: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def clone(self) -> TextIndex:
        return TextIndex(dict(self.vocab), dict(self.word_ids), list(self.tokens_l), list(self.sizes_l),
                         list(self.length_l), set(self.changed), self.base_pos, self.base_f, self.base_starts,
                         self.base_terms, self.base_term_ids)

    def _id(self, word: str) -> int:
        term = stem(word)
        i = self.vocab.get(term)
        if i is None:
            i = self.vocab[term] = len(self.vocab)
        self.word_ids[word] = i
        return i

    def put(self, pos: int, texts: tuple[str | None, ...]) -> None:
        """Index an entry's text fields, in ``FIELDS`` order."""
        tokens = array("i")
        sizes = array("i")
        for text in texts:
            found = words(text) if text else []
            ids = list(map(self.word_ids.get, found))  # a C loop; new words (rare once the vocabulary is known) after
            if None in ids:
                ids = [i if i is not None else self._id(w) for i, w in zip(ids, found, strict=True)]
            tokens.extend(ids)  # type: ignore[arg-type]
            sizes.append(len(ids))
        if pos == len(self.tokens_l):
            self.tokens_l.append(tokens.tobytes())
            self.sizes_l.append(sizes.tobytes())
            self.length_l.append(len(tokens))
        else:
            self.tokens_l[pos], self.sizes_l[pos], self.length_l[pos] = tokens.tobytes(), sizes.tobytes(), len(tokens)
        self.changed.add(pos)

    def _postings(self, positions: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(term ids, positions, weighted counts) of these entries' postings, grouped by term (positions
        ascending within a term): the tokens of ``CHUNK`` entries at a time summed per (position, term) by one
        sort, then every chunk's pairs grouped by term, so memory follows a chunk's tokens, not the catalogue's."""
        if not positions:
            return _empty_i(), _empty_i(), _empty_f()
        span = len(self.vocab) + 1
        weights_of = np.array(FIELD_WEIGHTS, dtype=np.float32)
        terms, at, counts = [], [], []
        for i in range(0, len(positions), CHUNK):
            chunk = positions[i:i + CHUNK]
            tokens = np.frombuffer(b"".join([self.tokens_l[p] for p in chunk]), dtype=np.int32)
            sizes = np.frombuffer(b"".join([self.sizes_l[p] for p in chunk]), dtype=np.int32)
            weights = np.repeat(np.tile(weights_of, len(chunk)), sizes)
            where = np.repeat(np.array(chunk, dtype=np.int64), sizes.reshape(-1, len(FIELDS)).sum(axis=1))
            keys, which = np.unique(where * span + tokens, return_inverse=True)
            counts.append(np.bincount(which, weights=weights, minlength=len(keys)).astype(np.float32))
            terms.append((keys % span).astype(np.int32))
            at.append((keys // span).astype(np.int32))
        term, pos, f = np.concatenate(terms), np.concatenate(at), np.concatenate(counts)
        order = np.argsort(term, kind="stable")
        return term[order], pos[order], f[order]

    def rebuild(self) -> None:
        n = len(self.tokens_l)
        if len(self.changed) > max(MIN_DELTA, n // 10):
            ids, self.base_pos, self.base_f = self._postings(list(range(n)))
            self.base_starts = np.searchsorted(ids, np.arange(len(self.vocab) + 1))
            self.base_terms = sorted(self.vocab)
            self.base_term_ids = np.array([self.vocab[t] for t in self.base_terms], dtype=np.int32)
            self.changed = set()
        self.stale = np.zeros(n, dtype=bool)
        changed = sorted(self.changed)
        self.stale[changed] = True
        self.delta_ids, self.delta_pos, self.delta_f = self._postings(changed)
        self.length = np.array(self.length_l, dtype=np.float64)

    # ---- scoring ---------------------------------------------------------------------------------------

    def _term(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, weighted counts) of the entries having the term."""
        parts_p, parts_f = [], []
        if term + 1 < len(self.base_starts):
            s = slice(int(self.base_starts[term]), int(self.base_starts[term + 1]))
            p, f = self.base_pos[s], self.base_f[s]
            if self.changed:
                keep = ~self.stale[p]
                p, f = p[keep], f[keep]
            parts_p.append(p)
            parts_f.append(f)
        if len(self.delta_ids):
            lo, hi = np.searchsorted(self.delta_ids, [term, term + 1])
            parts_p.append(self.delta_pos[lo:hi])
            parts_f.append(self.delta_f[lo:hi])
        if not parts_p:
            return _empty_i(), _empty_f()
        return np.concatenate(parts_p), np.concatenate(parts_f)

    def _prefixed(self, prefix: str) -> list[int]:
        lo = bisect_left(self.base_terms, prefix)
        hi = bisect_left(self.base_terms, prefix + "\U0010ffff")
        found = [int(i) for i in self.base_term_ids[lo:hi]]
        known = len(self.base_starts) - 1  # terms new since the base are few: looked at one by one
        if len(self.vocab) > known:
            found += [i for t, i in self.vocab.items() if i >= known and t.startswith(prefix)]
        return found

    def _frequency(self, terms: list[int], n: int) -> np.ndarray:
        """Weighted count of any of ``terms`` in each entry (a dense array over positions): every term's
        postings gathered, then one bincount."""
        found = [self._term(t) for t in terms]
        found = [(p, f) for p, f in found if len(p)]
        if not found:
            return np.zeros(n)
        return np.bincount(np.concatenate([p for p, _ in found]), weights=np.concatenate([f for _, f in found]),
                           minlength=n)

    def _phrase_frequencies(self, unit: Unit, n: int, rows_of: RowsOf | None) -> list[tuple[np.ndarray, int | None]]:
        """(weighted frequency in each entry, entries having it if the database said) per phrase of the unit,
        as FTS5 sees its phrases: a word, a prefix (every term it begins), or several words, counted as often as
        the rarest of them in the entries the database finds having the phrase."""
        out: list[tuple[np.ndarray, int | None]] = []
        for alt in unit.alts:
            exact = rows_of(alt) if rows_of is not None and (len(unit.alts) == 1 or len(alt.words) > 1) else None
            if alt.prefix:  # both databases stem a prefix as a word ("population*" finds "popul...")
                tf = self._frequency(self._prefixed(stem(alt.words[0])), n)
            else:
                ids = [self.word_ids.get(w) for w in alt.words]
                ids = [i if i is not None else self.vocab.get(stem(w)) for i, w in zip(ids, alt.words, strict=True)]
                if any(i is None for i in ids):
                    tf = np.zeros(n)
                elif len(ids) == 1:
                    tf = self._frequency([ids[0]], n)  # type: ignore[list-item]
                else:
                    tf = np.minimum.reduce([self._frequency([i], n) for i in ids])  # type: ignore[list-item]
            if exact is not None and len(alt.words) > 1:
                inside = np.zeros(n, dtype=bool)
                inside[exact] = True
                tf[~inside] = 0.0  # the words without the phrase
            out.append((tf, None if exact is None else len(exact)))
        return out

    def scores(self, units: list[Unit], positions: np.ndarray, visible: np.ndarray,
               rows_of: RowsOf | None = None) -> np.ndarray:
        """FTS5's bm25 of the entries at ``positions`` (all of them matching every unit), higher is better.
        ``rows_of(alt)``: the positions of the visible entries the database finds having a phrase; asked for
        units of one phrase (their own match, known already) and for phrases of several words (whose words'
        counts alone overestimate them)."""
        n = len(self.tokens_l)
        if not n or not len(positions):
            return np.zeros(len(positions))
        rows = int(np.count_nonzero(visible)) or 1
        avg = float(self.length[visible].sum()) / rows or 1.0
        norm = K1 * (1 - B + B * self.length[positions] / avg)
        total = np.zeros(len(positions))
        for unit in units:
            for tf, known in self._phrase_frequencies(unit, n, rows_of):
                hits = known if known is not None else int(np.count_nonzero(tf[visible]))
                idf = math.log((rows - hits + 0.5) / (hits + 0.5))
                idf = idf if idf > 0 else 1e-6  # as FTS5: a phrase in most rows still counts a little
                t = tf[positions]
                total += idf * t * (K1 + 1) / (t + norm)
        return total
