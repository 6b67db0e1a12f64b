"""The contracts service: what it serves and consumes, and where its migrations are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from procure_contracts.api.ocds_import import OcdsImportConfig
from procure_contracts.api.ops import TEMPLATES, OpsConfig
from procure_contracts.api.routes import routes
from procure_contracts.demo import load_demo
from procure_contracts.events.milestone_monitor import milestone_monitor
from procure_contracts.events.provider_directory import provider_directory_consumer
from procure_contracts.settings import ContractsOptions
from procure_shared.service import Runtime, ServiceDefinition, Worker

__all__ = ["VERSION", "definition"]

VERSION = "0.2.0"
MIGRATIONS = Path(__file__).parent / "storage" / "migrations"


def definition(options: ContractsOptions | None = None) -> ServiceDefinition:
    opts = options or ContractsOptions()
    rules = opts.rules()

    def workers(runtime: Runtime) -> Sequence[Worker]:
        return [
            milestone_monitor(
                pool=runtime.pool,
                clock=runtime.clock,
                lead_days=opts.milestone_lead_days,
                interval=opts.milestone_scan_interval,
            )
        ]

    ops = OpsConfig(due_soon_days=opts.milestone_lead_days)
    ocds = OcdsImportConfig(providers_url=opts.providers_url, schema_folder=opts.ocds_schema)
    return ServiceDefinition(
        name="contracts",
        title="Procure contracts",
        description=(
            "Tenders and their lots, awards (eligibility checked with the providers service), "
            "contracts with options and amendments, milestones watched as they fall due, and the "
            "history of every change."
        ),
        version=VERSION,
        migrations=MIGRATIONS,
        routes=lambda: routes(rules, ops, ocds),
        consumers=lambda: [provider_directory_consumer()],
        workers=workers,
        templates=TEMPLATES,
        demo=load_demo,
    )
