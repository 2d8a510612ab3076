"""Every setting is documented in the README's Configuration table, with its real default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from healthgate.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _table() -> dict[str, str]:
    """``HEALTHGATE_X`` -> its default cell, from the README's Configuration table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and (m := re.fullmatch(r"`(HEALTHGATE_[A-Z0-9_]+)`", cells[0])):
            rows[m.group(1)] = cells[1]
    return rows


def test_every_setting_is_in_the_readme_table():
    documented = _table()
    prefix = Settings.model_config["env_prefix"]
    fields = {f"{prefix}{name}".upper() for name in Settings.model_fields}
    assert fields - set(documented) == set(), "settings missing from the README's Configuration table"
    assert set(documented) - fields == set(), "the README documents settings that do not exist"


@pytest.mark.parametrize("name", sorted(n for n, f in Settings.model_fields.items()
                                        if isinstance(f.default, (int, str)) and f.default not in (None, "")))
def test_documented_defaults_are_the_real_ones(name):
    default = Settings.model_fields[name].default
    cell = _table()[f"HEALTHGATE_{name.upper()}"]
    assert f"`{default}`" in cell, f"README says {cell!r} for {name}, the code says {default!r}"


def test_settings_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HEALTHGATE_MAX_PER_PAGE", "25")
    monkeypatch.setenv("HEALTHGATE_MAX_DOCUMENT_BYTES", "2048")
    settings = Settings(data_dir=tmp_path)
    assert (settings.max_per_page, settings.max_document_bytes) == (25, 2048)
    monkeypatch.setenv("HEALTHGATE_MAX_PER_PAGE", "0")
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path)
