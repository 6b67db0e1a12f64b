"""The providers service's HTTP API, as OCDS imports use it: find a provider by identifier,
register one. The caller's bearer token goes along (an import is an admin's act there too)."""

from __future__ import annotations

import functools
import logging
import re
import ssl
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from procure_contracts.ocds.mapping_in import Provider
from procure_contracts.ocds.suppliers import (
    MANY,
    Identifier,
    ProviderRegistry,
    Unusable,
)
from procure_shared.errors import Unavailable

__all__ = ["ProvidersOverHttp"]

log = logging.getLogger("procure.contracts.ocds")
TIMEOUT = 10.0
NAME_MAX = 300  # the providers service's legalName


def _name(text: str) -> str:
    """One line of at most ``NAME_MAX`` characters (what the registry takes)."""
    return re.sub(r"\s+", " ", text).strip()[:NAME_MAX] or "(unnamed)"


class ProvidersOverHttp(ProviderRegistry):
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def client(cls, base_url: str, authorization: str | None) -> httpx.AsyncClient:
        """A client sending the caller's ``Authorization`` header (one per import: the
        certificates are loaded once, not for each)."""
        headers = {"Authorization": authorization} if authorization else {}
        return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=TIMEOUT, verify=_tls())

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            answer = await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            log.warning("providers service unreachable: %r", exc)
            raise Unavailable(
                f"the providers service did not answer ({type(exc).__name__}); nothing was "
                "imported: try again"
            ) from None
        if answer.status_code >= 500 or answer.status_code in (401, 403):
            raise Unavailable(
                f"the providers service answered {answer.status_code} to {method} {path}; "
                "nothing was imported"
            )
        return answer

    async def find(self, scheme: str, id: str) -> Provider | None:
        answer = await self._send(
            "GET", "/v1/providers", params={"identifier": f"{scheme}:{id}", "limit": 1}
        )
        if answer.status_code in (400, 422):
            raise Unusable(_detail(answer))
        answer.raise_for_status()
        items = answer.json()["items"]
        if not items:
            return None
        return Provider(id=items[0]["id"], name=items[0].get("legalName"))

    async def find_many(self, identifiers: Sequence[Identifier]) -> dict[Identifier, Provider]:
        asked = [f"{scheme}:{id}" for scheme, id in identifiers]
        answer = await self._send(
            "GET", "/v1/providers", params={"identifier": asked, "limit": MANY}
        )
        if answer.status_code in (400, 422):
            raise Unusable(_detail(answer))
        answer.raise_for_status()
        held: dict[Identifier, Provider] = {}
        for item in answer.json()["items"]:
            provider = Provider(id=item["id"], name=item.get("legalName"))
            for i in item.get("identifiers", []):
                held[(i["scheme"], i["id"])] = provider
        return {identifier: held[identifier] for identifier in identifiers if identifier in held}

    async def register(self, name: str, scheme: str, id: str) -> Provider | None:
        answer = await self._send(
            "POST",
            "/v1/providers",
            json={
                "legalName": _name(name),
                "kind": "company",
                "identifiers": [{"scheme": scheme, "id": id}],
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if answer.status_code == 409:
            return None
        if answer.status_code in (400, 422):
            raise Unusable(_detail(answer))
        answer.raise_for_status()
        body = answer.json()
        return Provider(id=body["id"], name=body.get("legalName"))


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, made once (loading the certificates costs tens of
    milliseconds)."""
    return httpx.create_ssl_context()


def _detail(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail") or answer.text)
    except ValueError:
        return answer.text
