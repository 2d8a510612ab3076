"""GA4GH Passport visas for approved datasets and the JWKS to verify them.

``GET /api/v1/applications/{id}/visas`` (the applicant), ``GET /api/v1/passport`` (the signed-in person: every
visa) and ``GET /.well-known/jwks.json`` (anyone). No SQL here: ``access.passports`` does the work."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from healthgate.access import passports
from healthgate.web.deps import ContextDep, SettingsDep, get_actor
from healthgate.web.openapi import OPTIONAL_AUTH, problems

router = APIRouter(tags=["access"])
api = APIRouter(prefix="/api/v1", dependencies=[Depends(get_actor)])

VERIFY = (f"Each visa is a JWS (RS256) whose header names its key (`kid`) and the key set (`jku`): verify it "
          f"with the public keys at [`{passports.JWKS_PATH}`]({passports.JWKS_PATH}), check `iss` (this site's "
          f"base URL), `exp`, and `ga4gh_visa_v1.conditions` when present (see docs/access-notify.md).")


class VisaOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    application_id: uuid.UUID
    reference: str = Field(description="the application's reference")
    dataset_id: uuid.UUID
    team_id: uuid.UUID = Field(description="the custodian team whose committee granted access")
    expires_at: datetime
    visa: str = Field(description="the signed visa (JWS compact serialization)")
    claims: dict[str, Any] = Field(description="the visa's decoded claims, for reading (verify `visa`, not these)")


class VisasOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    ga4gh_passport_v1: list[str] = Field(description="the visas, as a Passport claim carries them")
    visas: list[VisaOut]


def _out(visas: list[passports.Visa]) -> VisasOut:
    return VisasOut(ga4gh_passport_v1=[v.token for v in visas],
                    visas=[VisaOut(application_id=v.application_id, reference=v.reference, dataset_id=v.dataset_id,
                                   team_id=v.team_id, expires_at=v.expires_at, visa=v.token, claims=v.claims)
                           for v in visas])


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


@api.get("/applications/{application_id}/visas", response_model=VisasOut, operation_id="getApplicationVisas",
         summary="GA4GH Passport visas of an application", description=(
             "A `ControlledAccessGrants` visa for each dataset of each approved part of the application (none "
             "for rejected, withdrawn or closed parts), for its applicant. " + VERIFY),
         responses=problems(401, 403, 404))
def application_visas(ctx: ContextDep, settings: SettingsDep, response: Response,
                      application_id: Annotated[uuid.UUID, Path(description="the application's id")]) -> VisasOut:
    visas = passports.for_application(ctx, application_id, base_url=settings.base_url,
                                      lifetime=settings.passport_visa_lifetime_seconds)
    _no_store(response)
    return _out(visas)


@api.get("/passport", response_model=VisasOut, operation_id="getMyPassport",
         summary="Every GA4GH Passport visa of the signed-in person", description=(
             "One `ControlledAccessGrants` visa for each dataset the person was granted access to, across all "
             "their applications. " + VERIFY), responses=problems(401))
def my_passport(ctx: ContextDep, settings: SettingsDep, response: Response) -> VisasOut:
    visas = passports.passport(ctx, base_url=settings.base_url, lifetime=settings.passport_visa_lifetime_seconds)
    _no_store(response)
    return _out(visas)


class Jwks(BaseModel):
    keys: list[dict[str, Any]] = Field(description="public JSON Web Keys (RFC 7517)")


@router.get(passports.JWKS_PATH, response_model=Jwks, operation_id="getJwks", openapi_extra=OPTIONAL_AUTH,
            responses=problems(),
            summary="The public keys that verify GA4GH Passport visas",
            description="A JSON Web Key Set (RFC 7517); each visa's `kid` names its key. Keys retired by a "
                        "rotation stay here for one visa lifetime.")
def jwks(ctx: ContextDep, settings: SettingsDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return passports.jwks(ctx, settings.passport_visa_lifetime_seconds)


router.include_router(api)
