"""Every order is total and the same in every process, whatever order a process loaded its index in."""

from __future__ import annotations

import pytest

from healthgate.catalogue import service
from healthgate.context import Context
from healthgate.identity import service as identity
from healthgate.identity.permissions import SYSTEM
from healthgate.search import facets
from healthgate.search.engine import search
from tests.search.test_search import _doc, catalogue  # noqa: F401  (catalogue is a fixture)


def _pages(session, q: str, sort: str | None, per_page: int) -> list[list[str]]:
    first = search(session, q, sort=sort, per_page=per_page)
    pages = [[str(h.dataset_id) for h in first.items]]
    for n in range(2, -(-first.total // per_page) + 1):
        pages.append([str(h.dataset_id) for h in search(session, q, sort=sort, page=n, per_page=per_page).items])
    return pages


@pytest.mark.parametrize("q", ["", "audit OR children OR wales OR england OR covid OR diabetes"])
@pytest.mark.parametrize("sort", [None, "relevance", "title", "updated", "quality"])
def test_two_indexes_loaded_in_different_orders_give_the_same_pages(db, clock, catalogue, monkeypatch,  # noqa: F811
                                                                      q, sort):
    # many exact ties: same title, text, team and publication time
    with db.sessions.begin() as s:
        team = identity.get_or_create_team(Context(s, SYSTEM, clock), "Twins", member_group="ALLIANCE")
        for i in range(12):
            ds, _ = service.create_draft(Context(s, SYSTEM, clock), team.id, _doc(100 + i, "Twin audit of children in Wales",
                                                                   "Same words for every twin.", ["twins"],
                                                                   1000, "2001-01-01", None, "Wales"))
            service.publish(Context(s, SYSTEM, clock), ds.id)
    load = facets.load_rows
    facets.reset()
    with db.sessions() as s:
        forward = _pages(s, q, sort, per_page=5)
    facets.reset()
    monkeypatch.setattr(facets, "load_rows", lambda *args: list(reversed(load(*args))))
    with db.sessions() as s:
        backward = _pages(s, q, sort, per_page=5)
    assert forward == backward
    flat = [i for p in forward for i in p]
    assert len(flat) == len(set(flat))  # no result on two pages
