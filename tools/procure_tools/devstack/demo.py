"""The demo data set ``procure up`` loads on first run, through the services' HTTP APIs.

Providers from ``domain.md`` (DfE's National Tutoring Programme and attendance mentors). Their
identifiers are DEMO VALUES in valid formats, not the organisations' real numbers: every demo
provider's ``notes`` says so. Accreditation dates are set around today, so that eligibility,
expiry notices and the dashboard have something current to show.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

__all__ = ["DEMO_MARKER_IDENTIFIER", "DemoError", "demo_providers", "load_demo"]

DEMO_NOTE = (
    "Demo data: the identifiers are invented values in the register's format, not this "
    "organisation's real numbers."
)
# Found by this identifier, the demo data is there already.
DEMO_MARKER_IDENTIFIER = "GB-CHC:9990001"


class DemoError(RuntimeError):
    pass


def _provider(
    name: str, kind: str, identifiers: list[str], regions: list[str], **extra: Any
) -> dict[str, Any]:
    return {
        "legalName": name,
        "kind": kind,
        "identifiers": [
            {"scheme": scheme, "id": value}
            for scheme, _, value in (i.partition(":") for i in identifiers)
        ],
        "regions": regions,
        "notes": DEMO_NOTE,
        **extra,
    }


def demo_providers(today: date) -> list[dict[str, Any]]:
    """Each provider with its accreditations and exclusions (``_accreditations``...)."""
    in_three_years = (today + timedelta(days=3 * 365)).isoformat()
    soon = (today + timedelta(days=20)).isoformat()  # inside the 30-day notice period
    england = [
        "north_east",
        "north_west",
        "yorkshire_and_the_humber",
        "east_midlands",
        "west_midlands",
        "east_of_england",
        "london",
        "south_east",
        "south_west",
    ]
    return [
        _provider(
            "Randstad Solutions Limited",
            "company",
            ["GB-COH:99000001", "GB-PPON:DEMO-0001-RAND"],
            england,
            tradingName="Randstad",
            _accreditations=[
                (
                    "academic_mentoring",
                    "DfE National Tutoring Programme",
                    "2021-09-01",
                    in_three_years,
                ),
                (
                    "tuition_partner_qa",
                    "DfE National Tutoring Programme",
                    "2021-09-01",
                    "2023-08-31",
                ),
            ],
        ),
        _provider(
            "Barnardo's",
            "charity",
            ["GB-CHC:9990001", "GB-COH:99000002"],
            ["north_east", "north_west", "yorkshire_and_the_humber", "west_midlands"],
            vcse=True,
            _accreditations=[
                (
                    "attendance_mentoring",
                    "DfE attendance mentor pilot (Middlesbrough)",
                    "2022-03-01",
                    in_three_years,
                ),
            ],
        ),
        _provider(
            "School-Led Tutoring Training Provider (demo)",
            "company",
            ["GB-COH:99000003"],
            england,
            sme=True,
            _accreditations=[
                ("tutor_training", "DfE National Tutoring Programme", "2021-09-01", soon),
            ],
        ),
        _provider(
            "Fischer Family Trust",
            "charity",
            ["GB-CHC:9990002"],
            england,
            vcse=True,
            tradingName="FFT",
            _accreditations=[
                (
                    "tuition_delivery",
                    "NTP tuition partner quality assurance",
                    "2020-11-01",
                    in_three_years,
                )
            ],
        ),
        _provider(
            "Success for All Foundation UK",
            "charity",
            ["GB-CHC:9990003"],
            england,
            vcse=True,
            _accreditations=[
                (
                    "tuition_delivery",
                    "NTP tuition partner quality assurance",
                    "2020-11-01",
                    in_three_years,
                )
            ],
        ),
        _provider(
            "Operam Education Group",
            "company",
            ["GB-COH:99000004"],
            england,
            sme=True,
            _accreditations=[
                (
                    "tuition_delivery",
                    "NTP tuition partner quality assurance",
                    "2020-11-01",
                    in_three_years,
                )
            ],
        ),
        _provider(
            "Northern Education Trust",
            "school_or_trust",
            ["GB-COH:99000005", "GB-EDU:999001"],
            ["north_east", "north_west", "yorkshire_and_the_humber"],
            _accreditations=[
                ("attendance_hub", "DfE attendance hub pilot", "2022-09-01", in_three_years)
            ],
        ),
        _provider(
            "Example Debarred Tutoring Ltd (demo)",
            "company",
            ["GB-COH:99000006"],
            ["london"],
            sme=True,
            _accreditations=[
                (
                    "tuition_delivery",
                    "NTP tuition partner quality assurance",
                    "2021-09-01",
                    in_three_years,
                )
            ],
            _exclusions=[
                {
                    "ground": (
                        "Mandatory exclusion: fraud (Procurement Act 2023, Schedule 6), "
                        "a demo example"
                    ),
                    "source": "central debarment list",
                    "startsOn": (today - timedelta(days=90)).isoformat(),
                    "endsOn": (today + timedelta(days=5 * 365 - 90)).isoformat(),
                }
            ],
        ),
    ]


Post = Callable[[str, dict[str, Any], str], dict[str, Any]]


def _http(base: str, token: str) -> tuple[Callable[[str], Any], Post]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def get(path: str) -> Any:
        request = urllib.request.Request(f"{base}{path}", headers=headers)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def post(path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 (our own local service)
            f"{base}{path}",
            data=json.dumps(body).encode(),
            headers=headers | {"Idempotency-Key": key},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as exc:
            raise DemoError(f"POST {path}: {exc.code} {exc.read().decode()[:500]}") from exc

    return get, post


def load_demo(providers_url: str, admin_token: str, today: date) -> int:
    """Load the demo providers unless they are there; returns how many were registered."""
    get, post = _http(providers_url, admin_token)
    if get(f"/v1/providers?identifier={DEMO_MARKER_IDENTIFIER}")["items"]:
        return 0
    for number, entry in enumerate(demo_providers(today)):
        accreditations = entry.pop("_accreditations", [])
        exclusions = entry.pop("_exclusions", [])
        # Keys derived from the entry: a retried load replays instead of duplicating.
        provider = post("/v1/providers", entry, f"demo-provider-{number}")
        for index, (category, granted_by, valid_from, valid_to) in enumerate(accreditations):
            post(
                f"/v1/providers/{provider['id']}/accreditations",
                {
                    "category": category,
                    "grantedBy": granted_by,
                    "validFrom": valid_from,
                    "validTo": valid_to,
                    "evidenceRef": f"DEMO-EVIDENCE-{number}-{index}",
                },
                f"demo-accreditation-{number}-{index}",
            )
        for index, exclusion in enumerate(exclusions):
            post(
                f"/v1/providers/{provider['id']}/exclusions",
                exclusion,
                f"demo-exclusion-{number}-{index}",
            )
    return len(demo_providers(today))
