"""Pydantic shapes shared by the domains' JSON APIs: the base of their request and response models, and the
types more than one domain parses the same way."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator


def _iso_date(value: Any) -> Any:
    """A date as ISO 8601 text (YYYY-MM-DD) only: not a number of seconds, not a date-time."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def nul_free(value: Any) -> bool:
    """Whether no text in ``value`` (nested models, mappings and lists included) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, BaseModel):
        return all(nul_free(v) for v in value.__dict__.values())
    if isinstance(value, dict):
        return all(nul_free(k) and nul_free(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(nul_free(v) for v in value)
    return True


class In(BaseModel):
    # A request body or query: frozen, unknown fields refused, and no text anywhere in it may hold NUL.
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """Text (also nested in lists, mappings and models) cannot hold NUL characters: no database stores them."""
        if not nul_free(value):
            raise ValueError("must not contain NUL characters")
        return value


class Out(BaseModel):
    # A response: frozen.
    model_config = ConfigDict(frozen=True)
