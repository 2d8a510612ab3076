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


class InvalidToken(Unauthorized):
    """A bearer token was sent but is unknown or revoked (RFC 6750 ``invalid_token``)."""

    title = "Invalid token"


class PreconditionFailed(HealthgateError):
    status = 412
    title = "Precondition failed"


class Gone(NotFound):
    """Was here, withdrawn on purpose (an archived dataset): a NotFound that says so."""

    status = 410
    title = "Gone"


class UnsupportedMediaType(HealthgateError):
    status = 415
    title = "Unsupported media type"


class TooManyRequests(HealthgateError):
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str = "", retry_after: int = 1, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.retry_after = retry_after
        self.headers = dict(headers or {})
