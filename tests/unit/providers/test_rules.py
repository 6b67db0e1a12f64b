"""The pure rules of the registry: no fixtures, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from procure_providers.domain.accreditations import (
    Accreditation,
    AccreditationDraft,
    Notice,
    due_notices,
    grant,
    revoke,
)
from procure_providers.domain.eligibility import Decision, Facts, decide
from procure_providers.domain.exclusions import ExclusionDraft, lift, record
from procure_providers.domain.identifiers import SCHEMES, parse_identifier
from procure_providers.domain.portfolio import LatestRating
from procure_providers.domain.providers import ProviderStatus
from procure_shared.categories import Category
from procure_shared.errors import RuleBroken

NOW = datetime(2022, 6, 1, 9, tzinfo=UTC)
PROVIDER = "7b0c6a3e-2f4e-4b7a-9a53-1d3c1f0f7c11"


@pytest.mark.parametrize(
    ("scheme", "typed", "stored"),
    [
        ("GB-COH", "1234567", "01234567"),
        ("gb-coh", "sc 123456", "SC123456"),
        ("GB-CHC", "216250", "216250"),
        ("GB-EDU", "100000", "100000"),
        ("GB-PPON", "pmzv-7732-xxtt", "PMZV-7732-XXTT"),
    ],
)
def test_identifiers_are_normalised_to_the_registers_form(
    scheme: str, typed: str, stored: str
) -> None:
    assert parse_identifier(scheme, typed).id == stored


@pytest.mark.parametrize(
    ("scheme", "value", "says"),
    [
        ("GB-COH", "123456789", "GB-COH"),
        ("GB-COH", "XX123456", "Companies House"),
        ("GB-CHC", "21625", "Charity Commission"),
        ("GB-EDU", "012345", "GB-EDU"),
        ("GB-PPON", "PMZV7732XXTT", "PMZV-7732-XXTT"),
        ("DUNS", "123456789", "unknown identifier scheme"),
    ],
)
def test_an_identifier_that_breaks_its_schemes_format_is_refused_saying_what_is_expected(
    scheme: str, value: str, says: str
) -> None:
    with pytest.raises(RuleBroken, match=says):
        parse_identifier(scheme, value)


@pytest.mark.parametrize(
    ("scheme", "typed", "stored"),
    [
        ("UA-EDR", "02070884", ("UA-EDR", "02070884")),
        ("ua-edr", " 02070884\t", ("UA-EDR", "02070884")),
        ("GB-LAC", "E09000003", ("GB-LAC", "E09000003")),
        ("AF-TIN", "9000321217", ("AF-TIN", "9000321217")),
        ("md-idno", "1003600000000", ("MD-IDNO", "1003600000000")),
        ("XI-EORI", "GB123456789000", ("XI-EORI", "GB123456789000")),
        ("XM-DAC", "41114", ("XM-DAC", "41114")),
        ("ZZ-X1", "one", ("ZZ-X1", "one")),
        ("UA-" + "E" * 17, "1", ("UA-" + "E" * 17, "1")),
        # kept as given: a foreign register may be case-sensitive, and may use spaces
        ("CO-NIT", "abc 123-x", ("CO-NIT", "abc 123-x")),
        ("PY-RUC", "368894-1", ("PY-RUC", "368894-1")),
        ("UA-EDR", "x" * 200, ("UA-EDR", "x" * 200)),
    ],
)
def test_another_org_id_register_is_accepted_upper_cased_with_its_id_only_trimmed(
    scheme: str, typed: str, stored: tuple[str, str]
) -> None:
    identifier = parse_identifier(scheme, typed)
    assert (identifier.scheme, identifier.id) == stored


def test_an_ocds_party_is_its_ocid_and_party_id_kept_as_given() -> None:
    identifier = parse_identifier("ocds-party", " ocds-213czf-000-00001/GB-LAC-E09000003 ")
    assert str(identifier) == "OCDS-PARTY:ocds-213czf-000-00001/GB-LAC-E09000003"
    # the party id may itself hold a slash: only the first one separates
    assert parse_identifier("OCDS-PARTY", "OCDS-87SD3T-1/a/b").id == "OCDS-87SD3T-1/a/b"
    assert parse_identifier("OCDS-PARTY", "o/" + "p" * 298).id == "o/" + "p" * 298


@pytest.mark.parametrize(
    ("scheme", "value", "says"),
    [
        ("NIT", "1012362575-0", "unknown identifier scheme 'NIT'"),
        ("Nit de Persona Natural", "1012362575-0", "unknown identifier scheme"),
        ("", "1", "unknown identifier scheme ''"),
        ("  ", "1", "unknown identifier scheme"),
        ("NGN-BRBDA", "3210104188", "unknown identifier scheme"),
        ("XX-NOPE", "1", "XX is not an ISO 3166-1 country code"),
        ("UA_EDR", "1", "unknown identifier scheme"),
        ("UA-", "1", "unknown identifier scheme"),
        ("UA-E.DR", "1", "unknown identifier scheme"),
        ("UA-" + "E" * 18, "1", "at most 20 characters"),
        ("\u0131t-rea", "1", "unknown identifier scheme"),  # a dotless i upper-cases to I
        ("UA-EDR", "", "must not be empty"),
        ("UA-EDR", "   ", "must not be empty"),
        ("UA-EDR", "x" * 201, "at most 200 characters"),
        ("UA-EDR", "1\x002", "control characters"),
        ("GB-LAC", "E09\x85000003", "control characters"),
        ("OCDS-PARTY", "", "must not be empty"),
        ("OCDS-PARTY", "ocds-213czf-000-00001", "expected <ocid>/<party id>"),
        ("OCDS-PARTY", "/GB-LAC-E09000003", "expected <ocid>/<party id>"),
        ("OCDS-PARTY", "ocds-213czf-000-00001/", "expected <ocid>/<party id>"),
        ("OCDS-PARTY", "o/" + "p" * 299, "at most 300 characters"),
        ("OCDS-PARTY", "o/p\n1", "control characters"),
    ],
)
def test_a_scheme_of_no_accepted_form_or_a_bad_id_for_it_is_refused(
    scheme: str, value: str, says: str
) -> None:
    with pytest.raises(RuleBroken, match=re.escape(says)):
        parse_identifier(scheme, value)


def test_an_unknown_scheme_is_refused_naming_every_accepted_form() -> None:
    with pytest.raises(RuleBroken) as refused:
        parse_identifier("NIT", "1012362575-0")
    assert refused.value.field == "scheme"
    for form in (*SCHEMES, "CC-REGISTER", "XI, XM or ZZ", "OCDS-PARTY", "<ocid>/<party id>"):
        assert form in refused.value.message


def test_a_known_scheme_keeps_its_format_check_rather_than_being_taken_as_given() -> None:
    with pytest.raises(RuleBroken, match="Companies House"):
        parse_identifier("GB-COH", "11111111.0")


def accreditation(
    valid_from: date = date(2021, 9, 1), valid_to: date | None = date(2023, 8, 31)
) -> Accreditation:
    return grant(
        AccreditationDraft(
            category=Category.ACADEMIC_MENTORING,
            granted_by="DfE",
            valid_from=valid_from,
            valid_to=valid_to,
            evidence_ref=None,
        ),
        id="a1",
        provider_id=PROVIDER,
        now=NOW,
    )


def facts(**overrides: object) -> Facts:
    values: dict[str, object] = {
        "provider_id": PROVIDER,
        "name": "Randstad",
        "status": ProviderStatus.ACTIVE,
        "exclusions": [],
        "accreditations": [accreditation()],
        "latest_rating": None,
    } | overrides
    return Facts(**values)  # type: ignore[arg-type]


def codes(decision: Decision) -> list[str]:
    return [r.code for r in decision.reasons]


ON = date(2022, 6, 1)
MENTORING = Category.ACADEMIC_MENTORING


def test_an_active_accredited_provider_with_no_exclusion_is_eligible() -> None:
    decision = decide(PROVIDER, facts(), MENTORING, ON)
    assert decision.eligible
    assert decision.reasons == []
    assert decision.warnings == []


def test_an_unknown_provider_is_ineligible_for_that_reason_alone() -> None:
    decision = decide("nobody", None, MENTORING, ON)
    assert (decision.eligible, codes(decision)) == (False, ["unknown"])


def test_an_inactive_provider_is_ineligible() -> None:
    decision = decide(PROVIDER, facts(status=ProviderStatus.INACTIVE), MENTORING, ON)
    assert codes(decision) == ["inactive"]


def test_an_exclusion_in_force_makes_a_provider_ineligible_until_its_end() -> None:
    exclusion = record(
        ExclusionDraft(
            ground="fraud",
            source="central debarment list",
            starts_on=date(2022, 1, 1),
            ends_on=date(2026, 12, 31),
        ),
        id="e1",
        provider_id=PROVIDER,
        now=NOW,
    )
    decision = decide(PROVIDER, facts(exclusions=[exclusion]), MENTORING, ON)
    assert codes(decision) == ["excluded"]
    assert decision.reasons[0].until == date(2026, 12, 31)
    # Lifted on 1 March: from then on it no longer applies; the day before it still did.
    lifted = lift(exclusion, on=date(2022, 3, 1), reason="appeal upheld", now=NOW)
    assert decide(PROVIDER, facts(exclusions=[lifted]), MENTORING, ON).eligible
    assert codes(decide(PROVIDER, facts(exclusions=[lifted]), MENTORING, date(2022, 2, 28))) == [
        "excluded"
    ]


def test_no_accreditation_in_the_category_is_accreditation_missing() -> None:
    decision = decide(PROVIDER, facts(), Category.TUTOR_TRAINING, ON)
    assert codes(decision) == ["accreditation_missing"]


def test_an_accreditation_that_ended_before_the_day_is_accreditation_expired() -> None:
    decision = decide(PROVIDER, facts(), MENTORING, date(2023, 9, 1))
    assert codes(decision) == ["accreditation_expired"]
    assert "2023-08-31" in decision.reasons[0].message


def test_a_revoked_or_not_yet_valid_accreditation_counts_as_missing() -> None:
    revoked = revoke(accreditation(), reason="quality concerns", now=NOW)
    assert codes(decide(PROVIDER, facts(accreditations=[revoked]), MENTORING, ON)) == [
        "accreditation_missing"
    ]
    later = accreditation(valid_from=date(2022, 9, 1))
    decision = decide(PROVIDER, facts(accreditations=[later]), MENTORING, ON)
    assert codes(decision) == ["accreditation_missing"]
    assert "valid from 2022-09-01" in decision.reasons[0].message


def test_every_reason_is_listed_not_only_the_first() -> None:
    decision = decide(
        PROVIDER, facts(status=ProviderStatus.INACTIVE, accreditations=[]), MENTORING, ON
    )
    assert codes(decision) == ["inactive", "accreditation_missing"]


def test_an_inadequate_latest_rating_is_a_warning_not_a_refusal() -> None:
    rating = LatestRating(
        kpi_id="k1",
        name="Pupils supported",
        contract_id="c1",
        rating="inadequate",
        period_end=date(2022, 3, 31),
    )
    decision = decide(PROVIDER, facts(latest_rating=rating), MENTORING, ON)
    assert decision.eligible
    assert [w.code for w in decision.warnings] == ["performance_inadequate"]
    good = LatestRating(
        kpi_id="k1",
        name="Pupils supported",
        contract_id="c1",
        rating="good",
        period_end=date(2022, 3, 31),
    )
    assert decide(PROVIDER, facts(latest_rating=good), MENTORING, ON).warnings == []


def test_expiry_notices_fall_due_in_order_and_each_only_until_sent() -> None:
    a = accreditation()  # valid to 2023-08-31
    due = due_notices  # (accreditation, today, notice_days, sent)
    assert due(a, today=date(2023, 7, 31), notice_days=30, sent=frozenset()) == []
    assert due(a, today=date(2023, 8, 1), notice_days=30, sent=frozenset()) == [Notice.EXPIRING]
    assert due(a, today=date(2023, 8, 31), notice_days=30, sent=frozenset({Notice.EXPIRING})) == []
    assert due(a, today=date(2023, 9, 1), notice_days=30, sent=frozenset({Notice.EXPIRING})) == [
        Notice.EXPIRED
    ]
    # After an outage both are due at once, expiring first.
    assert due(a, today=date(2024, 1, 1), notice_days=30, sent=frozenset()) == [
        Notice.EXPIRING,
        Notice.EXPIRED,
    ]
