"""docs/identity.md holds the table of every role and what it may do, exactly as GRANTS says."""

from __future__ import annotations

from pathlib import Path

from healthgate.identity import roles_doc
from healthgate.identity.permissions import GRANTS, Permission, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "identity.md"


def test_the_docs_table_matches_grants():
    text = DOC.read_text()
    start, end = text.index(roles_doc.START), text.index(roles_doc.END) + len(roles_doc.END)
    assert text[start:end] == roles_doc.role_table(), \
        "docs/identity.md is stale: paste `python -m healthgate.identity.roles_doc` over its roles table"


def test_every_permission_is_described_and_every_grant_shows():
    assert set(roles_doc.WHAT) == set(Permission), "describe each permission in roles_doc.WHAT"
    table = roles_doc.role_table().splitlines()
    header = [c.strip() for c in table[1].strip("|").split("|")]
    for line in table[3:3 + len(Permission)]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        permission = Permission(cells[0].strip("`"))
        for role in Role:
            assert (cells[header.index(role.label)] == "yes") == (permission in GRANTS[role]), (permission, role)
