"""The in-memory ranking of large matches (search.textindex) is FTS5's bm25, and stays right as entries change."""

from __future__ import annotations

import numpy as np
import pytest

from healthgate.catalogue.importer import import_items
from healthgate.context import Context
from healthgate.identity.permissions import SYSTEM
from healthgate.interop.sources import read_sources
from healthgate.search import backend, facets, textindex
from healthgate.search.engine import _unit_positions
from healthgate.search.query import Unit, parse
from healthgate.search.textindex import TextIndex
from tests.conftest import CORPUS

# (query, the share of matches whose score must be within 2% of FTS5's)
WORDS = [("population", 0.97), ("health", 0.97), ("patients", 0.97), ("cancer", 0.97), ("cohort", 0.97),
         ("hospital", 0.97), ("diabet*", 0.97), ("covid", 0.97), ("heart disease", 0.97),
         ('"primary care"', 0.8)]  # a phrase counts as often as its rarest word: an upper bound


@pytest.mark.parametrize(("q", "share"), WORDS)
def test_in_memory_scores_are_fts5_bm25(db, clock, q, share):
    if db.dialect != "sqlite":
        pytest.skip("compared with FTS5's bm25(); PostgreSQL always ranks in memory")
    items, errors, _ = read_sources([CORPUS])
    assert not errors
    with db.sessions.begin() as s:
        import_items(Context(s, SYSTEM, clock), items, accept_invalid=True)
    facets.reset()
    query = parse(q)
    with db.sessions() as s:
        idx, _ = facets.current(s)
        ids, exact = backend.for_session(s).match(s, query)
        pos = idx.positions_of(ids)
        mine = idx.text.scores(query.must, pos, idx.visible,
                               lambda alt: _unit_positions(s, idx, False, Unit((alt,), "")))
    assert len(pos) >= 5, "a query common enough to compare orders"
    close = np.isclose(mine, exact, rtol=0.02)
    # tokenisation differs only at the margins (Snowball vs Porter stems, "_" inside words)
    assert close.mean() >= share, (q, float(close.mean()))
    top_exact = pos[np.lexsort((pos, -exact))][:10]
    top_mine = pos[np.lexsort((pos, -mine))][:10]
    assert len(set(top_exact) & set(top_mine)) >= min(9, len(pos)), q


def _texts(i: int, version: int = 0) -> tuple[str, ...]:
    words = ["asthma", "cohort", "cancer", "registry", "heart", "children", "imaging", "stroke"]
    pick = [words[(i * 3 + version + k) % len(words)] for k in range(3)]
    return (f"{pick[0]} study {i}", "", f"{pick[1]}; {pick[2]}", f"{pick[0]} {pick[0]} abstract",
            f"a description of {pick[1]} with {i % 7} parts", "Custodian")


def _postings(index: TextIndex, word: str) -> dict[int, float]:
    p, f = index._term(index.vocab[word])
    return dict(zip(p.tolist(), f.tolist(), strict=True))


def test_changes_after_the_base_match_a_fresh_build(monkeypatch):
    monkeypatch.setattr(textindex, "MIN_DELTA", 10)
    monkeypatch.setattr(textindex, "CHUNK", 7)  # postings summed a few entries at a time
    live = TextIndex()
    for i in range(300):
        live.put(i, _texts(i))
    live.rebuild()
    assert not live.changed and len(live.base_pos)  # the base was built
    snapshots = []
    for round_ in range(1, 4):  # a few generations, each changing or adding some entries
        live = live.clone()
        for i in range(round_, 300, 37):
            live.put(i, _texts(i, round_))
        live.put(len(live.tokens_l), ("new quasar entry", "", "", "", "", ""))
        live.rebuild()
        snapshots.append(live)
    assert live.changed, "the last generations were kept as a delta"
    for word in ("asthma", "cohort", "quasar", "custodian", "studi"):
        assert word in live.vocab
    # the same entries with the same text, indexed at once
    fresh = TextIndex()
    expected_texts = {}
    for i in range(300):
        expected_texts[i] = _texts(i)
    for round_ in range(1, 4):
        for i in range(round_, 300, 37):
            expected_texts[i] = _texts(i, round_)
        expected_texts[299 + round_] = ("new quasar entry", "", "", "", "", "")
    for i in range(len(expected_texts)):
        fresh.put(i, expected_texts[i])
    fresh.rebuild()
    for word in ("asthma", "cohort", "quasar", "custodian", "studi"):
        assert _postings(live, word) == _postings(fresh, word), word
    units = parse("asthm* cohort").must
    everyone = np.ones(len(expected_texts), dtype=bool)
    positions = np.arange(len(expected_texts))
    assert np.allclose(live.scores(units, positions, everyone), fresh.scores(units, positions, everyone))
    # an earlier snapshot is untouched by later generations
    assert _postings(snapshots[0], "quasar") == {300: 10.0}
