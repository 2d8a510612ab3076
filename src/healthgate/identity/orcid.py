"""ORCID iDs: 16 characters in four groups of four (``0000-0002-1825-0097``), the last an ISO 7064 MOD 11-2 check
character (a digit or X). Accepts the bare iD, without hyphens, or as its https://orcid.org/ URL; answers the
canonical hyphenated form, or Invalid saying which part is wrong."""

from __future__ import annotations

import re

from stdnum.iso7064 import mod_11_2

from healthgate.errors import FieldError, Invalid

_URL = re.compile(r"^(?:https?://)?(?:www\.)?(?:sandbox\.)?orcid\.org/", re.IGNORECASE)


def _fail(message: str, field: str) -> Invalid:
    return Invalid(f"not a valid ORCID iD: {message}", [FieldError(field, message)])


def normalise(value: str, *, field: str = "orcid") -> str:
    """The canonical ``0000-0000-0000-000X`` form of an ORCID iD, or Invalid naming the malformed part."""
    raw = (value or "").strip()
    text = _URL.sub("", raw).strip().strip("/")
    if not text:
        raise _fail("give an ORCID iD like 0000-0002-1825-0097", field)
    if "-" in text:
        groups = text.split("-")
        if len(groups) != 4:
            raise _fail(f"an ORCID iD has four groups of four characters separated by hyphens, not "
                        f"{len(groups)} groups", field)
    else:
        if len(text) != 16:
            raise _fail(f"an ORCID iD has 16 characters, not {len(text)}", field)
        groups = [text[i:i + 4] for i in range(0, 16, 4)]
    for n, group in enumerate(groups, 1):
        if len(group) != 4:
            raise _fail(f"group {n} ({group!r}) must have four characters, not {len(group)}", field)
        body = group if n < 4 else group[:3]
        if not body.isascii() or not body.isdigit():
            raise _fail(f"group {n} ({group!r}) must be digits"
                        + ("" if n < 4 else ", the last of which may be X"), field)
    check = groups[3][3].upper()
    if not (check.isascii() and (check.isdigit() or check == "X")):
        raise _fail(f"the check character ({groups[3][3]!r}) must be a digit or X", field)
    digits = "".join(groups)[:15]
    expected = mod_11_2.calc_check_digit(digits)
    if expected != check:
        raise _fail(f"the check digit is wrong: {'-'.join(groups)} should end in {expected}, not {check} "
                    "(a mistyped digit?)", field)
    return "-".join([*groups[:3], groups[3][:3] + check])


def url(orcid: str) -> str:
    return f"https://orcid.org/{orcid}"
