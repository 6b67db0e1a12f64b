"""Synthetic OCDS release packages for benchmarks and tests, written as a stream (a file of
100,000 releases is never held in memory).

Each contracting process (one ocid) is published as it unfolds, in date order: a ``tender``
release (the buyer, one to three lots with values, items placed in lots, a tender period), an
``award`` release (an award per lot to one or two suppliers drawn from a pool of companies
with GB-COH identifiers, the suppliers as parties), a ``contract`` release (a contract per
award with a period, delivery and payment milestones), then ``implementation`` releases
(transactions paying the payment milestones, milestones met). Amounts are JSON numbers with
two decimals (``7987500.00``), written exactly (``decimal.Decimal``). Everything is drawn from
a seeded generator: the same arguments write the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO

import msgspec

__all__ = ["PREFIX", "releases", "write_release_package"]

PREFIX = "ocds-b5fd17"
_ENCODE = msgspec.json.Encoder(decimal_format="number").encode
_TITLES = (
    "Academic mentoring",
    "Tutor training",
    "Tuition partner quality assurance",
    "Attendance mentoring",
    "Attendance hub",
    "School-led tutoring support",
)
_REGIONS = (
    "North East",
    "North West",
    "Yorkshire and The Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
)
_BUYER = {
    "id": "GB-GOR-PB00001",
    "name": "Department for Education",
}


def _date(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(amount: Decimal) -> dict[str, Any]:
    return {"amount": amount, "currency": "GBP"}


def _supplier_pool(rng: random.Random, size: int) -> list[dict[str, Any]]:
    pool = []
    for n in range(size):
        number = f"{rng.randrange(10**7):08d}"
        name = f"{rng.choice(('Bright', 'North', 'Oak', 'Civic', 'Summit', 'Harbour'))} "
        name += f"{rng.choice(('Learning', 'Tutors', 'Education', 'Mentors', 'Partners'))} {n} Ltd"
        pool.append(
            {
                "id": f"GB-COH-{number}",
                "name": name,
                "identifier": {"scheme": "GB-COH", "id": number, "legalName": name.upper()},
                "address": {
                    "streetAddress": f"{rng.randrange(1, 200)} High Street",
                    "locality": rng.choice(("Leeds", "Bristol", "Derby", "Hull", "Luton")),
                    "postalCode": f"LS{rng.randrange(1, 30)} {rng.randrange(1, 9)}AB",
                    "countryName": "United Kingdom",
                },
                "roles": ["supplier"],
            }
        )
    return pool


class _Process:
    """One contracting process: its releases, each built from the last."""

    def __init__(self, rng: random.Random, n: int, suppliers: list[dict[str, Any]]) -> None:
        self.rng = rng
        self.ocid = f"{PREFIX}-bench-{n:07d}"
        self.started = datetime(2021, 9, 1, 9, tzinfo=UTC) + timedelta(
            minutes=rng.randrange(5 * 365 * 24 * 60)
        )
        title = f"{rng.choice(_TITLES)} ({rng.choice(_REGIONS)})"
        lots = rng.randint(1, 3)
        self.tender: dict[str, Any] = {
            "id": f"{self.ocid}-tender",
            "title": title,
            "description": f"{title}: delivery to schools under the National Tutoring Programme, "
            "with termly reporting of sessions delivered and pupils supported.",
            "status": "active",
            "procurementMethod": "open",
            "mainProcurementCategory": "services",
            "tenderPeriod": {
                "startDate": _date(self.started),
                "endDate": _date(self.started + timedelta(days=30)),
            },
            "lots": [],
            "items": [],
        }
        total = Decimal(0)
        for k in range(1, lots + 1):
            value = Decimal(rng.randrange(2_000_000, 800_000_000)) / 100
            total += value
            self.tender["lots"].append(
                {
                    "id": f"lot-{k}",
                    "title": f"{title}, lot {k}",
                    "status": "active",
                    "value": _money(value),
                }
            )
            self.tender["items"].append(
                {
                    "id": f"item-{k}",
                    "description": f"Tutoring sessions, lot {k}",
                    "classification": {"scheme": "CPV", "id": "80100000"},
                    "quantity": rng.randrange(100, 5_000),
                    "unit": {"name": "session", "value": _money(Decimal("42.50"))},
                    "relatedLot": f"lot-{k}",
                }
            )
        self.tender["value"] = _money(total)
        self.suppliers = [
            rng.sample(suppliers, 2 if rng.random() < 0.2 else 1) for _ in range(lots)
        ]

    def _release(self, stage: str, at: datetime, **sections: Any) -> dict[str, Any]:
        parties = [{**_BUYER, "roles": ["buyer"]}]
        seen = set()
        for chosen in self.suppliers if stage != "tender" else []:
            for s in chosen:
                if s["id"] not in seen:
                    seen.add(s["id"])
                    parties.append(s)
        return {
            "ocid": self.ocid,
            "id": f"{self.ocid}-{stage}-{at:%Y%m%d%H%M}",
            "date": _date(at),
            "tag": [stage],
            "initiationType": "tender",
            "language": "en",
            "buyer": _BUYER,
            "parties": parties,
            **sections,
        }

    def releases(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        yield self._release("tender", self.started, tender=self.tender)
        awarded = self.started + timedelta(days=45, hours=rng.randrange(24))
        awards = []
        for k, (lot, chosen) in enumerate(zip(self.tender["lots"], self.suppliers, strict=True)):
            awards.append(
                {
                    "id": f"award-{k + 1}",
                    "status": "active",
                    "date": _date(awarded),
                    "value": lot["value"],
                    "suppliers": [{"id": s["id"], "name": s["name"]} for s in chosen],
                    "relatedLots": [lot["id"]],
                }
            )
        tender = {**self.tender, "status": "complete"}
        yield self._release("award", awarded, tender=tender, awards=awards)
        signed = awarded + timedelta(days=12)
        starts = signed + timedelta(days=18)
        contracts = []
        for k, award in enumerate(awards):
            amount = award["value"]["amount"]
            milestones = [
                {
                    "id": f"m-{k + 1}-{m}",
                    "title": title,
                    "type": kind,
                    "dueDate": _date(starts + timedelta(days=90 * m)),
                    "status": "scheduled",
                    **({"value": _money(amount / 4)} if kind == "payment" else {}),
                }
                for m, (title, kind) in enumerate(
                    (
                        ("Mobilisation report", "reporting"),
                        ("First term's sessions", "delivery"),
                        ("First payment", "payment"),
                        ("Second payment", "payment"),
                    ),
                    start=1,
                )
            ]
            contracts.append(
                {
                    "id": f"contract-{k + 1}",
                    "awardID": award["id"],
                    "title": f"{self.tender['title']}, contract {k + 1}",
                    "status": "active",
                    "value": award["value"],
                    "period": {
                        "startDate": _date(starts),
                        "endDate": _date(starts + timedelta(days=365 * 2)),
                    },
                    "dateSigned": _date(signed),
                    "milestones": milestones,
                }
            )
        yield self._release("contract", signed, awards=awards, contracts=contracts)
        for step in range(1, 3):
            at = starts + timedelta(days=90 * (step + 1) + 3)
            done = []
            for k, contract in enumerate(contracts):
                paid = [m for m in contract["milestones"] if m.get("value")][:step]
                payer = {"id": _BUYER["id"], "name": _BUYER["name"]}
                award = awards[k]
                transactions = [
                    {
                        "id": f"t-{m['id']}",
                        "source": "https://www.gov.uk/government/organisations/dfe",
                        "date": _date(at),
                        "value": m["value"],
                        "payer": payer,
                        "payee": award["suppliers"][0],
                        "uri": f"https://example.gov.uk/payments/{self.ocid}/{m['id']}",
                    }
                    for m in paid
                ]
                milestones = [
                    {**m, "status": "met", "dateMet": _date(at)} if m["dueDate"] <= _date(at) else m
                    for m in contract["milestones"]
                ]
                done.append(
                    {
                        **contract,
                        "milestones": milestones,
                        "implementation": {
                            "transactions": transactions,
                            "milestones": [m for m in milestones if m["status"] == "met"],
                        },
                    }
                )
            yield self._release("implementation", at, contracts=done)


def releases(count: int, *, seed: int = 20261123, suppliers: int = 300) -> Iterator[dict[str, Any]]:
    """``count`` releases, process after process (five releases each; the last process may be
    cut short)."""
    rng = random.Random(seed)  # noqa: S311 - test data, reproducible by design
    pool = _supplier_pool(rng, suppliers)
    n = 0
    written = 0
    while written < count:
        n += 1
        for release in _Process(rng, n, pool).releases():
            yield release
            written += 1
            if written == count:
                return


def write_release_package(
    out: BinaryIO,
    count: int,
    *,
    seed: int = 20261123,
    suppliers: int = 300,
    published: str = "2026-11-23T09:00:00Z",
) -> int:
    """Write a release package of ``count`` releases to ``out``, one release at a time; the
    number of bytes written."""
    head = _ENCODE(
        {
            "uri": "https://example.gov.uk/ocds/bench.json",
            "version": "1.1",
            "publishedDate": published,
            "publisher": {"name": "Procure bench", "scheme": "GB-COH", "uid": "00000000"},
            "license": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
            "extensions": [
                "https://raw.githubusercontent.com/open-contracting-extensions/"
                "ocds_lots_extension/v1.1.5/extension.json"
            ],
        }
    )
    size = out.write(head[:-1] + b',"releases":[\n')
    for i, release in enumerate(releases(count, seed=seed, suppliers=suppliers)):
        size += out.write((b",\n" if i else b"") + _ENCODE(release))
    size += out.write(b"\n]}\n")
    return size
