"""Sign-in through OpenID Connect providers (an institution's identity provider, ORCID, NHS mail's Entra).

The authorisation code flow with PKCE (S256), ``state`` and ``nonce``, built on Authlib:

1. ``begin`` makes the provider's authorisation URL and a ``Pending`` record (state, nonce, PKCE verifier,
   where to go afterwards). The browser carries the record in a short-lived signed cookie bound to this
   provider (``pack``/``unpack``); nothing is stored on the server until the person comes back.
2. ``finish`` checks the callback against the record (provider, ``state``), redeems the code at the token
   endpoint with the PKCE verifier (a code works once: the provider refuses a replayed one), and validates
   the ID token: signature against the provider's published keys, issuer, audience, expiry, ``nonce`` and
   ``at_hash``. The claims it returns are the provider's word about who this is.
3. ``sign_in`` links the provider's subject to a person: a known subject is that person; a first sign-in links
   to the account with the same address when both the provider and healthgate have verified it, or creates
   an account (only for an address the provider has verified). It records an ``OidcIdentity`` and the audit
   event; the page then starts a session (``sessions.start(ctx, user, "oidc:<name>")``).

Everything here takes the provider's settings; nothing is fetched at import time. Provider metadata and keys
are cached per process for an hour (the keys are fetched again when an ID token names an unknown key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import unicodedata
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from healthgate.audit import service as audit
from healthgate.config import OidcProvider, Settings
from healthgate.context import Context
from healthgate.errors import FieldError, HealthgateError, Invalid, NotFound
from healthgate.identity import users
from healthgate.identity.models import OidcIdentity, User
from healthgate.identity.permissions import SYSTEM, Actor

STATE_COOKIE = "healthgate_oidc"
STATE_MAX_AGE = 600  # seconds a person has between leaving for the provider and coming back
CACHE_SECONDS = 3600
HTTP_TIMEOUT = 10.0
LEEWAY = 60  # seconds of clock difference tolerated in the ID token's times
# Public-key signatures only: "none" and the HMAC family (keyed with the client secret) are refused.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class SignInFailed(HealthgateError):
    """The provider's answer cannot sign anyone in (tampered, replayed, refused, or not enough to go on)."""

    status = 400
    title = "Sign-in failed"


class ProviderUnavailable(HealthgateError):
    """The provider could not be reached or answered something that is not OpenID Connect."""

    status = 502
    title = "Sign-in provider unavailable"


@dataclass(frozen=True, slots=True)
class Pending:
    """What the browser carries between leaving for the provider and coming back."""

    provider: str
    state: str
    nonce: str
    verifier: str  # the PKCE code verifier; the provider saw only its S256 challenge
    next: str  # a local path to return to
    issued: float  # seconds since the epoch, on the app's clock
    link: str | None = None  # the signed-in person's id when they asked to link this provider to their account


@dataclass(frozen=True, slots=True)
class Claims:
    """Who the provider says this is, from a validated ID token (and the userinfo endpoint)."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None


# --- providers and their metadata ---------------------------------------------------------------------------


def provider(settings: Settings, name: str) -> OidcProvider:
    found = settings.oidc_providers.get(name)
    if found is None:
        raise NotFound(f"there is no sign-in provider called {name!r}")
    return found


def providers(settings: Settings) -> list[tuple[str, OidcProvider]]:
    """The configured providers, in the order the settings list them."""
    return list(settings.oidc_providers.items())


_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _get_json(url: str, what: str, *, force: bool = False) -> dict[str, Any]:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(url)
    if hit is not None and not force and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"could not read the sign-in provider's {what} at {url}: {exc}") from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"the sign-in provider's {what} at {url} is not a JSON object")
    with _cache_lock:
        _cache[url] = (now, body)
    return body


def metadata(config: OidcProvider) -> dict[str, Any]:
    """The provider's discovery document, checked to name the configured issuer and the endpoints we use."""
    url = config.discovery_url or config.issuer.rstrip("/") + "/.well-known/openid-configuration"
    meta = _get_json(url, "discovery document")
    if meta.get("issuer") != config.issuer:
        raise ProviderUnavailable(f"the discovery document at {url} names issuer {meta.get('issuer')!r}, "
                                  f"not the configured {config.issuer!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise ProviderUnavailable(f"the discovery document at {url} has no {key}")
    return meta


def _auth_method(config: OidcProvider, meta: dict[str, Any]) -> str:
    if not config.client_secret:
        return "none"
    supported = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"


def _redeem(config: OidcProvider, meta: dict[str, Any], code: str, verifier: str,
            redirect_uri: str) -> dict[str, Any]:
    """The token endpoint's answer for an authorisation code (RFC 6749 4.1.3 with the PKCE verifier)."""
    body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri,
                                 code_verifier=verifier)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    secret = config.client_secret.get_secret_value() if config.client_secret else None
    auth = ClientAuth(config.client_id, secret, _auth_method(config, meta))
    url, headers, body = auth.prepare("POST", meta["token_endpoint"], headers, body)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=HTTP_TIMEOUT)
        answer = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"could not redeem the code at {config.label}: {exc}") from None
    if not isinstance(answer, dict):
        raise ProviderUnavailable(f"{config.label}'s token endpoint did not answer with a JSON object")
    if "error" in answer:
        # invalid_grant: the code was used already, has expired, or the PKCE verifier does not match.
        raise SignInFailed(f"{config.label} refused the authorisation code ({str(answer['error'])[:100]}); it "
                           "may have been used already. Start the sign-in again.")
    if response.status_code >= 400:
        raise ProviderUnavailable(f"{config.label}'s token endpoint answered HTTP {response.status_code}")
    return answer


# --- the flow -----------------------------------------------------------------------------------------------


def safe_next(value: str | None) -> str:
    """A path on this site to return to; anything else (another site, a scheme, //host) is home."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return "/"
    return value


def begin(settings: Settings, name: str, redirect_uri: str, next_path: str | None,
          now: datetime, *, link_user: uuid.UUID | None = None) -> tuple[str, Pending]:
    """The provider's authorisation URL to send the browser to, and the record it must bring back.
    ``link_user``: the signed-in person who asked to link this provider to their account."""
    config = provider(settings, name)
    meta = metadata(config)
    pending = Pending(provider=name, state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                      verifier=secrets.token_urlsafe(64), next=safe_next(next_path), issued=now.timestamp(),
                      link=str(link_user) if link_user else None)
    url = prepare_grant_uri(meta["authorization_endpoint"], config.client_id, "code", redirect_uri=redirect_uri,
                            scope=config.scopes, state=pending.state, nonce=pending.nonce,
                            code_challenge=create_s256_code_challenge(pending.verifier),
                            code_challenge_method="S256")
    return url, pending


def _state_key(settings: Settings) -> bytes:
    return hmac.new(settings.effective_secret_key().encode(), b"healthgate oidc state", hashlib.sha256).digest()


def pack(settings: Settings, pending: Pending) -> str:
    """The cookie value: the record, signed with a key derived from the secret key."""
    raw = json.dumps(asdict(pending), separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")  # cookie-safe: no quoting needed
    mac = hmac.new(_state_key(settings), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unpack(settings: Settings, value: str | None, name: str, now: datetime) -> Pending:
    """The record a callback for provider ``name`` brought back: signed by us, for this provider, recent."""
    start_again = "Start the sign-in again from the sign-in page."
    if not value:
        raise SignInFailed("this browser did not start a sign-in with this provider, or it took too long. "
                           + start_again)
    body, _, mac = value.rpartition(".")
    expected = hmac.new(_state_key(settings), body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac, expected):
        raise SignInFailed("the sign-in record in this browser has been altered. " + start_again)
    try:
        pending = Pending(**json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
    except (ValueError, TypeError):
        raise SignInFailed("the sign-in record in this browser cannot be read. " + start_again) from None
    if pending.provider != name:
        raise SignInFailed("this answer comes from another provider than the one the sign-in started with. "
                           + start_again)
    if not 0 <= now.timestamp() - pending.issued <= STATE_MAX_AGE:
        raise SignInFailed("the sign-in took too long. " + start_again)
    return pending


def finish(settings: Settings, name: str, pending: Pending, params: dict[str, str], redirect_uri: str) -> Claims:
    """Check the provider's answer (the callback's query ``params``) and redeem its code for verified claims."""
    config = provider(settings, name)
    state = params.get("state") or ""
    if not hmac.compare_digest(state.encode(), pending.state.encode()):
        raise SignInFailed("the answer does not belong to the sign-in this browser started (its state differs). "
                           "Start the sign-in again from the sign-in page.")
    if "error" in params:  # the person cancelled, or the provider refused this client
        said = params["error"][:100] + (f": {params['error_description'][:300]}"
                                         if params.get("error_description") else "")
        raise SignInFailed(f"{config.label} did not sign you in ({said}).")
    code = params.get("code")
    if not code:
        raise SignInFailed(f"{config.label} sent no authorisation code")
    meta = metadata(config)
    token = _redeem(config, meta, code, pending.verifier, redirect_uri)
    if not isinstance(token.get("id_token"), str):
        raise SignInFailed(f"{config.label} sent no ID token; is the openid scope allowed for this client?")
    claims = _validate_id_token(config, meta, token["id_token"], pending.nonce, token.get("access_token"))
    found = dict(claims)
    if "email" not in found and isinstance(meta.get("userinfo_endpoint"), str) and token.get("access_token"):
        found.update(_userinfo(config, meta["userinfo_endpoint"], token["access_token"], claims["sub"]))
    return _claims(found, trust_email=config.trust_email)


def _keys(url: str, *, force: bool = False) -> KeySet:
    try:
        return KeySet.import_key_set(cast(Any, _get_json(url, "signing keys", force=force)))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ProviderUnavailable(f"the sign-in provider's signing keys at {url} cannot be read: {exc}") from None


def _validate_id_token(config: OidcProvider, meta: dict[str, Any], id_token: str, nonce: str,
                       access_token: str | None) -> dict[str, Any]:
    offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in SIGNING_ALGORITHMS if a in offered]
    try:
        try:
            decoded = jwt.decode(id_token, _keys(meta["jwks_uri"]), algorithms=algorithms)
        except InvalidKeyIdError:  # the provider rotated its keys since we cached them
            decoded = jwt.decode(id_token, _keys(meta["jwks_uri"], force=True), algorithms=algorithms)
        checked = CodeIDToken(decoded.claims, decoded.header,
                              {"iss": {"essential": True, "value": config.issuer},
                               "aud": {"essential": True, "value": config.client_id}},
                              {"nonce": nonce, "client_id": config.client_id, "access_token": access_token})
        # The token's times are the provider's real clock, not the app's (which tests move).
        checked.validate(now=int(time.time()), leeway=LEEWAY)
    except (JoseError, ValueError) as exc:
        what = getattr(exc, "claim", None) or getattr(exc, "error", None) or type(exc).__name__
        raise SignInFailed(f"the ID token from {config.label} is not valid ({what}); nobody was signed in") \
            from None
    if not isinstance(checked.get("sub"), str) or not checked["sub"]:
        raise SignInFailed(f"the ID token from {config.label} names no subject")
    return dict(checked)


def _userinfo(config: OidcProvider, url: str, access_token: str, subject: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, headers={"Authorization": f"Bearer {access_token}",
                                                                  "Accept": "application/json"})
        response.raise_for_status()
        info = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"could not read who you are from {config.label}: {exc}") from None
    if not isinstance(info, dict) or info.get("sub") != subject:  # OIDC Core 5.3.2: must be the same person
        raise SignInFailed(f"{config.label}'s userinfo answer is about someone else; nobody was signed in")
    return {k: info[k] for k in ("email", "email_verified", "name", "given_name", "family_name",
                                 "preferred_username") if k in info}


def _claims(found: dict[str, Any], *, trust_email: bool = False) -> Claims:
    email = found.get("email") if isinstance(found.get("email"), str) else None
    verified = found.get("email_verified")
    name = found.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [found.get(k) for k in ("given_name", "family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip()) or None
    if not name and isinstance(found.get("preferred_username"), str):
        name = found["preferred_username"]
    return Claims(subject=found["sub"], email=email.strip() if email else None,
                  email_verified=bool(email) and (trust_email or verified is True or verified == "true"),
                  name=name)


# --- linking the provider's subject to a person -------------------------------------------------------------


def identities(ctx: Context, user: User) -> list[OidcIdentity]:
    """The provider accounts linked to ``user``."""
    return list(ctx.session.scalars(select(OidcIdentity).where(OidcIdentity.user_id == user.id)
                                    .order_by(OidcIdentity.created_at)))


def sign_in(ctx: Context, name: str, label: str, claims: Claims) -> User:
    """The person these verified claims from provider ``name`` belong to, linking or creating the account on
    the first sign-in. Raises ``SignInFailed`` when linking would let the provider's account take over an
    account whose owner has not shown that the address is theirs."""
    now = ctx.now()
    linked = ctx.session.scalar(select(OidcIdentity).where(OidcIdentity.provider == name,
                                                           OidcIdentity.subject == claims.subject))
    if linked is not None:
        user = users.get_user(ctx, linked.user_id)
        _check_enabled(user)
        linked.last_login_at = now
        if claims.email and claims.email != linked.email:
            linked.email = claims.email[:320]
        return user
    if not claims.email:
        raise SignInFailed(f"{label} did not share your email address, which healthgate needs to know who you "
                           "are. Allow the email scope, or sign in with your password.")
    if not claims.email_verified:
        raise SignInFailed(f"{label} has not verified your email address {claims.email}, so healthgate cannot "
                           "use it to sign you in. Verify it there, or sign in with your password.")
    existing = users.find_by_email(ctx, claims.email)
    created = existing is None
    if existing is None:
        try:
            user = users.create_user(ctx.as_actor(SYSTEM), claims.email, _display_name(claims), verified=True)
        except Invalid as exc:
            raise SignInFailed(f"{label}'s details cannot make an account: "
                               + "; ".join(e.message for e in exc.errors), exc.errors) from None
    else:
        user = existing
        _check_enabled(user)
        if user.email_verified_at is None:
            raise SignInFailed(
                f"an account with the address {claims.email} exists but that address has not been verified "
                "there yet, so it cannot be linked. Sign in with your password and verify the address (or "
                f"reset your password), then sign in with {label} again.",
                [FieldError("email", "the existing account's address is not verified")])
    identity = OidcIdentity(provider=name, subject=claims.subject, user_id=user.id, email=claims.email[:320],
                            created_at=now, last_login_at=now)
    ctx.session.add(identity)
    ctx.session.flush()
    audit.record(ctx.as_actor(Actor(name=user.name, user_id=user.id)), "user.oidc_linked", "user", user.id,
                 {"provider": name, "identity_id": str(identity.id), "account_created": created}, at=now)
    return user


def link(ctx: Context, name: str, label: str, claims: Claims, pending: Pending) -> User:
    """Link the provider's subject to the signed-in person who started this flow asking for it (so a provider
    that shares no email address, like ORCID, can sign them in from then on)."""
    if pending.link is None or ctx.actor.user_id is None or str(ctx.actor.user_id) != pending.link:
        raise SignInFailed("the person signed in here is not the one who asked to link this account. Sign in "
                           f"again and link {label} from your account page.")
    user = users.get_user(ctx, ctx.actor.user_id)
    _check_enabled(user)
    now = ctx.now()
    linked = ctx.session.scalar(select(OidcIdentity).where(OidcIdentity.provider == name,
                                                           OidcIdentity.subject == claims.subject))
    if linked is not None:
        if linked.user_id != user.id:
            raise SignInFailed(f"this {label} account is already linked to another healthgate account")
        linked.last_login_at = now
        return user
    identity = OidcIdentity(provider=name, subject=claims.subject, user_id=user.id,
                            email=claims.email[:320] if claims.email else None, created_at=now, last_login_at=now)
    ctx.session.add(identity)
    ctx.session.flush()
    audit.record(ctx, "user.oidc_linked", "user", user.id,
                 {"provider": name, "identity_id": str(identity.id), "account_created": False}, at=now)
    return user


def _check_enabled(user: User) -> None:
    if user.disabled_at is not None:
        raise SignInFailed("this account is disabled; ask an alliance administrator")


def _display_name(claims: Claims) -> str:
    name = " ".join(unicodedata.normalize("NFKC", claims.name or "").split())
    if not name:
        name = (claims.email or "").partition("@")[0] or "New user"
    return name[:300]
