"""The contracts service's own options, read from the environment once, in ``__main__``."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated

import msgspec

from procure_contracts.usecases.context import Rules
from procure_shared.settings import ServiceOptions

__all__ = [
    "ENV_NAMES",
    "OPTIONS",
    "ContractsOptions",
    "OcdsPublisher",
    "buyer_names",
    "options_from_env",
]

# An absolute http(s) URL, as OCDS package metadata gives its links.
_URL = r"^https?://[^\s/]+\S*$"


class OcdsPublisher(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The organisation that publishes a buyer's OCDS data (an entry of
    ``PROCURE_OCDS_PUBLISHERS``): OCDS's ``publisher`` object."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    scheme: Annotated[str, msgspec.Meta(min_length=1)] | None = None  # e.g. GB-GOR
    uid: Annotated[str, msgspec.Meta(min_length=1)] | None = None  # its id in that scheme
    uri: Annotated[str, msgspec.Meta(pattern=_URL)] | None = None


class ContractsOptions(msgspec.Struct, frozen=True, kw_only=True):
    """The contracts service's options; each field's ``Meta`` description is its entry in
    docs/configuration.md."""

    amendment_threshold: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            le=10,
            description="The share of a contract's original value past which the net "
            "cumulative value of its amendments flags the contract.",
        ),
    ] = 0.10
    eligibility_timeout: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=60,
            description="Seconds an award waits for the providers service's eligibility answer.",
        ),
    ] = 2.0
    milestone_lead_days: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=366,
            description="How many days before its due date a milestone is due soon: the "
            "monitor's notice and the ops dashboard's window (unless a page asks for another).",
        ),
    ] = 14
    milestone_scan_interval: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="How often (real seconds) the milestone monitor looks for what has "
            "fallen due.",
        ),
    ] = 60.0
    providers_url: Annotated[
        str | None,
        msgspec.Meta(
            description="The providers service's HTTP API (its base URL), where OCDS imports "
            "find and register suppliers; unset: OCDS imports answer 503."
        ),
    ] = None
    ocid_prefix: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^ocds-[a-z0-9]+$",
            description="The prefix of our OCDS ocids (register one with the Open Contracting "
            "Partnership).",
        ),
    ] = "ocds-procure"
    ocds_publisher: Annotated[
        str,
        msgspec.Meta(
            description="The publisher's name in an OCDS package of several buyers' releases "
            "(an admin's); a package of one buyer's names that buyer (`PROCURE_OCDS_PUBLISHERS`)."
        ),
    ] = "Procure"
    ocds_publishers: (
        Annotated[
            dict[str, OcdsPublisher],
            msgspec.Meta(
                description="Each buyer's organisation as the publisher of its OCDS packages, as "
                "a JSON object by buyer id: `name`, and optionally `scheme` (an org-id.guide "
                "list, e.g. `GB-GOR`), `uid` (its id in that scheme) and `uri` (an http(s) URL); "
                '`{"dfe": {"name": "Department for Education", "scheme": "GB-GOR", "uid": '
                '"D6", "uri": "https://www.gov.uk/government/organisations/'
                'department-for-education"}}`. A buyer not named: its name from '
                "`PROCURE_BUYER_NAMES` alone."
            ),
        ]
        | None
    ) = None
    ocds_license: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=_URL,
                description="The URL of the licence the OCDS data is published under (each "
                "package's `license`), e.g. the Open Government Licence v3.0's. Unset: none "
                "is claimed.",
            ),
        ]
        | None
    ) = None
    ocds_publication_policy: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=_URL,
                description="The URL of the publication policy (each OCDS package's "
                "`publicationPolicy`): what is published, when, and what is left out.",
            ),
        ]
        | None
    ) = None
    buyer_names: Annotated[
        str,
        msgspec.Meta(
            description="The buyers the service knows, and their names in OCDS releases, as "
            "`id=Name` pairs separated by `;` (`dfe=Department for Education;dhsc=...`): an OCDS "
            "import is only for one of them."
        ),
    ] = ""
    ocds_schemas: Annotated[
        str | None,
        msgspec.Meta(
            description="A folder of OCDS schemas to use instead of the ones shipped with the "
            "contracts service (laid out as 1.1.5/ and extensions/)."
        ),
    ] = None

    ops_oidc_issuer: Annotated[
        str | None,
        msgspec.Meta(
            description="The OpenID Connect issuer staff sign in to the ops dashboard with (the "
            "authorization-code flow with PKCE): one of `PROCURE_OIDC_ISSUERS`, named by its "
            "`issuer`. Unset: the only entry there is (name one when there are several)."
        ),
    ] = None
    ops_oidc_client_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The dashboard's client id at that issuer (the application registered "
            "for it). Unset: no organisation sign-in; outside `PROCURE_DEV_MODE` nobody can "
            "sign in to `/ops` with a browser."
        ),
    ] = None
    ops_oidc_client_secret: Annotated[
        str | None,
        msgspec.Meta(
            description="The client's secret (sent with HTTP Basic to the token endpoint); "
            "unset: a public client, which PKCE alone protects."
        ),
    ] = None
    ops_oidc_redirect_url: Annotated[
        str | None,
        msgspec.Meta(
            description="The URL the issuer sends staff back to, as registered with it: "
            "`https://<the public host>/ops/sign-in/callback`. Unset: built from the request "
            "(right only when the service is reached directly, not behind a proxy)."
        ),
    ] = None
    ops_oidc_scope: Annotated[
        str,
        msgspec.Meta(
            description="The scopes the dashboard asks the issuer for (the ID token must carry "
            "the claims `PROCURE_OIDC_ISSUERS` maps to roles and buyer)."
        ),
    ] = "openid profile email"
    ops_cookie_secure: Annotated[
        bool | None,
        msgspec.Meta(
            description="Whether the dashboard's cookies are `Secure` (sent over https only). "
            "Unset: yes, except in `PROCURE_DEV_MODE`; keep it on behind a TLS proxy."
        ),
    ] = None

    def rules(self) -> Rules:
        return Rules(
            amendment_threshold=Decimal(str(self.amendment_threshold)),
            eligibility_timeout=self.eligibility_timeout,
        )


def buyer_names(text: str) -> dict[str, str]:
    """``"dfe=Department for Education;dhsc=..."`` as a mapping."""
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() and v.strip()}


ENV_NAMES = {
    "amendment_threshold": "PROCURE_AMENDMENT_THRESHOLD",
    "eligibility_timeout": "PROCURE_ELIGIBILITY_TIMEOUT",
    "milestone_lead_days": "PROCURE_MILESTONE_LEAD_DAYS",
    "milestone_scan_interval": "PROCURE_MILESTONE_SCAN_INTERVAL",
    "providers_url": "PROCURE_PROVIDERS_URL",
    "ocid_prefix": "PROCURE_OCID_PREFIX",
    "ocds_publisher": "PROCURE_OCDS_PUBLISHER",
    "ocds_publishers": "PROCURE_OCDS_PUBLISHERS",
    "ocds_license": "PROCURE_OCDS_LICENSE",
    "ocds_publication_policy": "PROCURE_OCDS_PUBLICATION_POLICY",
    "buyer_names": "PROCURE_BUYER_NAMES",
    "ocds_schemas": "PROCURE_OCDS_SCHEMAS",
    "ops_oidc_issuer": "PROCURE_OPS_OIDC_ISSUER",
    "ops_oidc_client_id": "PROCURE_OPS_OIDC_CLIENT_ID",
    "ops_oidc_client_secret": "PROCURE_OPS_OIDC_CLIENT_SECRET",
    "ops_oidc_redirect_url": "PROCURE_OPS_OIDC_REDIRECT_URL",
    "ops_oidc_scope": "PROCURE_OPS_OIDC_SCOPE",
    "ops_cookie_secure": "PROCURE_OPS_COOKIE_SECURE",
}


# What the configuration reference documents (the entry point procure.settings:contracts).
OPTIONS = ServiceOptions(
    "contracts", ContractsOptions, ENV_NAMES, json_fields=frozenset({"ocds_publishers"})
)


def options_from_env(environ: Mapping[str, str]) -> ContractsOptions:
    return OPTIONS.from_env(environ)
