"""Valid identifiers made up for tests and benchmarks: ROR ids (with their ISO 7064 MOD 97-10 check digits) and
ORCID iDs (MOD 11-2). Imports nothing of pytest, so ``benchmarks/`` can use it too."""

from __future__ import annotations

from stdnum.iso7064 import mod_11_2, mod_97_10

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def ror(body: str) -> str:
    """A valid ROR id from six Crockford base32 characters."""
    number = 0
    for c in "0" + body:
        number = number * 32 + CROCKFORD.index(c)
    return "0" + body + mod_97_10.calc_check_digits(str(number))


def orcid(n: int) -> str:
    """A valid ORCID iD whose first 15 digits are ``n``."""
    digits = f"{n:015d}"
    return "-".join([digits[0:4], digits[4:8], digits[8:12], digits[12:15] + mod_11_2.calc_check_digit(digits)])
