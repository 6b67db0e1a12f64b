"""What the relay, consumer and latency benchmarks move through JetStream, and who does it on
the bus: a stream, the service whose events it holds (the relay connects as that service's
identity; the events carry its source, ``/procure/<producer>``, and a type of its own,
``<producer>.thing.changed``, published on the subject of the type, as the consumer checks),
and the identity of the consumer that reads them, with the one durable consumer that identity
may run (or a new one each run, for the bench identity, which may run any).

``RELAY``, ``CONSUMER`` and ``LATENCY`` are those benchmarks' own streams, played by the bench
identity on both sides of their figures (the bare baselines and the project's components), so
that their ratios compare code, not permissions. ``SERVICES`` is what production does: the
contracts service's events on its stream, relayed as ``contracts``, read as ``providers`` by
its track record consumer; the authentication benchmark (bench.auth) runs it, so that every
permission the server checks is a service identity's real one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench import bare
from procure_shared.events import STREAMS, StreamSpec
from procure_shared.identities import service_bus

__all__ = ["CONSUMER", "LATENCY", "RELAY", "SERVICES", "Feed"]


@dataclass(frozen=True)
class Feed:
    stream: StreamSpec
    # Who reads the stream, and the name of its durable consumer when its identity allows only
    # that one (None: a name of the run's own).
    reader: str
    durable: str | None = None

    @property
    def producer(self) -> str:
        """The service whose events the stream holds, and whose identity the relay uses."""
        return self.stream.producer

    @property
    def event_type(self) -> str:
        return bare.event_type(self.producer)

    def consumer_name(self, prefix: str) -> str:
        return self.durable or f"{prefix}_{time.monotonic_ns()}"


def _bench(name: str, subjects: tuple[str, ...]) -> Feed:
    return Feed(StreamSpec(name, subjects, "bench"), reader="bench")


RELAY = _bench("BENCH_RELAY", ("bench.>",))
CONSUMER = _bench("BENCH_CONSUMER", (bare.EVENT_TYPE,))
LATENCY = _bench("BENCH_LATENCY", (bare.EVENT_TYPE,))

_CONTRACTS = next(s for s in STREAMS if s.producer == "contracts")
# The providers service's consumer of the contracts' stream, as its identity lists it.
_TRACK_RECORD = next(
    name for stream, name in service_bus("providers").consumers if stream == _CONTRACTS.name
)
SERVICES = Feed(_CONTRACTS, reader="providers", durable=_TRACK_RECORD)
