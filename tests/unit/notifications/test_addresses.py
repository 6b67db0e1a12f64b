"""Which addresses a webhook may reach: global unicast only, with every IPv6 form that carries an
IPv4 address judged by the address inside; a refusal names the rule, never the address."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from procure_notifications.domain.addresses import refused_address, url_problem


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        # NAT64, well-known prefix: the cloud metadata service, private and loopback inside.
        ("64:ff9b::a9fe:a9fe", "NAT64 of a link-local address"),
        ("64:ff9b::a00:1", "NAT64 of a private address"),
        ("64:ff9b::7f00:1", "NAT64 of a loopback address"),
        ("64:ff9b::6440:1", "NAT64 of a shared or reserved address"),
        # NAT64, local-use prefix: refused whatever it holds.
        ("64:ff9b:1::a9fe:a9fe", "a local-use NAT64 address"),
        ("64:ff9b:1::808:808", "a local-use NAT64 address"),
        # Site-local (deprecated).
        ("fec0::1", "a site-local address"),
        ("feff::1", "a site-local address"),
        # IPv4-compatible and IPv4-translated forms.
        ("::a9fe:a9fe", "IPv4-compatible form of a link-local address"),
        ("::10.0.0.1", "IPv4-compatible form of a private address"),
        ("::127.0.0.1", "IPv4-compatible form of a loopback address"),
        ("::ffff:0:a9fe:a9fe", "IPv4-translated form of a link-local address"),
        ("::ffff:0:10.1.2.3", "IPv4-translated form of a private address"),
        # IPv4-mapped.
        ("::ffff:169.254.169.254", "IPv4-mapped form of a link-local address"),
        ("::ffff:192.168.0.1", "IPv4-mapped form of a private address"),
        # 6to4 around private, loopback and link-local addresses.
        ("2002:a00:1::1", "6to4 of a private address"),
        ("2002:7f00:1::", "6to4 of a loopback address"),
        ("2002:a9fe:a9fe::1", "6to4 of a link-local address"),
        # Teredo: the client is the last 32 bits inverted (here 10.0.0.1, then 8.8.8.8).
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo of a private address"),
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "a Teredo tunnel address"),
        # Plain IPv6 outside global unicast.
        ("::", "the unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fd00::1", "a private address"),
        ("ff02::1", "a multicast address"),
        ("100::1", "a private address"),  # discard-only
        ("2001:db8::1", "a private address"),  # documentation
        ("4000::1", "a reserved address"),  # outside 2000::/3
        # Plain IPv4.
        ("10.0.0.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("100.64.0.1", "a shared or reserved address"),
        ("240.0.0.1", "a private address"),
        ("0.0.0.0", "the unspecified address"),
    ],
)
def test_each_address_that_is_not_global_unicast_is_refused_by_the_rule_it_breaks(
    address: str, rule: str
) -> None:
    why = refused_address(ip_address(address), allow_loopback=False) or ""
    assert why.startswith(rule), why
    assert address not in why
    assert str(ip_address(address)) not in why


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
        "64:ff9b::808:808",  # NAT64 of a global address: deliberately allowed
        "2002:808:808::1",  # 6to4 of a global address: deliberately allowed
        "::ffff:8.8.8.8",
    ],
)
def test_global_unicast_addresses_and_translations_of_global_ones_pass(address: str) -> None:
    assert refused_address(ip_address(address), allow_loopback=False) is None


def test_loopback_in_any_form_passes_only_when_loopback_is_allowed() -> None:
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"):
        assert refused_address(ip_address(address), allow_loopback=True) is None
        assert "loopback" in (refused_address(ip_address(address), allow_loopback=False) or "")
    # Allowing loopback allows nothing else.
    assert "NAT64 of a link-local" in (
        refused_address(ip_address("64:ff9b::a9fe:a9fe"), allow_loopback=True) or ""
    )


def test_a_literal_url_is_refused_by_the_rule_without_echoing_its_address() -> None:
    why = url_problem("https://[64:ff9b::a9fe:a9fe]/latest/meta-data", allow_loopback=False)
    assert why == (
        "the URL's host is an address that is not global unicast "
        "(NAT64 of a link-local address (cloud metadata services live there))"
    )
