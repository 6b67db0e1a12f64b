"""Bulk import of providers from a CSV file, through the providers service's HTTP API.

The columns (a header row; ``legalName``-style and ``Legal name``-style spellings work too):

==================  ======================================================================
legal_name          required
kind                required: company, charity, school_or_trust or public_body
identifiers         required: ``SCHEME:ID`` separated by ``;``, e.g.
                    ``GB-COH:01234567;GB-PPON:ABCD-1234-EFGH`` (schemes GB-COH, GB-CHC,
                    GB-SC, GB-NIC, GB-EDU, GB-PPON, checked against their registers'
                    formats; any other org-id.guide register as ``CC-REGISTER``, e.g.
                    ``UA-EDR:02070884``, taken as given; or ``OCDS-PARTY``)
trading_name        optional
sme, vcse           optional: yes/no, true/false, y/n or 1/0
regions             optional: ITL 1 regions separated by ``;`` (``london;north_west``;
                    ``North West`` works too)
street_address,     optional, all three or none: the provider's address
locality,
postal_code
country_name        optional: the address's country (United Kingdom when empty)
contact_name,       optional, name and email together: the provider's contact
contact_email,
contact_telephone,
contact_role
notes               optional
==================  ======================================================================

An empty cell leaves the registry's value as it is (a new provider gets the default); a row's
address and contact replace the provider's addresses and contacts. Identifiers are only ever
added to a provider, never removed.

Each row is matched to a provider by its identifiers (``GET /v1/providers?identifier=``): none
holds any of them -> ``POST`` (with an ``Idempotency-Key`` derived from the row, so a retried
import creates nothing twice); one holds some of them -> ``PATCH`` with ``If-Match`` of only the
fields that differ, or nothing at all; two different providers hold them -> the row is rejected.
A row is one write that the service applies in one transaction, so a rejected row leaves
nothing behind; and a file imported twice changes nothing the second time.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from procure_shared.replies import problem_line

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "CsvError",
    "ImportStopped",
    "ImportSummary",
    "Outcome",
    "ParsedFile",
    "ProviderRow",
    "Rejection",
    "RowResult",
    "import_providers",
    "parse_csv",
    "read_csv",
]

COLUMNS = (
    "legal_name",
    "trading_name",
    "kind",
    "sme",
    "vcse",
    "identifiers",
    "regions",
    "street_address",
    "locality",
    "postal_code",
    "country_name",
    "contact_name",
    "contact_email",
    "contact_telephone",
    "contact_role",
    "notes",
)
REQUIRED_COLUMNS = ("legal_name", "kind", "identifiers")
_ADDRESS = ("street_address", "locality", "postal_code")
_CONTACT = ("contact_name", "contact_email", "contact_telephone", "contact_role")
_TRUE = frozenset({"yes", "y", "true", "t", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "0"})
_PATH = "/v1/providers"


class CsvError(Exception):
    """The file as a whole cannot be imported (unreadable, or its header is wrong)."""


class ImportStopped(Exception):
    """The API refused the importer itself (token missing, expired or without the role), so no
    further row could succeed either."""


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RowResult:
    line: int  # the line of the file where the row starts (the header is line 1)
    outcome: Outcome
    provider_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ProviderRow:
    """A row that parsed: the fields it sets, as the API spells them, and its identifiers."""

    line: int
    identifiers: tuple[tuple[str, str], ...]
    fields: Mapping[str, Any]

    def body(self) -> dict[str, Any]:
        return {**self.fields, "identifiers": [_identifier(s, i) for s, i in self.identifiers]}

    def idempotency_key(self) -> str:
        """The same for the same row, whatever the run: a POST retried after a lost answer (or
        a whole import run again) is recognised by the service and creates nothing new."""
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return "providers-import-" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The rows in file order: those to send, and those already rejected by parsing."""

    entries: tuple[ProviderRow | RowResult, ...]

    def __len__(self) -> int:
        return len(self.entries)


@dataclass(slots=True)
class ImportSummary:
    results: list[RowResult] = field(default_factory=list)

    def _count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def created(self) -> int:
        return self._count(Outcome.CREATED)

    @property
    def updated(self) -> int:
        return self._count(Outcome.UPDATED)

    @property
    def unchanged(self) -> int:
        return self._count(Outcome.UNCHANGED)

    @property
    def rejected(self) -> list[Rejection]:
        return [
            Rejection(r.line, r.reason or "") for r in self.results if r.outcome is Outcome.REJECTED
        ]


# Parsing ---------------------------------------------------------------------------------------


def _column(header: str) -> str:
    """``legalName``, ``Legal name`` and ``legal-name`` all name ``legal_name``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", header.strip())
    return re.sub(r"[\s-]+", "_", snake).lower()


def _columns(header: list[str]) -> list[str]:
    """The column names; a blank one stands for a column without a header, which spreadsheets
    export as trailing commas (its cells must then be empty)."""
    names = [_column(h) for h in header]
    unknown = [h for h, n in zip(header, names, strict=True) if n and n not in COLUMNS]
    if unknown:
        # A typo would otherwise drop a whole column silently.
        raise CsvError(f"unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}")
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        raise CsvError(f"column(s) given twice: {', '.join(repeated)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise CsvError(f"missing column(s): {', '.join(missing)}")
    return names


def read_csv(path: Path) -> ParsedFile:
    try:
        # utf-8-sig: spreadsheets often save a byte-order mark before the header.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_csv(text)


def parse_csv(text: str) -> ParsedFile:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError("the file is empty: it needs a header row") from None
    except csv.Error as exc:
        raise CsvError(f"line 1: {exc}") from None
    names = _columns(header)
    entries: list[ProviderRow | RowResult] = []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvError(f"line {start}: {exc}") from None
        if any(c.strip() for c in cells):  # spreadsheets leave rows of empty cells at the end
            entries.append(_row(start, names, cells))
        start = reader.line_num + 1
    return ParsedFile(tuple(entries))


def _row(line: int, names: list[str], cells: list[str]) -> ProviderRow | RowResult:
    headed = [*names, *[""] * (len(cells) - len(names))]  # a short row: its last cells empty
    pairs = list(zip(headed, cells, strict=False))
    stray = [str(i) for i, (n, c) in enumerate(pairs, 1) if not n and c.strip()]
    if stray:
        reason = f"a value in column(s) {', '.join(stray)}, which have no header"
        return RowResult(line, Outcome.REJECTED, reason=reason)
    values = {n: c.strip() for n, c in pairs if n}
    problems: list[str] = []
    fields = _fields(values, problems)
    identifiers = _identifiers(values.get("identifiers", ""), problems)
    if problems:
        return RowResult(line, Outcome.REJECTED, reason="; ".join(problems))
    return ProviderRow(line, identifiers, fields)


def _fields(values: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for column, key in (("legal_name", "legalName"), ("trading_name", "tradingName")):
        if name := " ".join(values.get(column, "").split()):  # the service collapses spaces too
            fields[key] = name
    if "legalName" not in fields:
        problems.append("legal_name is empty")
    kind = _token(values.get("kind", ""))
    if kind:
        fields["kind"] = kind
    else:
        problems.append("kind is empty (company, charity, school_or_trust or public_body)")
    for column in ("sme", "vcse"):
        flag = _flag(column, values.get(column, ""), problems)
        if flag is not None:
            fields[column] = flag
    regions = [_token(r) for r in values.get("regions", "").split(";") if r.strip()]
    if regions:
        fields["regions"] = list(dict.fromkeys(regions))
    if address := _address(values, problems):
        fields["addresses"] = [address]
    if contact := _contact(values, problems):
        fields["contacts"] = [contact]
    if notes := values.get("notes", ""):
        fields["notes"] = notes
    return fields


def _token(value: str) -> str:
    """An enum value as people type it: ``North West`` -> ``north_west``."""
    return re.sub(r"[\s-]+", "_", value.strip()).lower()


def _flag(column: str, value: str, problems: list[str]) -> bool | None:
    word = value.lower()
    if not word:
        return None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    problems.append(f"{column} {value!r} is not yes or no")
    return None


def _identifier(scheme: str, id: str) -> dict[str, str]:
    return {"scheme": scheme, "id": id}


def _identifiers(value: str, problems: list[str]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    malformed = False
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        scheme, colon, id = part.partition(":")
        if not (colon and scheme.strip() and id.strip()):
            problems.append(f"identifier {part!r} is not SCHEME:ID (e.g. GB-COH:01234567)")
            malformed = True
            continue
        pairs.append((scheme.strip(), id.strip()))
    if not pairs and not malformed:
        problems.append("identifiers is empty: a provider needs at least one (SCHEME:ID)")
    return tuple(pairs)


def _address(values: Mapping[str, str], problems: list[str]) -> dict[str, Any] | None:
    given = {c: values.get(c, "") for c in _ADDRESS}
    if not any(given.values()):
        return None
    missing = [c for c, v in given.items() if not v]
    if missing:
        problems.append(f"an address needs {', '.join(_ADDRESS)}; missing {', '.join(missing)}")
        return None
    # Every field spelled out, as the service returns them, so that comparing is exact.
    return {
        "streetAddress": given["street_address"],
        "locality": given["locality"],
        "postalCode": given["postal_code"],
        "countryName": values.get("country_name") or "United Kingdom",
        "region": None,
    }


def _contact(values: Mapping[str, str], problems: list[str]) -> dict[str, Any] | None:
    given = {c: values.get(c, "") for c in _CONTACT}
    if not any(given.values()):
        return None
    if not (given["contact_name"] and given["contact_email"]):
        problems.append("a contact needs contact_name and contact_email")
        return None
    return {
        "name": given["contact_name"],
        "email": given["contact_email"],
        "telephone": given["contact_telephone"] or None,
        "role": given["contact_role"] or None,
    }


# Importing -------------------------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Api:
    """The few calls the import makes; a 4xx or 5xx answer rejects the row being imported."""

    def __init__(self, client: httpx.AsyncClient, headers: Mapping[str, str]) -> None:
        self.client = client
        self.headers = dict(headers)

    async def send(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        answer = await self.client.request(
            method, path, headers={**self.headers, **(headers or {})}, **kw
        )
        if answer.status_code in (401, 403):
            raise ImportStopped(f"the providers API refused the token: {problem_line(answer)}")
        if answer.status_code >= 400:
            raise _Rejected(problem_line(answer))
        return answer

    async def holder(self, scheme: str, id: str) -> dict[str, Any] | None:
        answer = await self.send("GET", _PATH, params={"identifier": f"{scheme}:{id}"})
        items: list[dict[str, Any]] = answer.json()["items"]
        return items[0] if items else None


def _describe(provider: Mapping[str, Any]) -> str:
    return f"{provider['id']} ({provider['legalName']})"


def _differences(
    row: ProviderRow, current: Mapping[str, Any], new: list[dict[str, str]]
) -> dict[str, Any]:
    """The PATCH body: the fields the row sets that differ, and identifiers it adds."""
    changes = {k: v for k, v in row.fields.items() if current.get(k) != v}
    if new:
        changes["identifiers"] = [*current["identifiers"], *new]
    return changes


class _Importer:
    def __init__(self, api: _Api) -> None:
        self.api = api
        self.touched: dict[str, int] = {}  # provider id -> the line that created or matched it

    async def run(self, row: ProviderRow) -> RowResult:
        holders: dict[str, dict[str, Any]] = {}
        unheld: list[dict[str, str]] = []
        for scheme, id in row.identifiers:
            provider = await self.api.holder(scheme, id)
            if provider is None:
                unheld.append(_identifier(scheme, id))
            else:
                holders.setdefault(provider["id"], provider)
        if len(holders) > 1:
            names = " and ".join(_describe(p) for p in holders.values())
            raise _Rejected(f"its identifiers belong to two different providers: {names}")
        if not holders:
            return await self.create(row)
        [provider] = holders.values()
        self.claim(row, provider["id"])
        return await self.update(row, provider, unheld)

    def claim(self, row: ProviderRow, provider_id: str) -> None:
        # Two rows for one provider would overwrite each other on every run: never idempotent.
        earlier = self.touched.setdefault(provider_id, row.line)
        if earlier != row.line:
            raise _Rejected(f"it names the same provider ({provider_id}) as line {earlier}")

    async def create(self, row: ProviderRow) -> RowResult:
        answer = await self.api.send(
            "POST", _PATH, json=row.body(), headers={"Idempotency-Key": row.idempotency_key()}
        )
        provider_id = str(answer.json()["id"])
        self.touched.setdefault(provider_id, row.line)
        return RowResult(row.line, Outcome.CREATED, provider_id)

    async def update(
        self, row: ProviderRow, listed: Mapping[str, Any], unheld: list[dict[str, str]]
    ) -> RowResult:
        provider_id = str(listed["id"])
        if not _differences(row, listed, unheld):
            return RowResult(row.line, Outcome.UNCHANGED, provider_id)
        # Compare again with the provider as of its ETag, so If-Match covers what was compared.
        path = f"{_PATH}/{provider_id}"
        fresh = await self.api.send("GET", path)
        changes = _differences(row, fresh.json(), unheld)
        if not changes:
            return RowResult(row.line, Outcome.UNCHANGED, provider_id)
        tag = fresh.headers["ETag"]
        answer = await self.api.send("PATCH", path, json=changes, headers={"If-Match": tag})
        # The service may normalise a value into the one it has: same ETag, nothing changed.
        same = answer.headers.get("ETag") == tag
        return RowResult(row.line, Outcome.UNCHANGED if same else Outcome.UPDATED, provider_id)


async def import_providers(
    client: httpx.AsyncClient,
    parsed: ParsedFile,
    *,
    headers: Mapping[str, str] | None = None,
    on_row: Callable[[RowResult], None] | None = None,
) -> ImportSummary:
    """Import each row in file order through ``client`` (based at the providers service);
    ``on_row`` hears each row's result as it is known. Raises ``ImportStopped`` when the API
    refuses the token, and lets transport errors through: running the import again is safe."""
    importer = _Importer(_Api(client, headers or {}))
    summary = ImportSummary()
    for entry in parsed.entries:
        if isinstance(entry, RowResult):
            result = entry
        else:
            try:
                result = await importer.run(entry)
            except _Rejected as exc:
                result = RowResult(entry.line, Outcome.REJECTED, reason=exc.reason)
        summary.results.append(result)
        if on_row is not None:
            on_row(result)
    return summary
