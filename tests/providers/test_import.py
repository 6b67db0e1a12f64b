"""``procure providers import``: a CSV file through the providers HTTP API, on real PostgreSQL
and NATS."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from procure_tools.cli import app
from procure_tools.devstack.demo import demo_providers
from procure_tools.importer import (
    CsvError,
    ImportStopped,
    ImportSummary,
    Outcome,
    ParsedFile,
    ProviderRow,
    Rejection,
    RowResult,
    import_providers,
    parse_csv,
    read_csv,
)
from typer.testing import CliRunner

from procure_shared.db.postgres import Pool
from procure_shared.http import Role
from tests.providers.conftest import Api
from tests.providers.test_registry_api import count, outbox_events
from tests.support.auth import bearer, token

ADMIN = bearer(token(Role.ADMIN, sub="importer@dfe"))
HEADER = (
    "legal_name,trading_name,kind,sme,vcse,identifiers,regions,"
    "street_address,locality,postal_code,contact_name,contact_email,notes"
)
ROWS = [
    "Brightpath Tutoring Limited,Brightpath,company,yes,no,GB-COH:99000001;GB-PPON:DEMO-0001-BRTP,"
    "london;south_east,1 Example Street,London,EC1A 1BB,Jo Example,jo@example.org,demo",
    "Northern Lights Learning Trust,,charity,no,yes,GB-CHC:9990001,North West,,,,,,",
    "Riverside Academy Trust,,school_or_trust,,,GB-COH:99000002;GB-EDU:199001,"
    "yorkshire_and_the_humber,,,,,,",
]
SAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "providers.csv"


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "providers.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


async def run(api: Api, path: Path, **options: Any) -> ImportSummary:
    return await import_providers(api.http, read_csv(path), headers=ADMIN, **options)


def counts(summary: ImportSummary) -> tuple[int, int, int, list[Rejection]]:
    return summary.created, summary.updated, summary.unchanged, summary.rejected


async def holder(api: Api, identifier: str) -> dict[str, Any]:
    answer = await api.get("/v1/providers", identifier=identifier)
    [provider] = answer.json()["items"]
    return dict(provider)


async def stored(pool: Pool) -> tuple[int, int, int]:
    """What a run leaves behind: providers, events to publish, audit entries."""
    return (
        await count(pool, "SELECT count(*) FROM providers"),
        await count(pool, "SELECT count(*) FROM outbox"),
        await count(pool, "SELECT count(*) FROM audit_log"),
    )


async def test_a_csv_import_creates_each_provider_through_the_api(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    summary = await run(api, csv_file(tmp_path, *ROWS))

    assert counts(summary) == (3, 0, 0, [])
    brightpath = await holder(api, "GB-PPON:DEMO-0001-BRTP")
    assert brightpath["legalName"] == "Brightpath Tutoring Limited"
    assert (brightpath["tradingName"], brightpath["kind"], brightpath["sme"]) == (
        "Brightpath",
        "company",
        True,
    )
    assert brightpath["identifiers"] == [
        {"scheme": "GB-COH", "id": "99000001"},
        {"scheme": "GB-PPON", "id": "DEMO-0001-BRTP"},
    ]
    assert brightpath["regions"] == ["london", "south_east"]
    assert brightpath["addresses"][0]["postalCode"] == "EC1A 1BB"
    assert brightpath["contacts"][0]["email"] == "jo@example.org"
    trust = await holder(api, "GB-CHC:9990001")
    assert (trust["vcse"], trust["regions"], trust["tradingName"]) == (True, ["north_west"], None)
    assert [r.provider_id for r in summary.results[:2]] == [brightpath["id"], trust["id"]]
    assert await stored(ppool) == (3, 3, 3)
    history = (await api.get(f"/v1/providers/{trust['id']}/history")).json()
    assert [h["actor"] for h in history] == ["importer@dfe"]


async def test_the_same_csv_imported_twice_changes_nothing_the_second_time(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    path = csv_file(tmp_path, *ROWS)
    await run(api, path)
    before = await stored(ppool)
    versions = [(await holder(api, i))["version"] for i in ("GB-COH:99000001", "GB-CHC:9990001")]

    again = await run(api, path)

    assert counts(again) == (0, 0, 3, [])
    assert await stored(ppool) == before  # no provider, event or audit entry added
    assert [(await holder(api, i))["version"] for i in ("GB-COH:99000001", "GB-CHC:9990001")] == (
        versions
    )


async def test_changing_one_cell_updates_exactly_that_provider_and_that_field(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    await run(api, csv_file(tmp_path, *ROWS))
    changed = ROWS[1].replace(",no,yes,", ",yes,yes,")  # the trust becomes an SME

    summary = await run(api, csv_file(tmp_path, ROWS[0], changed, ROWS[2]))

    assert counts(summary) == (0, 1, 2, [])
    assert [r.outcome for r in summary.results] == [
        Outcome.UNCHANGED,
        Outcome.UPDATED,
        Outcome.UNCHANGED,
    ]
    trust = await holder(api, "GB-CHC:9990001")
    assert (trust["sme"], trust["version"]) == (True, 2)
    last = (await outbox_events(ppool))[-1]
    assert (last.type, last.subject) == ("providers.provider.updated", trust["id"])
    assert last.decode_data(dict)["changed"] == ["sme"]


async def test_an_empty_cell_keeps_what_the_registry_has(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    await run(api, csv_file(tmp_path, *ROWS))
    before = await stored(ppool)
    # The same organisation with only the required cells: nothing to change.
    bare = "Brightpath Tutoring Limited,,company,,,GB-COH:99000001,,,,,,,"

    summary = await run(api, csv_file(tmp_path, bare))

    assert counts(summary) == (0, 0, 1, [])
    assert (await holder(api, "GB-COH:99000001"))["tradingName"] == "Brightpath"
    assert await stored(ppool) == before


async def test_bad_rows_are_rejected_with_their_line_and_reason_and_nothing_of_them_is_stored(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    path = csv_file(
        tmp_path,
        ",,company,,,GB-COH:99000011,,,,,,,",  # line 2: no legal name
        "Maybe Ltd,,company,maybe,,GB-COH:99000012,,,,,,,",  # line 3: not a yes or no
        "Colonless Ltd,,company,,,GB-COH 99000013,,,,,,,",  # line 4: not SCHEME:ID
        "Too Long Ltd,,company,,,GB-COH:123456789,,,,,,,",  # line 5: the API refuses the number
        "Atlantis Ltd,,company,,,GB-COH:99000015,atlantis,,,,,,",  # line 6: no such region
        "Half Address Ltd,,company,,,GB-COH:99000016,,1 Street,,,,,",  # line 7
        ROWS[0],  # line 8: fine
    )

    summary = await run(api, path)

    assert (summary.created, summary.updated, summary.unchanged) == (1, 0, 0)
    reasons = {r.line: r.reason for r in summary.rejected}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert "legal_name is empty" in reasons[2]
    assert "sme 'maybe' is not yes or no" in reasons[3]
    assert "'GB-COH 99000013' is not SCHEME:ID" in reasons[4]
    assert "not a valid GB-COH" in reasons[5]
    assert "regions" in reasons[6]
    assert "missing locality, postal_code" in reasons[7]
    assert await stored(ppool) == (1, 1, 1)


async def test_a_refused_change_to_an_existing_provider_leaves_all_of_it_as_it_was(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    await run(api, csv_file(tmp_path, *ROWS))
    before = await stored(ppool)
    # A new name and a new identifier are fine, the contact's email is not: none of it lands.
    row = (
        "Brightpath Education Limited,,company,,,GB-COH:99000001;GB-CHC:9990002,,"
        ",,,Jo Example,not-an-email,"
    )

    summary = await run(api, csv_file(tmp_path, row))

    [rejection] = summary.rejected
    assert rejection.line == 2
    assert "email" in rejection.reason
    provider = await holder(api, "GB-COH:99000001")
    assert provider["legalName"] == "Brightpath Tutoring Limited"
    assert len(provider["identifiers"]) == 2
    assert (await api.get("/v1/providers", identifier="GB-CHC:9990002")).json()["items"] == []
    assert await stored(ppool) == before


async def test_a_row_is_matched_by_identifier_whatever_name_the_registry_has(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    held = await api.register(
        legalName="Old Name Limited", identifiers=[{"scheme": "GB-COH", "id": "09900001"}]
    )
    # Companies House numbers lose their leading zero in spreadsheets; the API restores it.
    row = "New Name Limited,,company,,,GB-COH:9900001;GB-PPON:DEMO-0002-NEWN,,,,,,,"

    summary = await run(api, csv_file(tmp_path, row))

    assert counts(summary) == (0, 1, 0, [])
    assert summary.results[0].provider_id == held["id"]
    provider = await holder(api, "GB-PPON:DEMO-0002-NEWN")
    assert provider["id"] == held["id"]
    assert provider["legalName"] == "New Name Limited"
    assert provider["identifiers"] == [
        {"scheme": "GB-COH", "id": "09900001"},
        {"scheme": "GB-PPON", "id": "DEMO-0002-NEWN"},
    ]
    assert await count(ppool, "SELECT count(*) FROM providers") == 1
    again = await run(api, csv_file(tmp_path, row))
    assert counts(again) == (0, 0, 1, [])


async def test_a_row_naming_identifiers_of_two_providers_is_rejected_and_changes_neither(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    first = await api.register(identifiers=[{"scheme": "GB-COH", "id": "99000021"}])
    second = await api.register(
        legalName="Second Ltd", identifiers=[{"scheme": "GB-CHC", "id": "9990021"}]
    )
    before = await stored(ppool)
    row = "Merged Ltd,,company,,,GB-COH:99000021;GB-CHC:9990021,,,,,,,"

    summary = await run(api, csv_file(tmp_path, row))

    [rejection] = summary.rejected
    assert "two different providers" in rejection.reason
    assert first["id"] in rejection.reason
    assert second["id"] in rejection.reason
    assert await stored(ppool) == before


async def test_a_second_row_for_a_provider_already_imported_is_rejected_naming_the_first(
    api: Api, ppool: Pool, tmp_path: Path
) -> None:
    twin = ROWS[0].replace("Brightpath,company", "Brightpath Two,company")
    path = csv_file(tmp_path, ROWS[0], twin)

    summary = await run(api, path)
    again = await run(api, path)

    for result in (summary, again):
        [rejection] = result.rejected
        assert (rejection.line, "as line 2" in rejection.reason) == (3, True)
    assert counts(again)[:3] == (0, 0, 1)
    assert (await holder(api, "GB-COH:99000001"))["tradingName"] == "Brightpath"


async def test_progress_hears_every_row_in_file_order(api: Api, tmp_path: Path) -> None:
    heard: list[RowResult] = []
    path = csv_file(tmp_path, ROWS[0], ",,company,,,GB-COH:99000031,,,,,,,", ROWS[1])

    await run(api, path, on_row=heard.append)

    assert [(r.line, r.outcome) for r in heard] == [
        (2, Outcome.CREATED),
        (3, Outcome.REJECTED),
        (4, Outcome.CREATED),
    ]


async def test_the_sample_file_imports_four_providers_and_rejects_its_bad_row(
    api: Api, ppool: Pool
) -> None:
    summary = await import_providers(api.http, read_csv(SAMPLE), headers=ADMIN)

    assert (summary.created, summary.updated, summary.unchanged) == (4, 0, 0)
    [rejection] = summary.rejected
    assert rejection.line == 6
    assert "sme 'maybe'" in rejection.reason
    assert "is not SCHEME:ID" in rejection.reason
    assert await count(ppool, "SELECT count(*) FROM providers") == 4


async def test_a_token_the_api_refuses_stops_the_import(api: Api, tmp_path: Path) -> None:
    viewer = bearer(token(Role.VIEWER, sub="viewer@dfe"))
    with pytest.raises(ImportStopped, match="refused the token"):
        await import_providers(api.http, read_csv(csv_file(tmp_path, *ROWS)), headers=viewer)


# The file itself, without the API ------------------------------------------------------------


def test_camel_case_and_spaced_headers_name_the_same_columns() -> None:
    parsed = parse_csv(
        "legalName,Kind,Identifiers,Trading name,contact-email,contactName\n"
        "Brightpath Tutoring  Limited,Company,gb-coh:99000001,  Brightpath ,jo@example.org,Jo\n"
    )
    [row] = parsed.entries
    assert isinstance(row, ProviderRow)
    assert row.body() == {
        "legalName": "Brightpath Tutoring Limited",
        "tradingName": "Brightpath",
        "kind": "company",
        "identifiers": [{"scheme": "gb-coh", "id": "99000001"}],
        "contacts": [{"name": "Jo", "email": "jo@example.org", "telephone": None, "role": None}],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("legal_name,kind\n", "missing column(s): identifiers"),
        ("legal_name,kind,identifiers,colour\n", "unknown column(s) colour"),
        ("legal_name,kind,identifiers,legalName\n", "given twice: legal_name"),
    ],
)
def test_a_file_with_a_wrong_header_is_refused_as_a_whole(text: str, message: str) -> None:
    with pytest.raises(CsvError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_csv(text)


def test_lines_count_quoted_line_breaks_and_blank_rows_are_skipped() -> None:
    parsed = parse_csv(
        "legal_name,kind,identifiers,notes\n"
        'A Ltd,company,GB-COH:99000001,"two\nlines"\n'
        ",,,\n"
        "B Ltd,company,GB-COH:99000002,\n"
    )
    assert [e.line for e in parsed.entries] == [2, 5]
    assert isinstance(parsed.entries[0], ProviderRow)
    assert parsed.entries[0].fields["notes"] == "two\nlines"


def test_columns_without_a_header_may_only_hold_empty_cells() -> None:
    parsed = parse_csv(
        "legal_name,kind,identifiers,\n"
        "A Ltd,company,GB-COH:99000001,,\n"
        "B Ltd,company,GB-COH:99000002,,stray\n"
    )
    assert isinstance(parsed.entries[0], ProviderRow)
    assert parsed.entries[1] == RowResult(
        3, Outcome.REJECTED, reason="a value in column(s) 5, which have no header"
    )


def test_the_idempotency_key_depends_on_the_row_not_on_the_run() -> None:
    def key(text: str) -> str:
        [row] = parse_csv(f"legal_name,kind,identifiers\n{text}\n").entries
        assert isinstance(row, ProviderRow)
        return row.idempotency_key()

    assert key("A Ltd,company,GB-COH:99000001") == key("A Ltd,company,GB-COH:99000001")
    assert key("A Ltd,company,GB-COH:99000001") != key("B Ltd,company,GB-COH:99000001")
    assert key("A Ltd,company,GB-COH:99000001") != key("A Ltd,company,GB-COH:99000002")


def test_the_command_documents_its_columns_and_refuses_a_bad_file_before_any_request(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["providers", "import", "--help"], env={"COLUMNS": "120"})
    assert shown.exit_code == 0
    for column in ("legal_name", "identifiers", "contact_email", "PROCURE_TOKEN", "8102"):
        assert column in shown.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind\n")
    # An unreachable URL: the header is checked first, so no request is made.
    refused = runner.invoke(
        app, ["providers", "import", str(bad), "--url", "http://127.0.0.1:9", "--token", "x"]
    )
    assert refused.exit_code == 2
    assert "unknown column(s) name" in " ".join(refused.output.split())


def test_an_empty_parse_has_no_rows() -> None:
    assert len(parse_csv("legal_name,kind,identifiers\n")) == 0
    assert parse_csv("legal_name,kind,identifiers\n") == ParsedFile(())


def test_the_sample_file_names_none_of_the_demo_providers() -> None:
    """Importing the sample into a `make up` system adds providers; it updates no demo one."""
    demo = {
        f"{i['scheme']}:{i['id']}"
        for provider in demo_providers(date(2026, 1, 1))
        for i in provider["identifiers"]
    }
    sample = {
        identifier
        for row in SAMPLE.read_text().splitlines()[1:]
        for identifier in row.split(",")[5].split(";")
    }
    assert sample.isdisjoint(demo), sample & demo


async def test_a_foreign_register_or_an_ocds_party_imports_once_and_an_unknown_scheme_is_rejected(
    api: Api, tmp_path: Path
) -> None:
    rows = [
        "Prykladbud LLC,,company,,,ua-edr:02070884,,,,,,,",
        "A party with no identifier,,company,,,OCDS-PARTY:ocds-213czf-000-00001/7,,,,,,,",
        "Constructora Ejemplo SA,,company,,,NIT:1012362575-0,,,,,,,",
    ]
    first = await run(api, csv_file(tmp_path, *rows))
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    [rejection] = first.rejected
    assert rejection.line == 4
    assert "unknown identifier scheme 'NIT'" in rejection.reason
    assert "CC-REGISTER" in rejection.reason
    assert (await holder(api, "UA-EDR:02070884"))["legalName"] == "Prykladbud LLC"

    again = await run(api, csv_file(tmp_path, *rows[:2]))
    assert counts(again) == (0, 0, 2, [])
