"""Which addresses a webhook may reach (SSRF protection): public unicast addresses only, loopback
only when a setting allows it (tests and ``make up``). Plain http only to loopback, under the
same setting. The URL's host is resolved by the sender; every address it resolves to is checked
and the one connected to is one of them (no second resolution)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from urllib.parse import SplitResult, urlsplit

__all__ = ["Address", "refused_address", "url_problem"]

Address = IPv4Address | IPv6Address


def refused_address(address: Address, *, allow_loopback: bool) -> str | None:
    """Why ``address`` may not be reached, or ``None`` when it may."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            reason = refused_address(embedded, allow_loopback=allow_loopback)
            return None if reason is None else f"{reason} (inside the IPv6 address {address})"
    if address.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address (cloud metadata services live there)"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if address.is_private:
        return f"{address} is a private address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def url_problem(url: str, *, allow_loopback: bool) -> str | None:
    """What is wrong with ``url`` as a webhook address before it is resolved, or ``None``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("https", "http"):
        return "a webhook URL is https"
    if parts.scheme == "http" and not allow_loopback:
        return "a webhook URL is https"
    if not parts.hostname:
        return "the URL names no host"
    if parts.username is not None or parts.password is not None:
        return "the URL may not carry credentials"
    if parts.fragment:
        return "the URL may not carry a fragment"
    if port == 0:
        return "port 0 is not a port"
    literal = _literal(parts)
    if literal is not None:
        return refused_address(literal, allow_loopback=allow_loopback)
    return None


def _literal(parts: SplitResult) -> Address | None:
    try:
        return ip_address(parts.hostname or "")
    except ValueError:
        return None
