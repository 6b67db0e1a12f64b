"""The providers service: what it serves, consumes and runs, and where its migrations are."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from procure_providers.api.routes import routes
from procure_providers.api.rpc import EligibilityResponder
from procure_providers.events.expiry_watch import expiry_watch
from procure_providers.events.track_record import track_record_consumer
from procure_providers.settings import ProvidersOptions
from procure_shared.service import Runtime, ServiceDefinition, Worker

__all__ = ["VERSION", "definition"]

VERSION = version("procure-providers")  # the workspace's, as every package's
MIGRATIONS = Path(__file__).parent / "storage" / "migrations"


def definition(options: ProvidersOptions | None = None) -> ServiceDefinition:
    opts = options or ProvidersOptions()

    def workers(runtime: Runtime) -> Sequence[Worker]:
        return [
            EligibilityResponder(
                nc=runtime.nats,
                pool=runtime.pool,
                version=VERSION,
                concurrency=opts.eligibility_concurrency,
            ),
            expiry_watch(
                pool=runtime.pool,
                clock=runtime.clock,
                notice_days=opts.notice_days,
                interval=opts.expiry_scan_interval,
            ),
        ]

    return ServiceDefinition(
        name="providers",
        title="Procure providers",
        description=(
            "The provider registry shared by all buyers: identifiers, accreditations, "
            "exclusions (debarment), eligibility and each provider's track record."
        ),
        version=VERSION,
        migrations=MIGRATIONS,
        routes=routes,
        consumers=lambda: [track_record_consumer()],
        workers=workers,
    )
