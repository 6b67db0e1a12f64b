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

import httpx
import msgspec

from procure_notifications.domain.addresses import Address, refused_address, url_problem

__all__ = ["Refused", "Response", "WebhookSender", "resolve_allowed"]


class Refused(Exception):
    """The URL, or an address it resolves to, may not be reached."""


class Response(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int | None
    error: str | None
    address: str | None
    latency_ms: float


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
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except OSError as exc:
        raise Refused(f"{host} does not resolve: {exc}") from None
    addresses = [ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
    if not addresses:
        raise Refused(f"{host} does not resolve")
    for address in addresses:
        reason = refused_address(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise Refused(f"{host} resolves to {reason}")
    if parts.scheme == "http" and not all(a.is_loopback or _mapped_loopback(a) for a in addresses):
        raise Refused("plain http is only for loopback receivers")
    return addresses[0]


def _mapped_loopback(address: Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped is not None and mapped.is_loopback


class WebhookSender:
    def __init__(self, *, allow_loopback: bool, timeout: float, max_response: int = 65536) -> None:
        self.allow_loopback = allow_loopback
        self.timeout = timeout
        self.max_response = max_response
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            trust_env=False,  # no proxy from the environment: we pick the address
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> Response:
        started = time.perf_counter()
        address: Address | None = None
        try:
            address = await resolve_allowed(url, allow_loopback=self.allow_loopback)
            status = await self._post(url, address, headers, body)
            return Response(
                status_code=status, error=None, address=str(address), latency_ms=_ms(started)
            )
        except Refused as exc:
            return Response(
                status_code=None, error=f"refused: {exc}", address=None, latency_ms=_ms(started)
            )
        except httpx.TimeoutException:
            return Response(
                status_code=None,
                error=f"no answer within {self.timeout:g} s",
                address=str(address),
                latency_ms=_ms(started),
            )
        except httpx.HTTPError as exc:
            return Response(
                status_code=None,
                error=f"{type(exc).__name__}: {exc}"[:500],
                address=str(address),
                latency_ms=_ms(started),
            )

    async def _post(self, url: str, address: Address, headers: dict[str, str], body: bytes) -> int:
        parts = urlsplit(url)
        host = parts.hostname or ""
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        pinned = urlunsplit(parts._replace(netloc=netloc))
        request = self._client.build_request(
            "POST",
            pinned,
            content=body,
            headers={
                **headers,
                "host": parts.netloc.rsplit("@", 1)[-1],
                "content-type": "application/json",
                "user-agent": "procure-webhooks/1",
            },
            extensions={"sni_hostname": host} if parts.scheme == "https" else {},
        )
        response = await self._client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > self.max_response:
                    break  # the status is what counts; the body is not kept
        finally:
            await response.aclose()
        return response.status_code


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
