"""A real OpenID Connect provider for the tests, built with Authlib's authorisation server on Flask and served
over HTTP on 127.0.0.1 (a free port) from a thread.

It does what a strict provider does: discovery, a JWKS with an RSA key, the authorisation code grant with
PKCE required (S256 only), ``nonce`` required and echoed in an RS256-signed ID token (with ``at_hash``),
single-use codes bound to the client and its registered redirect URI, client authentication with a secret,
a userinfo endpoint. People "sign in" at the provider by posting their subject to the authorisation page.

Knobs for the tests: ``people`` (sub -> claims), ``tamper`` (issue ID tokens with a wrong nonce, audience,
issuer or signature, or already expired),
``drop_email_from_id_token`` (make the client ask the userinfo endpoint), and ``token_requests`` (what the
token endpoint was sent).
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "healthgate-test"
CLIENT_SECRET = "s3cret-" + secrets.token_urlsafe(8)
SCOPE_CLAIMS = {"email": ("email", "email_verified"), "profile": ("name", "given_name", "family_name")}


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class RequiredPkce(CodeChallenge):
    """PKCE for every client, confidential ones too, and S256 only (Authlib's default lets a confidential
    client skip it and accepts "plain")."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)


@dataclass
class Person:
    sub: str


class Provider:
    """The provider's state: its key, clients, people, outstanding codes and issued access tokens."""

    def __init__(self) -> None:
        self.issuer = ""
        self.kid = "test-key-1"
        self.key = RSAKey.generate_key(2048, parameters={"kid": self.kid, "use": "sig"}, private=True)
        self.clients: dict[str, Client] = {}
        self.people: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, Code] = {}
        self.access_tokens: dict[str, tuple[str, str]] = {}  # token -> (sub, scope)
        self.token_requests: list[dict[str, str]] = []
        self.tamper: str | None = None  # "nonce", "aud", "iss", "signature", "expired": a bad ID token
        self.foreign_key = RSAKey.generate_key(2048, private=True)
        self.drop_email_from_id_token = False
        self.lock = threading.Lock()

    def rotate(self) -> None:
        """A new signing key under a new key id; the old one is no longer published."""
        self.kid = f"test-key-{secrets.token_hex(4)}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": self.kid, "use": "sig"}, private=True)

    def register(self, redirect_uri: str) -> Client:
        client = Client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])
        self.clients[client.client_id] = client
        return client

    def claims(self, sub: str, scope: str, *, for_id_token: bool) -> dict[str, Any]:
        person = self.people[sub]
        wanted = {c for s in scope.split() for c in SCOPE_CLAIMS.get(s, ())}
        if for_id_token and self.drop_email_from_id_token:
            wanted -= {"email", "email_verified"}
        return {"sub": sub, **{k: v for k, v in person.items() if k in wanted}}


def make_app(provider: Provider) -> Flask:
    app = Flask(__name__)
    app.config["OAUTH2_ERROR_URIS"] = []

    def save_token(token: dict[str, Any], req: Any) -> None:
        provider.access_tokens[token["access_token"]] = (req.user.sub, token.get("scope", ""))

    server = AuthorizationServer(app, query_client=provider.clients.get, save_token=save_token)

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            provider.codes[code] = Code(code=code, client_id=req.client.client_id,
                                        redirect_uri=req.payload.redirect_uri, scope=req.scope,
                                        sub=req.user.sub, nonce=data.get("nonce"),
                                        code_challenge=data.get("code_challenge"),
                                        code_challenge_method=data.get("code_challenge_method"))

        def query_authorization_code(self, code: str, client: Client) -> Code | None:
            found = provider.codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            provider.codes.pop(authorization_code.code, None)  # a code works once

        def authenticate_user(self, authorization_code: Code) -> Person:
            return Person(authorization_code.sub)

    class IdToken(OpenIDCode):
        def exists_nonce(self, nonce: str, req: Any) -> bool:
            return any(c.nonce == nonce for c in provider.codes.values())

        def resolve_client_private_key(self, client: Client) -> RSAKey:
            # "signature": signed by a key the provider does not publish, under the published key's id
            return provider.foreign_key if provider.tamper == "signature" else provider.key

        def get_client_algorithm(self, client: Client) -> str:
            return "RS256"

        def get_client_claims(self, client: Client) -> dict[str, Any]:
            claims: dict[str, Any] = {"iss": provider.issuer, "aud": [client.client_id]}
            if provider.tamper == "aud":
                claims["aud"] = ["another-client"]
            elif provider.tamper == "iss":
                claims["iss"] = "http://127.0.0.1:1/not-the-issuer"
            elif provider.tamper == "expired":
                now = int(time.time())
                claims.update(iat=now - 3600, exp=now - 600)
            return claims

        def get_encode_header(self, client: Client) -> dict[str, str]:
            return {"alg": "RS256", "kid": provider.kid}

        def get_authorization_code_claims(self, authorization_code: Code) -> dict[str, Any]:
            claims = super().get_authorization_code_claims(authorization_code)
            if provider.tamper == "nonce":
                claims["nonce"] = "not-the-nonce-that-was-sent"
            return claims

        def generate_user_info(self, user: Person, scope: str) -> UserInfo:
            return UserInfo(provider.claims(user.sub, scope, for_id_token=True))

    server.register_grant(CodeGrant, [IdToken(require_nonce=True), RequiredPkce(required=True)])

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        base = provider.issuer
        return jsonify({
            "issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo", "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        })

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify({"keys": [provider.key.as_dict(private=False)]})

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as exc:  # an invalid request: say why, as a provider's error page would
            return f"<p>invalid authorisation request: {html.escape(str(exc))}</p>", 400
        if request.method == "GET":
            people = "".join(f"<option>{html.escape(sub)}</option>" for sub in provider.people)
            return (f'<form method="post"><select name="sub">{people}</select>'
                    '<button>Sign in</button></form>')
        sub = request.form.get("sub", "")
        # Someone the provider does not know (or who cancels): access_denied, sent back to the client.
        user = Person(sub) if sub in provider.people else None
        return server.create_authorization_response(grant_user=user, grant=grant)

    @app.post("/token")
    def token() -> Any:
        provider.token_requests.append(dict(request.form))
        return server.create_token_response()

    @app.get("/userinfo")
    def userinfo() -> Any:
        header = request.headers.get("Authorization", "")
        found = provider.access_tokens.get(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or found is None:
            return jsonify({"error": "invalid_token"}), 401
        sub, scope = found
        return jsonify(provider.claims(sub, scope, for_id_token=False))

    return app


@contextmanager
def running_provider() -> Iterator[Provider]:
    """A provider listening on 127.0.0.1 (a free port) until the block ends."""
    provider = Provider()
    server = make_server("127.0.0.1", 0, make_app(provider), threaded=True)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
