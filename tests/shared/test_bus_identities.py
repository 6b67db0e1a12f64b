"""The bus trusts no one: against the test session's nats-server, which requires the identities
of ``procure_shared.identities`` with their permissions (as every shipped configuration does),
a client without a key is refused, and each identity may do only what its row allows."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoServersError
from nats.js import JetStreamContext
from procure_tools.devstack import free_port

from procure_shared.events.envelope import Envelope, encode_envelope
from procure_shared.events.streams import IDENTITY, STREAMS, StreamSpec, stranger, stream_named
from procure_shared.identities import (
    IDENTITIES,
    SERVICE_BUSES,
    authorization_block,
    identities_markdown,
    identity,
    write_credentials,
)
from procure_shared.messaging.nats import (
    NatsAccess,
    NatsAccessError,
    NatsState,
    StreamsOverlap,
    connect_nats,
    ensure_streams,
    retire_legacy_streams,
)
from tests.support.servers import NatsHandle
from tests.support.wait import eventually, holds

CONTRACTS, PROVIDERS, NOTIFICATIONS = STREAMS


@dataclass
class Connected:
    nc: Client
    errors: list[Exception] = field(default_factory=list)

    def refused(self) -> list[str]:
        return [str(e) for e in self.errors if "permissions violation" in str(e).lower()]


@contextlib.asynccontextmanager
async def connected_as(handle: NatsHandle, name: str) -> AsyncIterator[Connected]:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(
        handle.url, allow_reconnect=False, error_cb=on_error, **handle.access(name).options()
    )
    try:
        yield Connected(nc, errors)
    finally:
        await nc.close()


async def refusals(connected: Connected, expected: int) -> list[str]:
    """The server's refusals, once ``expected`` of them have come (nats-py hands a -ERR to the
    error callback on a task of its own, so a flush does not wait for it)."""
    await connected.nc.flush()
    await eventually(
        lambda: holds(len(connected.refused()) >= expected),
        within=5,
        what=f"{expected} refusals",
    )
    return connected.refused()


def event(service: str, type: str) -> Envelope:
    return Envelope.new(
        service=service,
        type=type,
        subject="tender-1",
        time=datetime.now(UTC),
        sequence=1,
        data={"tenderId": "tender-1"},
        buyer_id="dfe",
    )


async def stored(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages)


async def test_a_client_without_credentials_is_refused(nats_handle: NatsHandle) -> None:
    with pytest.raises((NoServersError, NatsError, OSError)):
        await nats.connect(nats_handle.url, allow_reconnect=False, max_reconnect_attempts=0)


async def test_a_client_with_a_key_the_server_does_not_know_is_refused(
    nats_handle: NatsHandle, tmp_path: Path
) -> None:
    stranger_seed = tmp_path / "stranger"
    write_credentials(stranger_seed, ["contracts"])  # a contracts key, but not the server's
    access = NatsAccess(identity="contracts", seed_file=str(stranger_seed / "contracts.nk"))
    with pytest.raises((NoServersError, NatsError, OSError)):
        await nats.connect(
            nats_handle.url, allow_reconnect=False, max_reconnect_attempts=0, **access.options()
        )


@pytest.mark.parametrize(
    ("who", "foreign"),
    [
        (bus.service, other.stream)
        for bus in SERVICE_BUSES
        for other in SERVICE_BUSES
        if other is not bus
    ],
)
async def test_a_service_publishing_to_another_services_subjects_is_refused(
    nats_handle: NatsHandle, js: JetStreamContext, who: str, foreign: StreamSpec
) -> None:
    producer = foreign.producer
    forged = event(producer, f"{producer}.thing.forged")
    before = await stored(js, foreign.name)
    async with connected_as(nats_handle, who) as c:
        await c.nc.publish(forged.type, encode_envelope(forged), headers={"Nats-Msg-Id": forged.id})
        refused = await refusals(c, 1)
        assert len(refused) == 1
        assert forged.type in refused[0]
        assert "publish" in refused[0].lower()
    assert await stored(js, foreign.name) == before


async def test_a_service_publishes_its_own_events_into_its_own_stream(
    nats_handle: NatsHandle, js: JetStreamContext
) -> None:
    own = event("contracts", "contracts.tender.drafted")
    async with connected_as(nats_handle, "contracts") as c:
        ack = await c.nc.jetstream().publish(
            own.type, encode_envelope(own), headers={"Nats-Msg-Id": own.id}
        )
        assert ack.stream == CONTRACTS.name
        assert c.errors == []


@pytest.mark.parametrize("who", ["providers", "notifications", "cli", "operator"])
async def test_only_the_contracts_service_may_publish_a_revocation(
    nats_handle: NatsHandle, js: JetStreamContext, who: str
) -> None:
    await ensure_streams(js, 1, (IDENTITY,))
    forged = event("identity", "identity.subject.revoked")
    async with connected_as(nats_handle, who) as c:
        await c.nc.publish(forged.type, encode_envelope(forged), headers={"Nats-Msg-Id": forged.id})
        refused = await refusals(c, 1)
        assert forged.type in refused[0]
    assert await stored(js, IDENTITY.name) == 0
    async with connected_as(nats_handle, "contracts") as c:
        ack = await c.nc.jetstream().publish(
            forged.type, encode_envelope(forged), headers={"Nats-Msg-Id": forged.id}
        )
        assert ack.stream == IDENTITY.name
        assert c.errors == []


@pytest.mark.parametrize("who", ["contracts", "notifications", "cli", "operator"])
async def test_only_the_providers_service_may_answer_eligibility_questions(
    nats_handle: NatsHandle, who: str
) -> None:
    async with connected_as(nats_handle, who) as c:
        await c.nc.subscribe("rpc.providers.eligibility", queue="q")
        refused = await refusals(c, 1)
        assert any(
            "subscription" in r.lower() and "rpc.providers.eligibility" in r for r in refused
        )
    async with (
        connected_as(nats_handle, "providers") as providers,
        connected_as(nats_handle, "contracts") as contracts,
    ):

        async def answer(msg: Msg) -> None:
            await msg.respond(b"eligible")

        await providers.nc.subscribe("rpc.providers.eligibility", queue="q", cb=answer)
        await providers.nc.flush()
        reply = await contracts.nc.request("rpc.providers.eligibility", b"{}", timeout=2)
        assert reply.data == b"eligible"
        assert providers.errors == []


@pytest.mark.parametrize("who", [bus.service for bus in SERVICE_BUSES])
async def test_a_service_may_neither_purge_nor_delete_a_stream_not_even_its_own(
    nats_handle: NatsHandle, js: JetStreamContext, who: str
) -> None:
    genuine = event("contracts", "contracts.tender.drafted")
    await js.publish(genuine.type, encode_envelope(genuine), headers={"Nats-Msg-Id": genuine.id})
    async with connected_as(nats_handle, who) as c:
        own = c.nc.jetstream(timeout=0.5)
        for stream in (CONTRACTS.name, f"{who.upper()}"):
            with pytest.raises((TimeoutError, NatsError)):
                await own.purge_stream(stream)
            with pytest.raises((TimeoutError, NatsError)):
                await own.delete_stream(stream)
        assert len(await refusals(c, 4)) == 4
    assert await stored(js, CONTRACTS.name) == 1


async def test_a_service_may_not_read_another_services_inbox_or_consumers(
    nats_handle: NatsHandle, js: JetStreamContext
) -> None:
    async with connected_as(nats_handle, "notifications") as c:
        await c.nc.subscribe("_INBOX.contracts.>")
        await c.nc.subscribe("_INBOX.>")
        assert len(await refusals(c, 2)) == 2
        with pytest.raises((TimeoutError, NatsError)):
            await c.nc.jetstream(timeout=0.5).consumer_info(
                PROVIDERS.name, "contracts__provider_directory"
            )


async def test_the_cli_finds_services_and_the_operator_reads_lag_and_neither_changes_a_thing(
    nats_handle: NatsHandle, js: JetStreamContext
) -> None:
    async with connected_as(nats_handle, "operator") as c:
        info = await c.nc.jetstream().stream_info(CONTRACTS.name)
        assert info.config.name == CONTRACTS.name
        with pytest.raises((TimeoutError, NatsError)):
            await c.nc.jetstream(timeout=0.5).purge_stream(CONTRACTS.name)
        await c.nc.publish("contracts.tender.drafted", b"{}")
        assert len(await refusals(c, 2)) == 2
    async with connected_as(nats_handle, "cli") as c:
        inbox = c.nc.new_inbox()
        assert inbox.startswith("_INBOX.cli.")
        await c.nc.subscribe(inbox)
        await c.nc.publish("$SRV.INFO", b"", reply=inbox)
        await c.nc.subscribe("contracts.>")
        assert len(await refusals(c, 1)) == 1


async def test_a_service_connects_through_connect_nats_with_its_access(
    nats_handle: NatsHandle,
) -> None:
    nc = await connect_nats(nats_handle.url, NatsState(name="t"), nats_handle.access("providers"))
    try:
        assert nc.is_connected
        assert nc.new_inbox().startswith("_INBOX.providers.")
    finally:
        await nc.close()


def test_access_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    missing = tmp_path / "none.nk"
    with pytest.raises(NatsAccessError, match=r"none\.nk cannot be read"):
        NatsAccess(identity="contracts", seed_file=str(missing)).checked()
    seed = tmp_path / "seed.nk"
    seed.write_text("x")
    with pytest.raises(NatsAccessError, match="needs its key"):
        NatsAccess(identity="contracts", seed_file=str(seed), tls_cert=str(seed)).checked()


def test_credentials_are_private_kept_across_runs_and_the_authorization_holds_no_secret(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "nats"
    first = write_credentials(folder, ["contracts", "cli"])
    again = write_credentials(folder, ["contracts", "cli"])
    assert first == again
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for path in folder.iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600", path
    conf = (folder / "authorization.conf").read_text()
    seeds = [(folder / f"{n}.nk").read_text().strip() for n in ("contracts", "cli")]
    assert all(seed not in conf for seed in seeds)
    assert all(key in conf for key in first.values())
    with pytest.raises(LookupError, match="no NATS identity 'nobody'"):
        write_credentials(folder, ["nobody"])


def test_service_identities_publish_only_their_own_stream_and_touch_only_their_own_jetstream() -> (
    None
):
    for bus in SERVICE_BUSES:
        who = identity(bus.service)
        others = [s for s in STREAMS if s is not bus.stream]
        for subject in who.publish:
            assert not any(subject.startswith(o.producer + ".") for o in others), subject
            assert subject != ">"
            assert "$JS.API.STREAM.DELETE" not in subject
            assert "PURGE" not in subject
            assert "CONSUMER.DELETE" not in subject
            if subject.startswith(("$JS.API.STREAM.CREATE.", "$JS.API.STREAM.UPDATE.")):
                owned = {stream.name for stream in bus.streams} | {bus.dead_letters.name}
                assert subject.rsplit(".", 1)[1] in owned, subject
            if subject.startswith("$JS.API.CONSUMER."):
                assert f".{bus.service}__" in subject, subject
        assert ">" not in who.subscribe
        assert "_INBOX.>" not in who.subscribe


def test_the_authorization_gives_each_identity_its_key_and_permissions() -> None:
    block = authorization_block({"contracts": "UKEY1", "cli": "UKEY2"})
    assert block.startswith("authorization {")
    assert '"nkey": "UKEY1"' in block
    assert '"nkey": "UKEY2"' in block
    assert block.count('"allow_responses": true') == 1  # the service's, not the CLI's


def test_the_operations_guide_lists_every_identity_as_the_code_defines_them() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    assert identities_markdown() in guide, "run: procure bus identities --out docs/operations.md"
    assert {i.name for i in IDENTITIES} >= {"contracts", "providers", "notifications", "cli"}


def test_every_consumer_a_service_runs_is_one_its_identity_allows() -> None:
    from procure_contracts.app import definition as contracts
    from procure_notifications.app import definition as notifications
    from procure_providers.app import definition as providers

    for definition in (contracts(), providers(), notifications()):
        bus = next(b for b in SERVICE_BUSES if b.service == definition.name)
        assert {(s.stream, s.name) for s in definition.consumers()} == set(bus.consumers)


DRAFTED = "contracts.tender.drafted"
REGISTERED = "providers.provider.registered"


@pytest.mark.parametrize(
    ("stream", "subject", "source", "type", "foreign"),
    [
        ("CONTRACTS", DRAFTED, "/procure/contracts", DRAFTED, False),
        ("CONTRACTS", DRAFTED, "/procure/providers", DRAFTED, True),
        ("PROVIDERS", REGISTERED, "/procure/contracts", DRAFTED, True),
        ("PROVIDERS", REGISTERED, "/procure/providers", DRAFTED, True),
        ("PROVIDERS", "providers.x", "/procure/providers", REGISTERED, True),
    ],
)
def test_an_event_belongs_to_its_stream_only_with_its_producers_source_type_and_subject(
    stream: str, subject: str, source: str, type: str, foreign: bool
) -> None:
    spec = stream_named(stream)
    assert spec is not None
    assert (stranger(spec, subject=subject, source=source, type=type) is not None) is foreign


async def test_the_dead_letter_stream_of_an_earlier_version_is_named_in_the_way_and_retired(
    js: JetStreamContext,
) -> None:
    legacy = StreamSpec("DEADLETTERS", ("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>",), "")
    await ensure_streams(js, 1, (legacy,))
    own = next(b for b in SERVICE_BUSES if b.service == "contracts").dead_letters
    with pytest.raises(StreamsOverlap, match="procure bus upgrade"):
        await ensure_streams(js, 1, (own,))
    assert await retire_legacy_streams(js) == ["DEADLETTERS"]
    assert await retire_legacy_streams(js) == []
    await ensure_streams(js, 1, (own,))


def test_a_service_whose_key_the_server_does_not_know_stops_at_once_saying_so(
    notifications_url: str, nats_handle: NatsHandle, tmp_path: Path
) -> None:
    write_credentials(tmp_path, ["notifications"])  # a key of its own, unknown to the server
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROCURE_", "DATABASE_"))}
    env |= {
        "DATABASE_URL": notifications_url,
        "NATS_URL": nats_handle.url,
        "PROCURE_NATS_CREDENTIALS": str(tmp_path / "notifications.nk"),
        "PROCURE_HTTP_PORT": str(free_port()),
        "PROCURE_DEV_MODE": "true",
    }
    done = subprocess.run(
        [sys.executable, "-m", "procure_notifications", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    said = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert said[-1]["message"] == "cannot start"
    assert "does not know this identity's key" in said[-1]["error"]
