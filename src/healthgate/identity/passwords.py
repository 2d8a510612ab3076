"""Passwords: argon2id hashes (argon2-cffi), a short policy, and a verification that costs the same whether or
not an account exists (so timing does not tell who has one)."""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from healthgate.errors import FieldError, Invalid

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a cap stops a megabyte "password" costing the server
_hasher = PasswordHasher()  # argon2id with the library's current parameters (RFC 9106 low-memory profile)
# A hash of nothing anyone can type: verified against when the account does not exist, to spend the same time.
_DUMMY = _hasher.hash("\x00 no account \x00")


def _normalised(password: str) -> str:
    # The same password typed on two keyboards (composed or decomposed accents) is one password.
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, *, email: str | None = None, name: str | None = None,
                 field: str = "password") -> None:
    """Raise Invalid (naming ``field``) unless ``password`` is acceptable."""
    password = password or ""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"use at least {MIN_LENGTH} characters")
    elif len(password) > MAX_LENGTH:
        problems.append(f"use at most {MAX_LENGTH} characters")
    elif len(set(password)) < 4:
        problems.append("use more than three different characters")
    else:
        folded = password.casefold()
        for other in (email, (email or "").partition("@")[0], name):
            if other and len(other) >= 4 and other.casefold() in folded:
                problems.append("do not use your email address or name in your password")
                break
    if problems:
        raise Invalid("the password is too weak", [FieldError(field, p) for p in problems])


def hash_password(password: str) -> str:
    return _hasher.hash(_normalised(password))


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored`` (an argon2 hash). With no stored hash (no account, or an
    OpenID-Connect-only account) a dummy hash is checked, so the answer takes as long and is False."""
    if not password or len(password) > MAX_LENGTH:
        return False
    try:
        ok = _hasher.verify(stored or _DUMMY, _normalised(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's (rehash at the next sign-in)."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
