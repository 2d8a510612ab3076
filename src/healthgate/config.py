"""Settings, read from HEALTHGATE_* environment variables."""

from __future__ import annotations

import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Defaults, for code that runs without a Settings object (library calls, tests); the running server and the
# CLI pass the configured values.
DEFAULT_MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_PER_PAGE = 100


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class OidcProvider(BaseModel):
    """One OpenID Connect provider people may sign in with (HEALTHGATE_OIDC_PROVIDERS; docs/oidc.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, max_length=80)  # on the button: "Sign in with <label>"
    issuer: str = Field(pattern=r"^https?://")  # must equal the discovery document's "issuer"
    # Where the provider's metadata is; default: <issuer>/.well-known/openid-configuration
    discovery_url: str | None = Field(default=None, pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None  # None: a public client (PKCE only); never shown in reprs or logs
    scopes: str = "openid email profile"
    # Take the provider's email address as verified even without email_verified=true: only for a provider
    # that verifies every address it issues but does not say so (a single-tenant Microsoft Entra ID).
    trust_email: bool = False

    @field_validator("issuer", "discovery_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        # Plain http only for a provider on this machine (development, tests).
        if value and value.startswith("http://") and urlsplit(value).hostname not in LOCAL_HOSTS:
            raise ValueError("an OpenID Connect provider must be reached over https")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("the scopes must include openid")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEALTHGATE_", extra="ignore")

    # Every field is documented in the README's Configuration table (tests/test_settings.py checks).
    data_dir: Path = Field(default=Path("./healthgate-data"))
    database_url: str | None = None
    secret_key: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    # Database connections each server process may open, and so the requests it serves at once (more wait their
    # turn; see web/admission.py). With PostgreSQL, keep processes x (pool size + 5) under max_connections.
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    # Largest metadata document accepted, in bytes (JSON API, uploads, imports).
    max_document_bytes: int = Field(default=DEFAULT_MAX_DOCUMENT_BYTES, ge=1024)
    # Most items one page of a list or of search results may hold (the per_page parameter's upper bound).
    max_per_page: int = Field(default=DEFAULT_MAX_PER_PAGE, ge=1, le=10_000)
    # Host names the server answers for, comma-separated ("*" for any). Empty: the base URL's host,
    # localhost, 127.0.0.1 and testserver. Requests for any other Host get 400.
    trusted_hosts: str = ""
    # Per-client request limits, "N/period" ("600/minute"); "off" disables one. Anonymous: every request
    # without a token; expensive: search, validation and exports (per token or client); failed_auth: requests
    # with an unknown token. Counted in rate_limit_storage: "memory://" counts in each process separately.
    rate_limit_anonymous: str = "600/minute"
    rate_limit_expensive: str = "120/minute"
    rate_limit_failed_auth: str = "20/minute"
    rate_limit_storage: str = "memory://"
    # The outbox worker (docs/outbox.md): "inline" runs it in a thread of `healthgate serve`; "off" leaves
    # delivery to separate `healthgate worker` processes. Email goes by SMTP when smtp_host is set, else it is
    # printed to standard output (the console sender, for development).
    worker: Literal["inline", "off"] = "inline"
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=3600)
    outbox_max_attempts: int = Field(default=8, ge=1, le=100)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    email_from: str = "healthgate <healthgate@localhost>"
    # Custodians' webhooks (docs/access-notify.md): https only unless webhook_allow_http (tests, a receiver on
    # this machine); each POST waits at most webhook_timeout_seconds.
    webhook_allow_http: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # How long a GA4GH Passport visa (a signed JWT for an approved dataset) is valid after it is minted.
    passport_visa_lifetime_seconds: int = Field(default=86_400, ge=60, le=366 * 86_400)
    # OpenID Connect sign-in: JSON, provider name -> {label, issuer, client_id, client_secret, scopes,
    # discovery_url}. Empty: password sign-in only. See docs/oidc.md.
    oidc_providers: dict[str, OidcProvider] = Field(default_factory=dict)
    # Files attached to data access applications (docs/access-forms.md): kept in <data dir>/attachments
    # ("local") or in an S3-compatible bucket ("s3", needs the s3 extra); at most attachment_max_bytes each.
    attachment_storage: Literal["local", "s3"] = "local"
    attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # Data use register uploads (docs/register-upload.md): the largest file in bytes, the most entries (rows) in
    # one file, and how much an XLSX file may unpack to (its ZIP directory is checked before it is parsed).
    register_upload_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    register_upload_max_rows: int = Field(default=200_000, ge=1)
    register_upload_max_unpacked_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)

    @field_validator("oidc_providers")
    @classmethod
    def _provider_names(cls, value: dict[str, OidcProvider]) -> dict[str, OidcProvider]:
        for name in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
                raise ValueError(f"OIDC provider name {name!r}: use 1 to 40 lower-case letters, digits, - or _")
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'healthgate.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def allowed_hosts(self) -> list[str]:
        """The Host header values this server answers for."""
        if self.trusted_hosts.strip():
            return [h.strip() for h in self.trusted_hosts.split(",") if h.strip()]
        base = urlsplit(self.base_url).hostname
        return list(dict.fromkeys([*([base] if base else []), "localhost", "127.0.0.1", "testserver"]))

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def effective_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / "secret-key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
