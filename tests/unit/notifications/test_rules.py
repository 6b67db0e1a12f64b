"""The notifications service's pure rules: which events a filter takes, which addresses a
webhook may reach, how deliveries are signed, when a failed one is tried again, and where an
attempt's outcome leaves a delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any

import msgspec
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from procure_notifications.domain.addresses import refused_address, url_problem
from procure_notifications.domain.deliveries import (
    DeliveryStatus,
    Outcome,
    Secrets,
    Settled,
    settle,
)
from procure_notifications.domain.filters import Conditions, Filter, MinValue, facts_of, matches
from procure_notifications.domain.filters import type_matches as tm
from procure_notifications.domain.retries import RetryPolicy, next_attempt
from procure_notifications.domain.signing import new_secret, signatures
from procure_notifications.domain.subscriptions import Owner, visible_to
from procure_notifications.senders.response import answer, failure, refusal
from procure_shared.events.envelope import Envelope, encode_envelope

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def event(
    type: str = "contracts.contract.signed", buyer: str | None = "dfe", **data: Any
) -> Envelope:
    return Envelope.new(
        service=type.split(".")[0],
        type=type,
        subject=str(uuid.uuid4()),
        time=T0,
        sequence=1,
        data=data,
        buyer_id=buyer,
    )


@pytest.mark.parametrize(
    ("pattern", "event_type", "expected"),
    [
        ("contracts.milestone.*", "contracts.milestone.overdue", True),
        ("contracts.milestone.*", "contracts.milestone", False),
        ("contracts.milestone.*", "contracts.kpi.observed", False),
        ("contracts.>", "contracts.milestone.overdue", True),
        ("contracts.>", "contracts", False),
        (">", "providers.provider.registered", True),
        ("*.contract.signed", "contracts.contract.signed", True),
        ("contracts.contract.signed", "contracts.contract.signed", True),
        ("contracts.contract.signed", "contracts.contract.signed.more", False),
    ],
)
def test_event_types_match_nats_style_wildcards(
    pattern: str, event_type: str, expected: bool
) -> None:
    assert tm(pattern, event_type) is expected


def test_conditions_are_anded_and_an_event_without_the_field_does_not_match() -> None:
    contract = str(uuid.uuid4())
    f = Filter(
        event_types=["contracts.>"],
        conditions=Conditions(contract_id=contract, min_value=MinValue(amount="5000000")),
    )
    big = event(contractId=contract, value={"amount": "5000000.00", "currency": "GBP"})
    small = event(contractId=contract, value={"amount": "4999999.99", "currency": "GBP"})
    other = event(contractId=str(uuid.uuid4()), value={"amount": "9000000.00", "currency": "GBP"})
    euros = event(contractId=contract, value={"amount": "9000000.00", "currency": "EUR"})
    no_value = event(contractId=contract)
    assert [matches(f, e, facts_of(e)) for e in (big, small, other, euros, no_value)] == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_a_provider_condition_matches_one_provider_or_one_of_many() -> None:
    f = Filter(event_types=[">"], conditions=Conditions(provider_id="p1"))
    one = event("contracts.award.made", providerId="p1")
    many = event("contracts.contract.signed", providerIds=["p0", "p1"])
    neither = event("contracts.contract.signed", providerIds=["p2"])
    assert [matches(f, e, facts_of(e)) for e in (one, many, neither)] == [True, True, False]


@pytest.mark.parametrize(
    ("level", "ratings_taken"),
    [
        ("good", ["good", "approaching_target", "requires_improvement", "inadequate"]),
        ("requires_improvement", ["requires_improvement", "inadequate"]),
        ("inadequate", ["inadequate"]),
    ],
)
def test_a_kpi_rating_condition_takes_that_level_and_worse(
    level: Any, ratings_taken: list[str]
) -> None:
    f = Filter(event_types=["contracts.kpi.*"], conditions=Conditions(kpi_rating_at_or_below=level))
    taken = [
        r
        for r in ("good", "approaching_target", "requires_improvement", "inadequate", "other")
        if matches(f, e := event("contracts.kpi.rating_changed", rating=r), facts_of(e))
    ]
    assert taken == ratings_taken


def test_a_filter_with_a_bad_pattern_or_unknown_field_does_not_decode() -> None:
    bad: dict[str, Any]
    for bad in (
        {"eventTypes": []},
        {"eventTypes": ["contracts..signed"]},
        {"eventTypes": ["contracts.#"]},
        {"eventTypes": [">"], "conditions": {"colour": "red"}},
        {"eventTypes": [">"], "conditions": {"kpiRatingAtOrBelow": "dreadful"}},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, Filter)


def test_a_subscription_sees_its_buyers_events_and_shared_ones_and_an_admin_sees_all() -> None:
    dfe = Owner(sub="u1", buyer_id="dfe")
    admin = Owner(sub="root", buyer_id=None, admin=True)
    mine, theirs, shared = (
        event(buyer="dfe"),
        event(buyer="dhsc"),
        event("providers.provider.registered", buyer=None),
    )
    assert [visible_to(dfe, "s1", e) for e in (mine, theirs, shared)] == [True, False, True]
    assert [visible_to(admin, "s1", e) for e in (mine, theirs, shared)] == [True, True, True]


def test_a_subscription_never_receives_its_own_delivery_failures() -> None:
    owner = Owner(sub="u1", buyer_id="dfe")
    own = event("notifications.delivery.failed", subscriptionId="s1")
    another = event("notifications.delivery.failed", subscriptionId="s2")
    assert (visible_to(owner, "s1", own), visible_to(owner, "s1", another)) == (False, True)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.1.2.3", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not a public"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    assert why in (refused_address(ip_address(address), allow_loopback=False) or "")


def test_public_addresses_pass_and_loopback_only_when_allowed() -> None:
    assert refused_address(ip_address("93.184.215.14"), allow_loopback=False) is None
    assert (
        refused_address(ip_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c"), allow_loopback=False)
        is None
    )
    assert refused_address(ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refused_address(ip_address("::ffff:127.0.0.1"), allow_loopback=True) is None
    assert "private" in (refused_address(ip_address("10.0.0.1"), allow_loopback=True) or "")


@pytest.mark.parametrize(
    ("url", "allow_loopback", "why"),
    [
        ("http://example.org/hook", False, "https"),
        ("ftp://example.org/hook", True, "https"),
        ("https://user:pw@example.org/hook", False, "credentials"),
        ("https:///hook", False, "no host"),
        ("https://127.0.0.1/hook", False, "loopback"),
        ("https://[::1]/hook", False, "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", False, "loopback"),
        ("https://169.254.169.254/latest/meta-data", False, "link-local"),
        ("https://10.0.0.1/hook", False, "private"),
        ("https://example.org:99999/hook", False, "URL"),
    ],
)
def test_webhook_urls_are_checked_before_they_are_resolved(
    url: str, allow_loopback: bool, why: str
) -> None:
    assert why in (url_problem(url, allow_loopback=allow_loopback) or "")


def test_http_to_loopback_passes_only_when_loopback_is_allowed() -> None:
    assert url_problem("http://127.0.0.1:8080/hook", allow_loopback=True) is None
    assert url_problem("https://example.org/hook", allow_loopback=False) is None


def test_signatures_verify_with_the_standard_webhooks_library_and_rotation_signs_with_both() -> (
    None
):
    old, new = new_secret(), new_secret()
    body = encode_envelope(event())
    msg_id, ts = str(uuid.uuid4()), int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signatures([new, old], msg_id, ts, body),
    }
    sent = msgspec.json.decode(body)
    assert Webhook(new).verify(body, headers) == sent
    assert Webhook(old).verify(body, headers) == sent  # a receiver not yet switched
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_retries_back_off_exponentially_within_the_jitter_and_stop_at_the_horizon() -> None:
    policy = RetryPolicy(first_delay=5, factor=2, max_delay=60, horizon=120, jitter=0.2)
    for failures, base in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (6, 60)]:
        for spread in (0.0, 0.5, 0.999):
            delay = policy.delay(failures, spread)
            assert base * 0.8 <= delay <= base * 1.2
    assert policy.delay(2, 0.5) == 10
    at = next_attempt(policy, failures=1, first_attempt=T0, now=T0, spread=0.5)
    assert at == T0 + timedelta(seconds=5)
    late = T0 + timedelta(seconds=100)
    assert next_attempt(policy, failures=6, first_attempt=T0, now=late, spread=0.5) is None


class Tried(msgspec.Struct, frozen=True, kw_only=True):
    tries: int
    first_attempt_at: datetime


POLICY = RetryPolicy(first_delay=5, factor=2, max_delay=60, horizon=120, jitter=0.2)


def test_a_delivered_attempt_settles_the_delivery_with_nothing_more_due() -> None:
    settled = settle(Tried(tries=1, first_attempt_at=T0), Outcome.DELIVERED, POLICY, T0, spread=0.5)
    assert settled == Settled(status=DeliveryStatus.DELIVERED, next_attempt_at=None)


def test_a_gone_receiver_leaves_the_delivery_pending_and_due_at_once_for_a_resume() -> None:
    later = T0 + timedelta(seconds=500)  # past the horizon: a 410 is no failure
    settled = settle(Tried(tries=9, first_attempt_at=T0), Outcome.GONE, POLICY, later, spread=0.5)
    assert settled == Settled(status=DeliveryStatus.PENDING, next_attempt_at=later)


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.REFUSED])
def test_a_failed_or_refused_attempt_is_tried_again_after_the_backoff_then_dead(
    outcome: Outcome,
) -> None:
    first = settle(Tried(tries=1, first_attempt_at=T0), outcome, POLICY, T0, spread=0.5)
    assert first == Settled(
        status=DeliveryStatus.PENDING, next_attempt_at=T0 + timedelta(seconds=5)
    )
    late = T0 + timedelta(seconds=100)
    last = settle(Tried(tries=6, first_attempt_at=T0), outcome, POLICY, late, spread=0.5)
    assert last == Settled(status=DeliveryStatus.DEAD, next_attempt_at=None)


def test_a_senders_answer_names_its_outcome_by_status_and_a_refusal_by_its_rule() -> None:
    assert [answer(code, address=None, latency_ms=1).outcome for code in (200, 204, 410, 500)] == [
        Outcome.DELIVERED,
        Outcome.DELIVERED,
        Outcome.GONE,
        Outcome.FAILED,
    ]
    refused = refusal("the address is not global unicast", latency_ms=1)
    assert (refused.outcome, refused.error) == (
        Outcome.REFUSED,
        "refused: the address is not global unicast",
    )
    assert failure("timed out", address="192.0.2.1", latency_ms=1).outcome is Outcome.FAILED


def test_secrets_sign_with_the_current_one_and_the_previous_one_only_in_its_grace() -> None:
    rotated = Secrets("new", "old", T0 + timedelta(hours=1))
    assert rotated.signing(T0) == ["new", "old"]
    assert rotated.signing(T0 + timedelta(hours=1)) == ["new"]
    assert Secrets(None, None, None).signing(T0) == []
