"""Which addresses a webhook may reach (SSRF protection): global unicast addresses only,
loopback only when a setting allows it (tests and ``make up``). Plain http only to loopback,
under the same setting. The URL's host is resolved by the sender; every address it resolves
to is checked and the one connected to is one of them (no second resolution).

An IPv6 address that carries an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-translated
``::ffff:0:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
``2002::/16``, Teredo ``2001::/32``) is judged by the IPv4 address inside: a gateway on the
path would deliver to it. Deliberately, a NAT64 or 6to4 address of a global IPv4 address is
allowed (an IPv6-only network reaches IPv4 receivers that way); the local-use NAT64 prefix
``64:ff9b:1::/48`` (RFC 8215, embedding chosen by each network), Teredo (deprecated, and its
server and client can be anything) and site-local ``fec0::/10`` are refused whatever they hold.

A refusal names the rule that failed, never the address: the address a name resolves to is
the receiver's network's business, and echoing it would let a caller map a private network."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from urllib.parse import SplitResult, urlsplit

__all__ = ["NOT_GLOBAL", "Address", "refused_address", "url_problem"]

Address = IPv4Address | IPv6Address

# Prefixed to the rule a refusal names.
NOT_GLOBAL = "an address that is not global unicast"

_GLOBAL_UNICAST = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_SITE_LOCAL = IPv6Network("fec0::/10")
_COMPATIBLE = IPv6Network("::/96")  # ::a.b.c.d (deprecated); :: and ::1 are judged first
_TRANSLATED = IPv6Network("::ffff:0:0:0/96")  # ::ffff:0:a.b.c.d (RFC 2765)


def refused_address(address: Address, *, allow_loopback: bool) -> str | None:
    """The rule ``address`` breaks (e.g. ``NAT64 of a private address``), or ``None`` when it
    may be reached. The rule never contains the address."""
    if isinstance(address, IPv4Address):
        return _refused_v4(address, allow_loopback=allow_loopback)
    return _refused_v6(address, allow_loopback=allow_loopback)


def _embedded(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 address carries, with the name of the form."""
    low32 = IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        return "IPv4-mapped form", address.ipv4_mapped
    if address in _TRANSLATED:
        return "IPv4-translated form", low32
    if address in _NAT64:
        return "NAT64", low32
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address in _COMPATIBLE and int(address) > 1:
        return "IPv4-compatible form", low32
    return None


def _refused_v6(address: IPv6Address, *, allow_loopback: bool) -> str | None:
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    embedded = _embedded(address)
    if embedded is not None:
        form, inside = embedded
        reason = _refused_v4(inside, allow_loopback=allow_loopback)
        return None if reason is None else f"{form} of {reason}"
    if address.teredo is not None:
        server, client = address.teredo
        inner = _refused_v4(client, allow_loopback=False) or _refused_v4(
            server, allow_loopback=False
        )
        return f"Teredo of {inner}" if inner is not None else "a Teredo tunnel address"
    if address in _NAT64_LOCAL:
        return "a local-use NAT64 address"
    if address in _SITE_LOCAL:
        return "a site-local address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address not in _GLOBAL_UNICAST or not address.is_global:
        return "a reserved address, not a public one"
    return None


def _refused_v4(address: IPv4Address, *, allow_loopback: bool) -> str | None:
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a shared or reserved address, not a public one"
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
        rule = refused_address(literal, allow_loopback=allow_loopback)
        return None if rule is None else f"the URL's host is {NOT_GLOBAL} ({rule})"
    return None


def _literal(parts: SplitResult) -> Address | None:
    try:
        return ip_address(parts.hostname or "")
    except ValueError:
        return None
