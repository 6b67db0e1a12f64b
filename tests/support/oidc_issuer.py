"""An OpenID Connect issuer on loopback, for tests: its own signing keys (RSA for RS256, P-256
for ES256), rotated on demand; its discovery document, its JWKS, an authorization endpoint
that signs in one configured user at once (no page: ``user``) and sends the browser back with a
code and the state, and a token endpoint (the client credentials grant, and the authorization
code grant with PKCE S256 checked); and ``mint`` for tokens of any shape a test needs (expired,
for another audience, signed with a key it never published).

It is a small Litestar app served by uvicorn in a thread of its own, so that a service on the
test's event loop and one in a process of its own fetch its keys alike, and a test that is not
async can use it. ``LocalIssuer`` keeps the state the endpoints share (keys, clients, codes).

Nothing here is a library's issuer: the ones on PyPI that run a whole provider (Flask and
Authlib, Canaille) sign with one RSA key, and their access tokens are not JWTs we could verify
(decision 21).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from litestar import Litestar, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

__all__ = ["Client", "Grant", "LocalIssuer", "SigningKey", "local_issuer"]

Alg = Literal["RS256", "ES256"]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: Alg
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def new(cls, alg: Alg) -> SigningKey:
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if alg == "RS256":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            private = ec.generate_private_key(ec.SECP256R1())
        return cls(kid=f"{alg.lower()}-{uuid.uuid4().hex[:12]}", alg=alg, private=private)

    def jwk(self) -> dict[str, Any]:
        """The public key as the JWKS publishes it."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            found = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            found = ECAlgorithm.to_jwk(public, as_dict=True)
        return found | {"kid": self.kid, "use": "sig", "alg": self.alg}


@dataclass(frozen=True)
class Client:
    """A client of the token endpoint and the claims of the tokens it gets; for the
    authorization-code flow, the redirect URLs it registered (a public client has no secret)."""

    secret: str | None
    claims: Mapping[str, Any]
    alg: Alg = "RS256"
    redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    """An authorization code the authorize endpoint gave: for whom, and what it must be
    redeemed with."""

    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    claims: Mapping[str, Any]


@dataclass
class LocalIssuer:
    audience: str = "procure"
    lifetime: timedelta = timedelta(minutes=10)
    keys: dict[str, SigningKey] = field(default_factory=dict)  # published, by kid
    active: dict[str, str] = field(default_factory=dict)  # alg -> the kid it signs with
    clients: dict[str, Client] = field(default_factory=dict)
    # The user the authorization endpoint signs in, without asking (its ID token's claims).
    user: dict[str, Any] = field(default_factory=lambda: {"sub": "alice@example.org"})
    codes: dict[str, Grant] = field(default_factory=dict)  # codes given, not yet redeemed
    discovery_fetches: int = 0
    jwks_fetches: int = 0
    port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        for alg in ("RS256", "ES256"):
            self.rotate(alg)

    @property
    def url(self) -> str:
        """The issuer (``iss``), where its discovery document is found."""
        return f"http://127.0.0.1:{self.port}"

    def entry(self, **options: Any) -> dict[str, Any]:
        """Its entry of ``PROCURE_OIDC_ISSUERS`` (camelCase options added)."""
        return {"issuer": self.url} | options

    # --- keys -------------------------------------------------------------------------------

    def rotate(self, alg: Alg = "RS256", *, retire: bool = False) -> str:
        """A new key for ``alg``, published and signing from now on; the one it replaces stays
        published (tokens it signed stay valid) unless ``retire``."""
        key = SigningKey.new(alg)
        old = self.active.get(alg)
        self.keys[key.kid] = key
        self.active[alg] = key.kid
        if retire and old is not None:
            del self.keys[old]
        return key.kid

    def retire(self, kid: str) -> None:
        del self.keys[kid]

    # --- tokens -----------------------------------------------------------------------------

    def mint(
        self,
        *,
        alg: Alg = "RS256",
        sub: str = "alice@example.org",
        audience: str | None = None,
        issuer: str | None = None,
        lifetime: timedelta | None = None,
        issued: float | None = None,
        key: SigningKey | None = None,
        header: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """An access token as this issuer signs them (a claim given as None is left out)."""
        signer = key or self.keys[self.active[alg]]
        now = int(issued if issued is not None else time.time())
        body = {
            "iss": issuer or self.url,
            "sub": sub,
            "aud": audience or self.audience,
            "iat": now,
            "exp": now + int((lifetime or self.lifetime).total_seconds()),
            "jti": uuid.uuid4().hex,
        } | claims
        body = {k: v for k, v in body.items() if v is not None}
        headers = {"kid": signer.kid} | dict(header or {})
        return jwt.encode(body, signer.private, algorithm=signer.alg, headers=headers)

    def register(self, client_id: str, alg: Alg = "RS256", **claims: Any) -> str:
        """A client of the token endpoint whose tokens carry ``claims``; its secret."""
        secret = secrets.token_urlsafe(24)
        self.clients[client_id] = Client(secret=secret, claims=claims, alg=alg)
        return secret

    def register_app(
        self, client_id: str, redirect_uri: str, *, public: bool = False, alg: Alg = "RS256"
    ) -> str | None:
        """A client of the authorization-code flow sending browsers back to ``redirect_uri``;
        its secret (None for a public client)."""
        secret = None if public else secrets.token_urlsafe(24)
        self.clients[client_id] = Client(
            secret=secret, claims={}, alg=alg, redirect_uris=(redirect_uri,)
        )
        return secret

    # --- serving ----------------------------------------------------------------------------

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(_app(self), log_config=None, access_log=False, lifespan="off")
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="oidc-issuer", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local OpenID Connect issuer did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)


@contextmanager
def local_issuer(**options: Any) -> Iterator[LocalIssuer]:
    issuer = LocalIssuer(**options)
    issuer.start()
    try:
        yield issuer
    finally:
        issuer.stop()


def _app(issuer: LocalIssuer) -> Litestar:
    @get("/.well-known/openid-configuration", sync_to_thread=False)
    def discovery() -> dict[str, Any]:
        issuer.discovery_fetches += 1
        return {
            "issuer": issuer.url,
            "jwks_uri": f"{issuer.url}/jwks",
            "authorization_endpoint": f"{issuer.url}/authorize",
            "token_endpoint": f"{issuer.url}/token",
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    @get("/jwks", sync_to_thread=False)
    def jwks() -> dict[str, Any]:
        issuer.jwks_fetches += 1
        return {"keys": [key.jwk() for key in list(issuer.keys.values())]}

    @get("/authorize", sync_to_thread=False)
    def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
        """Signs ``issuer.user`` in at once and sends the browser back with a code and the
        state; a request it cannot trust (unknown client, unregistered redirect) is a 400 that
        redirects nowhere, one without PKCE S256 goes back with ``invalid_request``."""
        q = request.query_params
        client = issuer.clients.get(q.get("client_id", ""))
        redirect_uri = q.get("redirect_uri", "")
        if client is None or redirect_uri not in client.redirect_uris:
            return Response({"error": "invalid_request"}, status_code=400)
        back: dict[str, str] = {}
        if q.get("state"):
            back["state"] = q["state"]
        challenge = q.get("code_challenge", "")
        if q.get("response_type") != "code":
            back["error"] = "unsupported_response_type"
        elif "openid" not in q.get("scope", "").split():
            back["error"] = "invalid_scope"
        elif q.get("code_challenge_method") != "S256" or len(challenge) < 43:
            back |= {"error": "invalid_request", "error_description": "PKCE S256 is required"}
        else:
            code = secrets.token_urlsafe(24)
            issuer.codes[code] = Grant(
                client_id=q["client_id"],
                redirect_uri=redirect_uri,
                challenge=challenge,
                nonce=q.get("nonce"),
                claims=dict(issuer.user),
            )
            back["code"] = code
        return Redirect(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    @post("/token", status_code=200, sync_to_thread=False)
    def token(request: Request[Any, Any, Any], data: Form) -> Response[dict[str, Any]]:
        client_id, secret = _client_credentials(request, data)
        client = issuer.clients.get(client_id or "")
        if client is None:
            return Response({"error": "invalid_client"}, status_code=401)
        if client.secret is not None and (
            secret is None or not secrets.compare_digest(secret, client.secret)
        ):
            return Response({"error": "invalid_client"}, status_code=401)
        if data.get("grant_type") == "authorization_code":
            return _code_grant(issuer, str(client_id), client, data)
        if data.get("grant_type") != "client_credentials" or client.secret is None:
            return Response({"error": "unsupported_grant_type"}, status_code=400)
        claims = dict(client.claims)
        sub = str(claims.pop("sub", client_id))
        access = issuer.mint(alg=client.alg, sub=sub, **claims)
        return Response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": int(issuer.lifetime.total_seconds()),
            },
            headers={"Cache-Control": "no-store"},
        )

    return Litestar([discovery, jwks, authorize, token], logging_config=None)


def _code_grant(
    issuer: LocalIssuer, client_id: str, client: Client, data: Mapping[str, str]
) -> Response[dict[str, Any]]:
    """An authorization code redeemed, once: by the client it was given to, with the same
    redirect URL, and the PKCE verifier whose S256 is the challenge; an ID token (audience:
    the client) and an access token (audience: Procure) for the user."""
    grant = issuer.codes.pop(data.get("code", ""), None)
    if grant is None or grant.client_id != client_id:
        return Response({"error": "invalid_grant"}, status_code=400)
    if data.get("redirect_uri") != grant.redirect_uri:
        return Response({"error": "invalid_grant"}, status_code=400)
    verifier = data.get("code_verifier", "")
    digest = hashlib.sha256(verifier.encode()).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    if not verifier or not secrets.compare_digest(computed, grant.challenge):
        return Response(
            {"error": "invalid_grant", "error_description": "PKCE verification failed"},
            status_code=400,
        )
    claims = dict(grant.claims)
    sub = str(claims.pop("sub", "alice@example.org"))
    id_token = issuer.mint(alg=client.alg, sub=sub, audience=client_id, nonce=grant.nonce, **claims)
    access = issuer.mint(alg=client.alg, sub=sub, **claims)
    return Response(
        {
            "access_token": access,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": int(issuer.lifetime.total_seconds()),
        },
        headers={"Cache-Control": "no-store"},
    )


def _client_credentials(
    request: Request[Any, Any, Any], data: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """HTTP Basic (client_secret_basic), else the form's (client_secret_post)."""
    kind, _, encoded = request.headers.get("authorization", "").partition(" ")
    if kind.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None, None
        return client_id, secret
    return data.get("client_id"), data.get("client_secret")
