"""Forms: the question bank, custodian templates and the answers an application gives.

The service calls three functions of this module; everything else about forms lives behind them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from healthgate.access.lifecycle import State
from healthgate.context import Context
from healthgate.errors import FieldError


def pin_templates(ctx: Context, team_ids: Iterable[uuid.UUID]) -> dict[str, str]:
    """The template each team uses now (team id -> template id), for an application to keep."""
    return {}


def clean_answers(ctx: Context, state: State, answers: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Check answers to save against the application's templates: (answers to store, ids to clear).
    Raises ``Invalid`` naming each bad answer by question."""
    return dict(answers), []


def missing_answers(ctx: Context, state: State) -> list[FieldError]:
    """Every required answer the application lacks, by question (checked on submission)."""
    return []


# -- the form an application shows (applicant pages render it with web/templates/access/forms/_fields.html) --


@dataclass(frozen=True)
class Question:
    id: str  # the bank's stable question id; answers are keyed by it
    title: str
    guidance: str
    component: str  # TextField | TextArea | RadioGroup | CheckboxGroup | DatePicker | FileUpload
    options: tuple[str, ...] = ()
    required: bool = False
    answer: Any = None
    show_if: tuple[str, str] | None = None  # (question id, option value): a follow-up shown only then


@dataclass(frozen=True)
class Section:
    key: str  # safepeople | safeproject | safedata | safesettings | safeoutputs | additionalinfo
    title: str
    description: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class ApplicationForm:
    """Every question the application's pinned templates ask, once each, by Five Safes section."""

    sections: tuple[Section, ...]


def form_for(ctx: Context, state: State) -> ApplicationForm:
    return ApplicationForm(sections=())


def answers_from_form(form: ApplicationForm, data: Mapping[str, Any]) -> dict[str, Any]:
    """The answers posted by ``_fields.html`` (one field ``q:<question id>`` per question; lists for checkboxes)."""
    return {q.id: data[f"q:{q.id}"] for s in form.sections for q in s.questions if f"q:{q.id}" in data}
