"""JSON API for DUO terms, dataset data-use conditions and the data-use check. Parse, call ``data_use`` /
``duo``, shape the answer; no SQL here."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from healthgate.access import data_use, diseases, duo
from healthgate.access import duo_terms as terms
from healthgate.web.deps import ContextDep, WriterContextDep, get_actor
from healthgate.web.openapi import OPTIONAL_AUTH, problems

router = APIRouter(prefix="/api/v1", tags=["access"], dependencies=[Depends(get_actor)])
IfMatch = Annotated[str | None, Header(description="the ETag you read; 412 if the conditions changed since")]
_ETAG = {"ETag": {"description": "the conditions' entity tag, for If-Match", "schema": {"type": "string"}}}
DatasetId = Annotated[uuid.UUID, Path(description="the dataset's persistent id")]
DuoRef = Annotated[str, Field(min_length=1, max_length=40, description="a DUO id (DUO:0000042) or shorthand (GRU)")]
DiseaseRef = Annotated[str, Field(min_length=1, max_length=40, description="an ICD-10 code (E11, E11.9, "
                                                                           "ICD10:E11.9, a block E10-E14)")]


class In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class TermOut(Out):
    id: str = Field(description="DUO id, e.g. DUO:0000042")
    shorthand: str
    label: str
    description: str
    kind: Literal["permission", "modifier", "root"]

    @classmethod
    def of(cls, t: terms.Term) -> TermOut:
        return cls(id=t.id, shorthand=t.shorthand, label=t.label, description=t.description,
                   kind=t.kind)  # type: ignore[arg-type]


class TermList(Out):
    source: str = Field(description="where the terms come from, and their licence")
    permissions: list[str] = Field(description="permission ids, broadest first (NRES, GRU > HMB > DS; POA apart)")
    purposes: list[str] = Field(description="the permission ids an application may state as its purpose")
    modifiers: list[str]
    items: list[TermOut]


class DiseaseOut(Out):
    id: str = Field(description="ICD10:<code>")
    label: str


class DiseaseList(Out):
    ontology: str = Field(description="the disease ontology disease restrictions are matched in")
    items: list[DiseaseOut]


class DataUseOut(Out):
    dataset_id: uuid.UUID
    set: bool = Field(description="false: the custodian has set no conditions (the check then abstains)")
    permission: TermOut | None
    diseases: list[DiseaseOut]
    modifiers: list[TermOut]
    updated_at: str | None = None

    @classmethod
    def of(cls, c: data_use.Conditions) -> DataUseOut:
        return cls(dataset_id=c.dataset_id, set=c.set,
                   permission=TermOut.of(terms.get(c.permission)) if c.permission else None,
                   diseases=[DiseaseOut(id=d["id"], label=d["label"]) for d in c.as_dict()["diseases"]],
                   modifiers=[TermOut.of(terms.get(m)) for m in c.modifiers],
                   updated_at=c.updated_at.isoformat() if c.updated_at else None)


class DataUseIn(In):
    permission: DuoRef | None = Field(description="one data use permission (NRES, GRU, HMB, DS, POA); null clears "
                                                  "the conditions")
    diseases: list[DiseaseRef] = Field(default_factory=list, max_length=50,
                                       description="with DS only: the diseases use is restricted to (ICD-10)")
    modifiers: list[DuoRef] = Field(default_factory=list, max_length=30, description="data use modifiers")


class PurposeIn(In):
    terms: list[DuoRef] = Field(default_factory=list, max_length=4, description="GRU, HMB, DS and/or POA")
    diseases: list[DiseaseRef] = Field(default_factory=list, max_length=50, description="with DS: ICD-10 codes")
    commercial: bool = Field(False, description="the use is commercial")
    for_profit: bool = Field(False, description="the applicant is a for-profit organisation")
    methods: bool = Field(False, description="methods development (software, algorithms, validation)")
    controls: bool = Field(False, description="use as a control set")
    sensitive: list[Literal[tuple(duo.SENSITIVE)]] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(duo.SENSITIVE),
        description="sensitive research areas (the check abstains on these)")


class CheckIn(In):
    purpose: PurposeIn
    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)


class ReasonOut(Out):
    rule: str
    verdict: Literal["APPROVE", "DENY", "ABSTAIN"]
    text: str
    source: str = Field(description="the published rule it follows")


class AdviceOut(Out):
    dataset_id: uuid.UUID
    verdict: Literal["APPROVE", "DENY", "ABSTAIN"]
    reason: str
    reasons: list[ReasonOut]
    conditions: list[str] = Field(description="what the dataset's modifiers oblige, if the use goes ahead")


class CheckOut(Out):
    advice: list[AdviceOut]


@router.get("/duo/terms", response_model=TermList, operation_id="listDuoTerms", openapi_extra=OPTIONAL_AUTH,
            responses=problems())
def list_terms() -> TermList:
    """The GA4GH Data Use Ontology terms healthgate uses, with the permissions' order."""
    return TermList(source=terms.SOURCE, permissions=list(terms.PERMISSIONS), purposes=list(terms.PURPOSES),
                    modifiers=list(terms.MODIFIERS), items=[TermOut.of(t) for t in terms.terms()])


@router.get("/duo/diseases", response_model=DiseaseList, operation_id="searchDiseases",
            openapi_extra=OPTIONAL_AUTH, responses=problems(422))
def search_diseases(
    q: Annotated[str, Query(min_length=2, max_length=100, description="part of an ICD-10 code or its description")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> DiseaseList:
    """ICD-10 codes for disease restrictions and purposes, found by code or description."""
    return DiseaseList(ontology=diseases.ONTOLOGY,
                       items=[DiseaseOut(id=d, label=diseases.label(d)) for d in diseases.search(q, limit)])


@router.get("/datasets/{dataset_id}/data-use", response_model=DataUseOut, operation_id="getDataUse",
            openapi_extra=OPTIONAL_AUTH,
            responses={**problems(404, 410, 422), 200: {"description": "The conditions", "headers": _ETAG}})
def get_data_use(ctx: ContextDep, dataset_id: DatasetId, response: Response) -> DataUseOut:
    """A dataset's data-use conditions (public for a published dataset)."""
    conditions = data_use.get(ctx, dataset_id)
    response.headers["ETag"] = conditions.etag
    return DataUseOut.of(conditions)


@router.put("/datasets/{dataset_id}/data-use", response_model=DataUseOut, operation_id="setDataUse",
            responses={**problems(401, 403, 404, 409, 410, 412, 422, body=True),
                       200: {"description": "The conditions as set", "headers": _ETAG}})
def set_data_use(ctx: WriterContextDep, dataset_id: DatasetId, body: DataUseIn, response: Response,
                 if_match: IfMatch = None) -> DataUseOut:
    """Set a dataset's conditions (its team's metadata manager, access manager or team admin). A DS permission
    needs at least one disease; each unknown term or code is named in the 422."""
    conditions = data_use.set_conditions(ctx, dataset_id, body.model_dump(), if_match=if_match)
    response.headers["ETag"] = conditions.etag
    return DataUseOut.of(conditions)


@router.post("/duo/check", response_model=CheckOut, operation_id="checkDataUse", openapi_extra=OPTIONAL_AUTH,
             responses=problems(404, 410, 422, body=True))
def check(ctx: ContextDep, body: CheckIn) -> CheckOut:
    """Advice before applying: the purpose against each dataset's conditions, APPROVE / DENY / ABSTAIN with the
    rules it follows. Advice only: custodians decide."""
    advice = duo.check(ctx, body.purpose.model_dump(), body.dataset_ids)
    return CheckOut(advice=[AdviceOut.model_validate(a.as_dict()) for a in advice])
