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
from procure_contracts.settings import ContractsOptions, buyer_names
from procure_contracts.usecases.ocds_export import Publication
from procure_shared.ocds.merge import Compiler
from procure_shared.ocds.schema import OcdsSchemas, schema_folder
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
    folder = schema_folder({"PROCURE_OCDS_SCHEMAS": opts.ocds_schemas} if opts.ocds_schemas else {})
    publication = Publication(
        ocid_prefix=opts.ocid_prefix,
        publisher=opts.ocds_publisher,
        buyer_names=buyer_names(opts.buyer_names),
        compiler=Compiler(OcdsSchemas(folder).release_schema) if folder is not None else None,
    )
    ocds_import = OcdsImportConfig(providers_url=opts.providers_url, schema_folder=folder)
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
        routes=lambda: routes(rules, ops, publication, ocds_import),
        consumers=lambda: [provider_directory_consumer()],
        workers=workers,
        templates=TEMPLATES,
        demo=load_demo,
    )
