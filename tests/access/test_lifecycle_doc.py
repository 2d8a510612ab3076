"""docs/access.md's whitelist table is the one ``lifecycle.allowed`` produces."""

from __future__ import annotations

from pathlib import Path

from healthgate.access import lifecycle_doc

DOC = Path(__file__).parents[2] / "docs" / "access.md"


def test_the_whitelist_in_the_docs_is_the_code():
    text = DOC.read_text()
    start, end = text.index(lifecycle_doc.START), text.index(lifecycle_doc.END) + len(lifecycle_doc.END)
    assert text[start:end] == lifecycle_doc.whitelist_table(), \
        "docs/access.md is stale: paste `python -m healthgate.access.lifecycle_doc` over its whitelist table"
