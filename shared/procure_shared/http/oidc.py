"""OpenID Connect issuers' signing keys and claims (decision 21).

An issuer of ``PROCURE_OIDC_ISSUERS`` publishes its discovery document at
``{issuer}/.well-known/openid-configuration``, whose ``jwks_uri`` lists its public keys (JWKS).
``IssuerKeys`` fetches both when it first needs a key, keeps them for ``keys_max_age`` seconds,
and fetches them again when a token names a key id (``kid``) they lack: that is how a key
rotation is followed. Such refreshes happen at most once every ``refresh_interval`` seconds,
so that tokens with made-up key ids cannot make the service hammer the issuer. Keys are
PyJWT's ``PyJWK``: the algorithm a token may use is the one its key is for (an RSA key RS256,
a P-256 key ES256, or the key's ``alg``), and only if the issuer's entry allows it.

``claims_principal`` maps a verified token's claims to a ``Principal`` as the issuer's entry
says (roles from a claim and a value map, the buyer from a claim or fixed).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException

from procure_shared.settings import OidcIssuer
from procure_shared.tokens import Role

__all__ = ["DISCOVERY", "IssuerKeys", "claims_principal_parts"]

log = logging.getLogger("procure.auth")

DISCOVERY = "/.well-known/openid-configuration"
# After a failed fetch, tokens of that issuer wait this long before the next try (503 meanwhile).
_RETRY_AFTER_FAILURE = 2.0
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_ROLE_NAMES = frozenset(r.value for r in Role)


class _Unavailable(ServiceUnavailableException):
    """The issuer's keys cannot be fetched: not the client's fault (503, not 401)."""


@dataclass
class IssuerKeys:
    """One issuer's keys, fetched through its discovery document and cached."""

    config: OidcIssuer
    refresh_interval: float = 60.0
    keys_max_age: float = 3600.0
    timeout: float = 5.0
    clock: Callable[[], float] = time.monotonic
    fetches: int = 0  # how many times the keys were fetched (for tests and metrics)
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched_at: float = -math.inf  # the last successful fetch
    _refreshed_at: float = -math.inf  # the last fetch an unknown kid asked for
    _failed_at: float = -math.inf
    _lock: asyncio.Lock | None = None
    _client: httpx.AsyncClient | None = None

    async def key_for(self, kid: str | None, alg: str | None) -> jwt.PyJWK:
        """The key ``kid`` names, fit for ``alg``; 401 if the issuer has no such key (after at
        most one refresh), 503 if its keys cannot be fetched."""
        if not kid:
            raise NotAuthorizedException("the token names no signing key (kid)")
        now = self.clock()
        stale = now - self._fetched_at >= self.keys_max_age
        if stale or (kid not in self._keys and now - self._refreshed_at >= self.refresh_interval):
            await self._refresh(kid)
        key = self._keys.get(kid)
        if key is None:
            raise NotAuthorizedException(f"the issuer {self.config.issuer} has no key {kid!r}")
        if key.algorithm_name not in self.config.algorithms or alg != key.algorithm_name:
            raise NotAuthorizedException(
                f"the token's algorithm {alg} is not its key's, or not one accepted from "
                f"{self.config.issuer} ({', '.join(self.config.algorithms)})"
            )
        return key

    async def _refresh(self, kid: str) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one fetch at a time; those who waited use its result
            now = self.clock()
            fresh = now - self._fetched_at < self.keys_max_age
            if fresh and (kid in self._keys or now - self._refreshed_at < self.refresh_interval):
                return  # fetched meanwhile, or an unknown kid asked for a fetch lately
            if now - self._failed_at < _RETRY_AFTER_FAILURE:
                if self._keys:
                    return  # keep the keys we have until the issuer answers again
                raise _Unavailable(self._unavailable())
            if fresh:
                self._refreshed_at = now  # a fetch for an unknown kid: at most one an interval
            try:
                self._keys = await self._fetch()
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                self._failed_at = self.clock()
                log.warning(
                    "an issuer's keys cannot be fetched",
                    extra={"issuer": self.config.issuer, "error": f"{type(exc).__name__}: {exc}"},
                )
                if not self._keys:
                    raise _Unavailable(self._unavailable()) from None
                return
            self._fetched_at = self.clock()
            self.fetches += 1

    def _unavailable(self) -> str:
        return f"the keys of the issuer {self.config.issuer} cannot be fetched; try again shortly"

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        issuer = self.config.issuer
        answer = await self._client.get(issuer.rstrip("/") + DISCOVERY)
        answer.raise_for_status()
        discovery = answer.json()
        if not isinstance(discovery, dict) or discovery.get("issuer") != issuer:
            raise ValueError(f"the discovery document is not {issuer}'s")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not _trusted_url(jwks_uri):
            raise ValueError(f"the discovery document's jwks_uri {jwks_uri!r} is not https")
        answer = await self._client.get(jwks_uri)
        answer.raise_for_status()
        jwks = answer.json()
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("the JWKS document has no keys")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                keys[kid] = jwt.PyJWK(entry)
            except jwt.PyJWTError:  # a key type or curve PyJWT does not know: not ours to use
                continue
            if keys[kid].algorithm_name in ("HS256", "HS384", "HS512", "none"):
                del keys[kid]  # a symmetric key in a public document: never
        return keys

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _trusted_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)


def _dig(claims: Mapping[str, Any], path: str) -> Any:
    """A claim, or a dotted path into nested claims (``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def claims_principal_parts(
    config: OidcIssuer, claims: Mapping[str, Any]
) -> tuple[str, frozenset[Role], str | None]:
    """(subject, roles, buyer) of a verified token, as the issuer's entry maps its claims;
    401 when they make no principal (no subject, no role Procure knows, no buyer for a role
    that acts for one)."""
    sub = _dig(claims, config.subject_claim)
    if not isinstance(sub, str) or not sub:
        raise NotAuthorizedException(f"the token has no subject ({config.subject_claim})")
    raw = _dig(claims, config.roles_claim)
    values = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    roles: set[Role] = set()
    for value in values:
        if not isinstance(value, str):
            continue
        name = config.roles.get(value) if config.roles is not None else value
        if name in _ROLE_NAMES:
            roles.add(Role(name))
    if not roles:
        raise NotAuthorizedException(
            f"the token carries no role this service knows (claim {config.roles_claim})"
        )
    if config.buyer_claim is not None:
        buyer = _dig(claims, config.buyer_claim)
        if buyer is not None and (not isinstance(buyer, str) or not buyer):
            raise NotAuthorizedException(f"the token's {config.buyer_claim} is not a buyer")
    else:
        buyer = config.buyer
    if buyer is None and Role.ADMIN not in roles:
        raise NotAuthorizedException("the token names no buyer to act for")
    return sub, frozenset(roles), buyer
