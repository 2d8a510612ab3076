"""Shapes of the forms API: the question bank, custodian templates, an application's form, attachments."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from healthgate.access import bank as qbank
from healthgate.access import forms
from healthgate.access.models import Attachment, FormTemplate, QuestionBankVersion

OptionText = Annotated[str, Field(min_length=1, max_length=1000, pattern=r"\S")]
Component = Literal["TextField", "TextArea", "RadioGroup", "CheckboxGroup", "DatePicker", "FileUploadMultiple"]


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OptionOut(Out):
    value: str
    questions: list[BankQuestionOut] = Field(description="follow-up questions asked only when this option is chosen")


class BankQuestionOut(Out):
    id: str = Field(description="stable id: section.sub-section.title-slug (answers are keyed by it)")
    title: str
    guidance: str
    component: Component
    required: bool = Field(description="required in the default form (templates decide for themselves)")
    options: list[OptionOut]
    validations: list[dict[str, Any]]
    source: Literal["hdruk", "healthgate"]
    retired: bool

    @classmethod
    def of(cls, q: Mapping[str, Any]) -> BankQuestionOut:
        return cls(id=q["id"], title=q["title"], guidance=q.get("guidance", ""), component=q["component"],
                   required=bool(q.get("required")), validations=list(q.get("validations") or []),
                   source=q.get("source", "hdruk"), retired=bool(q.get("retired")),
                   options=[OptionOut(value=o["value"], questions=[cls.of(c) for c in o.get("questions") or []])
                            for o in q.get("options") or []])


class SubsectionOut(Out):
    key: str
    title: str
    description: str
    questions: list[BankQuestionOut]


class BankSectionOut(Out):
    key: str = Field(description="safepeople | safeproject | safedata | safesettings | safeoutputs | additionalinfo")
    title: str
    description: str
    subsections: list[SubsectionOut]


class BankVersionOut(Out):
    version: int
    created_at: datetime
    created_by: str
    note: str

    @classmethod
    def of(cls, row: QuestionBankVersion) -> BankVersionOut:
        return cls(version=row.version, created_at=row.created_at, created_by=row.created_by, note=row.note)


class BankOut(Out):
    version: int
    sections: list[BankSectionOut]

    @classmethod
    def of(cls, b: qbank.Bank) -> BankOut:
        return cls(version=b.version, sections=[BankSectionOut(
            key=s["key"], title=s["title"], description=s.get("description", ""),
            subsections=[SubsectionOut(key=sub["key"], title=sub["title"], description=sub.get("description", ""),
                                       questions=[BankQuestionOut.of(q) for q in sub["questions"]])
                         for sub in s["subsections"]]) for s in b.doc["sections"]])


class BankChangeOut(Out):
    version: int = Field(description="the bank's new version")
    question_id: str


class NewQuestionIn(In):
    section: Literal["safepeople", "safeproject", "safedata", "safesettings", "safeoutputs", "additionalinfo"]
    subsection: str = Field("", max_length=200, description="a sub-section's key or title (a new one is made)")
    parent: str | None = Field(None, max_length=200, description="ask it as a follow-up of this question ...")
    option: str | None = Field(None, max_length=1000, description="... when this option is chosen")
    title: str = Field(min_length=1, max_length=1000, pattern=r"\S")
    component: Component
    guidance: str = Field("", max_length=5000)
    required: bool = False
    options: list[OptionText] = Field(default_factory=list, max_length=200)
    expected_version: int | None = Field(None, ge=1, le=2**31 - 1, description="the bank version you read (409 if stale)")


class QuestionChangesIn(In):
    title: str | None = Field(None, min_length=1, max_length=1000, pattern=r"\S")
    component: Component | None = None
    guidance: str | None = Field(None, max_length=5000)
    required: bool | None = None
    options: list[OptionText] | None = Field(None, max_length=200)
    expected_version: int | None = Field(None, ge=1, le=2**31 - 1, description="the bank version you read (409 if stale)")

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(exclude={"expected_version"}).items() if v is not None}


class ShowIf(In):
    question: str = Field(max_length=200)
    value: str = Field(max_length=1000)


class TemplateItem(In):
    id: str = Field(max_length=200, description="a question id of the bank")
    required: bool = False
    guidance: str = Field("", max_length=5000, description="the team's own guidance, added to the bank's")
    show_if: ShowIf | None = Field(None, description="ask it only when this choice question has this answer")


class TemplateIn(In):
    questions: list[TemplateItem] = Field(max_length=1000)


class TemplateOut(Out):
    id: uuid.UUID
    team_id: uuid.UUID
    version: int
    status: Literal["draft", "published"]
    bank_version: int
    created_at: datetime
    published_at: datetime | None
    questions: list[TemplateItem]

    @classmethod
    def of(cls, row: FormTemplate) -> TemplateOut:
        return cls(id=row.id, team_id=row.team_id, version=row.version, status=row.status,  # type: ignore[arg-type]
                   bank_version=row.bank_version, created_at=row.created_at, published_at=row.published_at,
                   questions=[TemplateItem(**i) for i in row.items.get("questions") or []])


class TeamTemplatesOut(Out):
    team_id: uuid.UUID
    current: str = Field(description="what a new application gets: a template id, or bank:<version> (the default)")
    draft: TemplateOut | None
    published: TemplateOut | None
    versions: list[TemplateOut]


class FormQuestionOut(Out):
    id: str
    title: str
    guidance: str
    component: Component
    options: list[str]
    required: bool
    answer: Any = None
    show_if: ShowIf | None = None
    subsection: str
    depth: int
    source: str
    asked_by: list[str] = Field(description="the custodian teams whose forms ask it")

    @classmethod
    def of(cls, q: forms.Question) -> FormQuestionOut:
        return cls(id=q.id, title=q.title, guidance=q.guidance, component=q.component,  # type: ignore[arg-type]
                   options=list(q.options), required=q.required, answer=q.answer,
                   show_if=ShowIf(question=q.show_if[0], value=q.show_if[1]) if q.show_if else None,
                   subsection=q.subsection, depth=q.depth, source=q.source, asked_by=list(q.asked_by))


class FormSectionOut(Out):
    key: str
    title: str
    description: str
    questions: list[FormQuestionOut]


class MissingOut(Out):
    path: str
    message: str


class FormOut(Out):
    application_id: uuid.UUID
    version: int = Field(description="the application's version (for If-Match / expected_version on commands)")
    templates: dict[str, str] = Field(description="team id -> the template id it keeps")
    sections: list[FormSectionOut]
    missing: list[MissingOut] = Field(description="required answers still missing (what submission would refuse)")


class AttachmentOut(Out):
    id: uuid.UUID
    application_id: uuid.UUID
    question_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, row: Attachment) -> AttachmentOut:
        return cls(id=row.id, application_id=row.application_id, question_id=row.question_id,
                   filename=row.filename, content_type=row.content_type, size=row.size, sha256=row.sha256,
                   created_at=row.created_at)


OptionOut.model_rebuild()
