"""docs/register.md's fields table is the one ``register.fields_doc`` generates from ``register/fields.py``."""

from __future__ import annotations

from pathlib import Path

from healthgate.register import fields_doc

DOC = Path(__file__).resolve().parents[2] / "docs" / "register.md"


def test_the_fields_table_is_current():
    text = DOC.read_text("utf-8")
    start, end = text.index(fields_doc.START), text.index(fields_doc.END) + len(fields_doc.END)
    assert text[start:end] == fields_doc.table(), (
        "docs/register.md is stale: paste `python -m healthgate.register.fields_doc` over its fields table")
