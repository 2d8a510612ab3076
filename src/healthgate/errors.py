"""Errors are data: every failure a user can cause is one of these, mapped to HTTP/CLI in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one place in the input: a JSON path (``summary/title``) or a row (``row 12``)."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class HealthgateError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, detail: str = "", errors: list[FieldError] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors or [])


class Invalid(HealthgateError):
    status = 422
    title = "Invalid input"


class NotFound(HealthgateError):
    status = 404
    title = "Not found"


class Forbidden(HealthgateError):
    status = 403
    title = "Forbidden"


class Unauthorized(HealthgateError):
    status = 401
    title = "Authentication required"


class Conflict(HealthgateError):
    status = 409
    title = "Conflict"


class TooLarge(HealthgateError):
    status = 413
    title = "Payload too large"
