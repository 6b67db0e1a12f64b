"""Webhook requests that reach only the address they were checked against (SSRF protection):
the URL's host is resolved once, every address it resolves to must be allowed, and the request
goes to the first of them, with the host name kept for the Host header and TLS (SNI and the
certificate check). Redirects are not followed: a 3xx is a failed attempt."""

from __future__ import annotations

import asyncio
import socket
import time
from ipaddress import ip_address
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from procure_notifications.domain.addresses import (
    NOT_GLOBAL,
    Address,
    refused_address,
    url_problem,
)
from procure_notifications.senders.response import Response, answer, failure, refusal, since

__all__ = ["Refused", "WebhookSender", "resolve_allowed"]


class Refused(Exception):
    """The URL, or an address it resolves to, may not be reached."""


async def resolve_allowed(url: str, *, allow_loopback: bool) -> Address:
    """The address to connect to for ``url``; ``Refused`` when the URL or any address its
    host resolves to is not allowed."""
    problem = url_problem(url, allow_loopback=allow_loopback)
    if problem is not None:
        raise Refused(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = [ip_address(host)]  # a literal: nothing to resolve
    except ValueError:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except OSError as exc:
            raise Refused(
                f"{host} does not resolve: {exc.strerror or type(exc).__name__}"
            ) from None
        addresses = [ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    if not addresses:
        raise Refused(f"{host} does not resolve")
    for address in addresses:
        rule = refused_address(address, allow_loopback=allow_loopback)
        if rule is not None:
            # The rule, never the address: it would map the receiver's network for the caller.
            raise Refused(f"{host} resolves to {NOT_GLOBAL} ({rule})")
    if parts.scheme == "http" and not all(a.is_loopback or _mapped_loopback(a) for a in addresses):
        raise Refused("plain http is only for loopback receivers")
    return addresses[0]


def _mapped_loopback(address: Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped is not None and mapped.is_loopback


class WebhookSender:
    """POSTs through one aiohttp session (decision 0011): the URL's host is replaced by the
    checked address, the Host header and TLS (SNI, certificate) keep the name."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        timeout: float,
        max_response: int = 65536,
        connections: int = 256,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.timeout = timeout
        self.max_response = max_response
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop (aiohttp binds the session to it).
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"user-agent": "procure-webhooks/1"},
                trust_env=False,  # no proxy from the environment: we pick the address
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Response:
        started = time.perf_counter()
        address: Address | None = None
        try:
            address = await resolve_allowed(url, allow_loopback=self.allow_loopback)
            status = await self._post(url, address, headers, body)
            return answer(status, address=str(address), latency_ms=since(started))
        except Refused as exc:
            return refusal(str(exc), latency_ms=since(started))
        except TimeoutError:
            return failure(
                f"no answer within {self.timeout:g} s",
                address=str(address),
                latency_ms=since(started),
            )
        except (aiohttp.ClientError, OSError) as exc:
            return failure(
                f"{type(exc).__name__}: {exc}"[:500],
                address=str(address),
                latency_ms=since(started),
            )

    async def _post(self, url: str, address: Address, headers: dict[str, str], body: bytes) -> int:
        parts = urlsplit(url)
        host = parts.hostname or ""
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        pinned = urlunsplit(parts._replace(netloc=netloc))
        async with self._client().post(
            pinned,
            data=body,
            headers={
                **headers,
                "host": parts.netloc.rsplit("@", 1)[-1],
                "content-type": "application/json",
            },
            allow_redirects=False,
            server_hostname=host if parts.scheme == "https" else None,
        ) as response:
            # The status is what counts; at most this much of the body is read, none kept.
            await response.content.read(self.max_response)
            return response.status
