"""``healthgate export --format dcat-ttl|dcat-jsonld``: the whole public catalogue as one DCAT-AP file, read in
chunks of 500 datasets and written as it goes (the file appears complete or not at all)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from healthgate.db import make_sessionmaker, transaction
from healthgate.federation import dcat_catalog
from healthgate.interop import dcat


def export_file(engine: Engine, base_url: str, out: Path, fmt: str) -> int:
    """Write the catalogue to ``out``; how many datasets it holds. Dataset IRIs are under ``base_url``."""
    site = dcat.Site(base_url)
    sessions = make_sessionmaker(engine)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with transaction(sessions) as session, partial.open("wb") as f:
            n = dcat.write_catalog(dcat_catalog.stream(session), site, fmt, f,
                                   modified=dcat_catalog.last_change(session))
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return n
