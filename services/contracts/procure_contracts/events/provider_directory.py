"""The consumer that keeps the provider directory: the providers' names, identifiers and
status, from the providers service's events (never from its database).

It takes the whole ``PROVIDERS`` stream, not only the types it applies: the inbox orders each
aggregate's events by sequence, and a filtered subset would leave gaps that never fill
(decision 0005).
"""

from __future__ import annotations

from procure_contracts.usecases.directory import record_provider
from procure_shared.db.postgres import Connection
from procure_shared.events import Envelope
from procure_shared.events import registry as types
from procure_shared.events.providers import ProviderData
from procure_shared.messaging.consumer import ConsumerSpec, Handler

__all__ = ["CONSUMER_NAME", "provider_directory_consumer"]

CONSUMER_NAME = "contracts__provider_directory"


async def _provider(conn: Connection, envelope: Envelope) -> None:
    data: ProviderData = envelope.decode_data(ProviderData)
    await record_provider(conn, data, version=envelope.sequence)


HANDLERS: dict[str, Handler] = {
    types.PROVIDER_REGISTERED.type: _provider,
    types.PROVIDER_UPDATED.type: _provider,
}


def provider_directory_consumer(*, max_deliver: int = 20, ack_wait: float = 30.0) -> ConsumerSpec:
    return ConsumerSpec(
        name=CONSUMER_NAME,
        stream="PROVIDERS",
        filter_subjects=("providers.>",),
        handlers=HANDLERS,
        max_deliver=max_deliver,
        ack_wait=ack_wait,
    )
