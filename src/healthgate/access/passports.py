"""GA4GH Passport visas: for each dataset of an approved part of an application, a signed JWT (a "Visa Document
Token", GA4GH AAI profile and Passport spec v1.2) asserting that the custodian's data access committee granted
the applicant access, of type ``ControlledAccessGrants``; and the JWKS that verifies them.

Visas are minted on demand from the application's projection (approved parts only: never for a rejected,
withdrawn or closed part, nor any part of a withdrawn application), each with a fresh ``jti`` and an ``exp``
``lifetime`` seconds after minting. The signing key (RS256, 2048-bit RSA) is created on first use and kept in
``access_signing_keys``; :func:`rotate` makes a new key sign from then on and retires the old ones, which the
JWKS keeps serving for one visa lifetime so visas already minted still verify. See docs/access-notify.md.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from healthgate.access import service as applications
from healthgate.access.lifecycle import PartState, Status
from healthgate.access.models import Application, ApplicationDataset, ApplicationPart, SigningKey
from healthgate.audit import service as audit
from healthgate.clock import utc
from healthgate.context import Context
from healthgate.errors import Forbidden
from healthgate.identity.permissions import Permission, require

ALG = "RS256"
VISA_TYPE = "ControlledAccessGrants"
JWKS_PATH = "/.well-known/jwks.json"
GRANTED = (PartState.APPROVED.value, PartState.APPROVED_WITH_CONDITIONS.value)
DEFAULT_LIFETIME = 86_400


@dataclass(frozen=True, slots=True)
class Visa:
    application_id: uuid.UUID
    reference: str
    dataset_id: uuid.UUID
    team_id: uuid.UUID
    token: str  # the JWS compact serialization
    claims: dict[str, Any]
    expires_at: datetime


# -- keys ----------------------------------------------------------------------------------------------------


def _new_key(ctx: Context) -> SigningKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": ALG}, private=True)
    kid = key.thumbprint()
    row = SigningKey(kid=kid, private_jwk=key.as_dict(private=True), created_at=ctx.now(), retired_at=None)
    ctx.session.add(row)
    ctx.session.flush()
    audit.record(ctx, "passport.key_created", "signing_key", kid, {"alg": ALG})
    return row


def current_key(ctx: Context) -> SigningKey:
    """The key that signs now: the newest one not retired, created on first use."""
    row = ctx.session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None))
                             .order_by(SigningKey.created_at.desc(), SigningKey.kid).limit(1))
    return row if row is not None else _new_key(ctx)


def rotate(ctx: Context) -> str:
    """Make a new key sign from now on and retire the others (an alliance admin's operation); returns its kid."""
    require(ctx.actor, Permission.ACCESS_CONFIGURE)
    old = list(ctx.session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))))
    new = _new_key(ctx)
    for row in old:
        row.retired_at = ctx.now()
        audit.record(ctx, "passport.key_retired", "signing_key", row.kid, {"replaced_by": new.kid})
    return new.kid


def jwks(ctx: Context, lifetime: int = DEFAULT_LIFETIME) -> dict[str, Any]:
    """The public keys that verify visas: every key in use, and those retired less than a visa lifetime ago.
    Never creates a key (a JWKS with no key is valid until the first visa is minted)."""
    since = ctx.now() - timedelta(seconds=lifetime)
    rows = ctx.session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid))
    keys = []
    for row in rows:
        if row.retired_at is not None and utc(row.retired_at) <= since:
            continue
        public = RSAKey.import_key(row.private_jwk).as_dict(private=False)
        keys.append({**public, "kid": row.kid, "use": "sig", "alg": ALG})
    return {"keys": keys}


# -- visas ---------------------------------------------------------------------------------------------------


def _grants(ctx: Context, applicant_id: uuid.UUID, application_id: uuid.UUID | None = None
            ) -> list[tuple[Application, ApplicationPart, uuid.UUID]]:
    """(application, approved part, dataset) for each dataset of an approved part of this person's
    applications (not withdrawn), from the projections."""
    stmt = (select(Application, ApplicationPart, ApplicationDataset.dataset_id)
            .join(ApplicationPart, ApplicationPart.application_id == Application.id)
            .join(ApplicationDataset, (ApplicationDataset.application_id == Application.id)
                  & (ApplicationDataset.team_id == ApplicationPart.team_id))
            .where(Application.applicant_id == applicant_id, Application.status != Status.WITHDRAWN.value,
                   ApplicationPart.state.in_(GRANTED))
            .order_by(Application.created_at, Application.id, ApplicationDataset.position))
    if application_id is not None:
        stmt = stmt.where(Application.id == application_id)
    return [(a, p, d) for a, p, d in ctx.session.execute(stmt).all()]


def conditions_url(base: str, application_id: uuid.UUID, team_id: uuid.UUID) -> str:
    """Names the conditions a custodian attached to its approval (an AcceptedTermsAndPolicies value)."""
    return f"{base}/applications/{application_id}/conditions/{team_id}"


def _mint(ctx: Context, key: SigningKey, base: str, lifetime: int, app: Application, part: ApplicationPart,
          dataset_id: uuid.UUID) -> Visa:
    now = ctx.now()
    decided = utc(part.decided_at or part.updated_at)
    source = f"{base}/api/v1/teams/{part.team_id}"
    visa: dict[str, Any] = {"type": VISA_TYPE, "asserted": int(decided.timestamp()),
                            "value": f"{base}/datasets/{dataset_id}", "source": source, "by": "dac"}
    if part.state == PartState.APPROVED_WITH_CONDITIONS.value:
        # Valid only alongside a visa saying the applicant accepted the custodian's conditions (DNF: one
        # alternative of one clause), per the spec's "conditions" format.
        visa["conditions"] = [[{"type": "AcceptedTermsAndPolicies",
                                "value": f"const:{conditions_url(base, app.id, part.team_id)}",
                                "source": f"const:{source}"}]]
    expires = now + timedelta(seconds=lifetime)
    claims = {"iss": base, "sub": str(app.applicant_id), "iat": int(now.timestamp()),
              "exp": int(expires.timestamp()), "jti": str(uuid.uuid4()), "ga4gh_visa_v1": visa}
    header = {"typ": "JWT", "alg": ALG, "kid": key.kid, "jku": base + JWKS_PATH}
    token = jwt.encode(header, claims, RSAKey.import_key(key.private_jwk), algorithms=[ALG])
    return Visa(application_id=app.id, reference=app.reference, dataset_id=dataset_id, team_id=part.team_id,
                token=token, claims=claims, expires_at=expires)


def _issue(ctx: Context, applicant_id: uuid.UUID, base_url: str, lifetime: int,
           application_id: uuid.UUID | None = None) -> list[Visa]:
    grants = _grants(ctx, applicant_id, application_id)
    if not grants:
        return []
    base = base_url.rstrip("/")
    key = current_key(ctx)
    visas = [_mint(ctx, key, base, lifetime, a, p, d) for a, p, d in grants]
    audit.record(ctx, "passport.visas_issued", "user", applicant_id,
                 {"kid": key.kid, "visas": [{"jti": v.claims["jti"], "application": v.reference,
                                             "dataset": str(v.dataset_id)} for v in visas]})
    return visas


def for_application(ctx: Context, application_id: uuid.UUID, *, base_url: str,
                    lifetime: int = DEFAULT_LIFETIME) -> list[Visa]:
    """The applicant's visas for one application (its approved datasets). Anyone who may not see the
    application gets 404; its collaborators and custodians 403 (visas are issued to the applicant)."""
    view = applications.get(ctx, application_id)
    if not view.relation.applicant:
        raise Forbidden("visas are issued to the applicant of an application")
    return _issue(ctx, view.state.applicant_id, base_url, lifetime, application_id)


def passport(ctx: Context, *, base_url: str, lifetime: int = DEFAULT_LIFETIME) -> list[Visa]:
    """Every visa of the signed-in person: one per dataset of each approved part of their applications."""
    return _issue(ctx, applications.user_id_of(ctx), base_url, lifetime)
