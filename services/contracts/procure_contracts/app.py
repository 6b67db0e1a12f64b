"""The contracts service: what it serves and consumes, and where its migrations are."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from importlib.metadata import version
from pathlib import Path

from procure_contracts.demo import load_demo
from procure_contracts.events.provider_directory import provider_directory_consumer
from procure_contracts.milestones.worker import milestone_monitor
from procure_contracts.ocds.exporting import Publication, Publisher
from procure_contracts.ocds.import_api import OcdsImportConfig
from procure_contracts.ocds.importing import Ocds
from procure_contracts.ocds.merge import Compiler
from procure_contracts.ocds.schema import OcdsSchemas
from procure_contracts.ops import TEMPLATES, OpsConfig, SignInConfig
from procure_contracts.routes import routes
from procure_contracts.settings import ContractsOptions, buyer_names
from procure_shared.service import Runtime, ServiceDefinition, Worker
from procure_shared.settings import SettingsError

__all__ = ["VERSION", "definition", "ocds"]

VERSION = version("procure-contracts")  # the workspace's, as every package's
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

    ops = OpsConfig(
        due_soon_days=opts.milestone_lead_days,
        sign_in=SignInConfig(
            issuer=opts.ops_oidc_issuer,
            client_id=opts.ops_oidc_client_id,
            client_secret=opts.ops_oidc_client_secret,
            redirect_url=opts.ops_oidc_redirect_url,
            scope=opts.ops_oidc_scope,
            cookie_secure=opts.ops_cookie_secure,
        ),
    )
    schemas = ocds(opts.ocds_schemas)
    publication = Publication(
        ocid_prefix=opts.ocid_prefix,
        publisher=opts.ocds_publisher,
        buyer_names=buyer_names(opts.buyer_names),
        publishers={
            buyer: Publisher(name=p.name, scheme=p.scheme, uid=p.uid, uri=p.uri)
            for buyer, p in (opts.ocds_publishers or {}).items()
        },
        license=opts.ocds_license,
        publication_policy=opts.ocds_publication_policy,
        compiler=schemas.compiler,
    )
    ocds_import = OcdsImportConfig(
        providers_url=opts.providers_url,
        ocds=schemas,
        publication=publication,
        buyers=frozenset(buyer_names(opts.buyer_names)),
    )
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


def ocds(folder: str | None = None) -> Ocds:
    """The OCDS schemas shipped in this package (``ocds/standard/``), or those in ``folder``
    (``PROCURE_OCDS_SCHEMAS``), with the merge rules they imply."""
    path = Path(folder) if folder else Path(str(resources.files(__package__) / "ocds" / "standard"))
    try:
        schemas = OcdsSchemas(path)
    except (OSError, ValueError) as exc:  # missing, unreadable, or not JSON
        where = "PROCURE_OCDS_SCHEMAS" if folder else "the OCDS schemas shipped with the service"
        raise SettingsError(f"{where}: {exc}") from exc
    return Ocds(schemas=schemas, compiler=Compiler(schemas.release_schema))
