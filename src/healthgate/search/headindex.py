"""An in-memory index of every entry's short, heavily weighted fields (title, aliases, keywords).

A common word matches tens of thousands of entries at 100k records, and scoring every match in the database
(BM25 on SQLite, ts_rank_cd on PostgreSQL) costs far more than finding them. Above a backend's limit the
engine therefore scores matches here instead, in numpy: BM25 over the three fields the database weights most,
with the same weights. The database still decides which entries match (every field, its own stemmer); this
only orders them. Built with the snapshot (``search.facets``), so it is never stale.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

from healthgate.search.query import Unit, words
from healthgate.search.stem import stem

FIELD_WEIGHTS = np.array([10.0, 6.0, 6.0])  # title, aliases, keywords: as the SQLite backend's bm25 weights
K1, B = 1.2, 0.75


@dataclass
class HeadIndex:
    vocab: dict[str, int] = field(default_factory=dict)  # stem -> id (append-only)
    word_ids: dict[str, int] = field(default_factory=dict)  # word as written (folded) -> its stem's id
    per_entry: list[tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # (ids, fields)
    tok_pos: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # by term, then entry
    starts: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))  # term id -> first token
    tok_w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    length: np.ndarray = field(default_factory=lambda: np.zeros(0))  # weighted token count per entry
    sorted_terms: list[str] = field(default_factory=list)  # the vocabulary in order, for prefixes
    sorted_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    def clone(self) -> HeadIndex:
        return HeadIndex(dict(self.vocab), dict(self.word_ids), list(self.per_entry))

    def _id(self, word: str) -> int:
        i = self.word_ids.get(word)
        if i is None:
            term = stem(word)
            i = self.vocab.get(term)
            if i is None:
                i = self.vocab[term] = len(self.vocab)
            self.word_ids[word] = i
        return i

    def put(self, pos: int, title: str, aliases: str, keywords: str) -> None:
        ids: list[int] = []
        fields: list[int] = []
        for f, text in enumerate((title, aliases, keywords)):
            for w in words(text or ""):
                if w.isdigit():
                    continue  # numbers say little about relevance and would swell the vocabulary
                ids.append(self._id(w))
                fields.append(f)
        item = (tuple(ids), tuple(fields))
        if pos == len(self.per_entry):
            self.per_entry.append(item)
        else:
            self.per_entry[pos] = item

    def rebuild(self) -> None:
        sizes = np.fromiter((len(ids) for ids, _ in self.per_entry), dtype=np.int64, count=len(self.per_entry))
        total = int(sizes.sum())
        tok_pos = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        tok_id = np.fromiter(chain.from_iterable(i for i, _ in self.per_entry), dtype=np.int32, count=total)
        fields = np.fromiter(chain.from_iterable(f for _, f in self.per_entry), dtype=np.int8, count=total)
        tok_w = FIELD_WEIGHTS[fields]
        self.length = np.bincount(tok_pos, weights=tok_w, minlength=len(sizes))
        # postings: tokens grouped by term, so a term's occurrences are one slice
        order = np.argsort(tok_id, kind="stable")
        self.tok_pos, self.tok_w = tok_pos[order], tok_w[order]
        self.starts = np.searchsorted(tok_id[order], np.arange(len(self.vocab) + 1))
        self.sorted_terms = sorted(self.vocab)
        self.sorted_ids = np.array([self.vocab[t] for t in self.sorted_terms], dtype=np.int32)

    def _prefixed(self, prefix: str) -> list[int]:
        lo = bisect_left(self.sorted_terms, prefix)
        hi = bisect_left(self.sorted_terms, prefix + "\U0010ffff")
        return [int(i) for i in self.sorted_ids[lo:hi]]

    def _tf(self, ids: list[int], n: int) -> np.ndarray:
        slices = [slice(self.starts[i], self.starts[i + 1]) for i in ids if i + 1 < len(self.starts)]
        if not slices:
            return np.zeros(n)
        pos = np.concatenate([self.tok_pos[s] for s in slices])
        w = np.concatenate([self.tok_w[s] for s in slices])
        return np.bincount(pos, weights=w, minlength=n)

    def _unit_tf(self, unit: Unit, n: int) -> np.ndarray:
        """Weighted frequency of the unit in each entry: its single words and prefixes together; a phrase
        counts where all its words are (as often as its rarest word)."""
        singles: list[int] = []
        tf = np.zeros(n)
        for alt in unit.alts:
            if alt.prefix:
                singles += self._prefixed(alt.words[0])
                continue
            ids = [self.vocab.get(stem(w)) for w in alt.words]
            if any(i is None for i in ids):
                continue
            if len(ids) == 1:
                singles.append(ids[0])  # type: ignore[arg-type]
            else:
                tf = np.maximum(tf, np.minimum.reduce([self._tf([i], n) for i in ids]))  # type: ignore[list-item]
        if singles:
            tf += self._tf(sorted(set(singles)), n)
        return tf

    def scores(self, units: list[Unit], positions: np.ndarray) -> np.ndarray:
        """BM25 over the head fields of the entries at ``positions`` (all of them matching every unit)."""
        n = len(self.per_entry)
        if not n or not len(positions):
            return np.zeros(len(positions))
        avg = float(self.length.mean()) or 1.0
        norm = K1 * (1 - B + B * self.length[positions] / avg)
        total = np.zeros(len(positions))
        for unit in units:
            tf = self._unit_tf(unit, n)
            having = int(np.count_nonzero(tf))
            idf = math.log((n - having + 0.5) / (having + 0.5) + 1)
            t = tf[positions]
            total += idf * t * (K1 + 1) / (t + norm)
        return total
