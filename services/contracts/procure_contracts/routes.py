"""The service's HTTP routes, with domain errors answered as problem+json."""

from __future__ import annotations

from collections.abc import Sequence

from litestar import Router
from litestar.types import ControllerRouterHandler

from procure_contracts.api.common import RULES
from procure_contracts.api.feed import FeedController
from procure_contracts.api.revocations import RevocationsController
from procure_contracts.contracts.api import ContractsController
from procure_contracts.kpis.api import ContractKpisController, KpisController
from procure_contracts.kpis.assessment_api import AssessmentController
from procure_contracts.milestones.api import ContractMilestonesController, MilestonesController
from procure_contracts.ocds.api import PUBLICATION, OcdsController
from procure_contracts.ocds.exporting import Publication
from procure_contracts.ocds.import_api import OCDS_IMPORT, OcdsImportConfig, OcdsImportController
from procure_contracts.ops import OpsConfig, ops_routes
from procure_contracts.ops.common import OPS
from procure_contracts.tenders.api import TendersController
from procure_contracts.tenders.awards_api import AwardsController
from procure_contracts.usecases.context import Rules
from procure_shared.errors import DomainError
from procure_shared.http.domain import domain_problem

__all__ = ["routes"]


def routes(
    rules: Rules,
    ops: OpsConfig,
    publication: Publication,
    ocds_import: OcdsImportConfig,
) -> Sequence[ControllerRouterHandler]:
    config = ops
    return [
        Router(
            path="/",
            route_handlers=[
                TendersController,
                AwardsController,
                ContractsController,
                ContractMilestonesController,
                MilestonesController,
                ContractKpisController,
                KpisController,
                AssessmentController,
                OcdsController,
                FeedController,
                OcdsImportController,
                RevocationsController,
            ],
            exception_handlers={DomainError: domain_problem},
            opt=RULES.opt(rules)
            | OPS.opt(config)
            | PUBLICATION.opt(publication)
            | OCDS_IMPORT.opt(ocds_import),
        ),
        ops_routes(config),
    ]
