"""Organisation identifiers in the org-id.guide style (scheme + id), validated by scheme.

Three kinds of scheme are accepted:

- **Known schemes** (``SCHEMES``: the UK registers GB-COH, GB-CHC, GB-SC, GB-NIC, GB-EDU,
  GB-PPON). Each normalises what people type (spaces, case, a Companies House number without its
  leading zeros) and then checks the register's format, so that one organisation cannot be
  registered twice under two spellings of the same number.
- **Any other org-id.guide register**: ``CC-REGISTER``, where ``CC`` is an ISO 3166-1 alpha-2
  country code or one of ``XI``, ``XM`` and ``ZZ`` (org-id.guide's prefixes for lists that
  belong to no one country), and ``REGISTER`` is letters and digits, at most 20 characters in
  all (``UA-EDR``, ``GB-LAC``, ``AF-TIN``, ``XI-EORI``). The scheme is matched
  case-insensitively and stored upper-case. Procure does not know these registers' formats, and
  some are case-sensitive, so the id is kept exactly as given apart from surrounding whitespace:
  non-empty, at most 200 characters, no control characters.
- **``OCDS-PARTY``**, Procure's own scheme and *not* an org-id.guide register: the party as one
  OCDS contracting process named it, for a party its publisher gave no usable identifier. The id
  is ``<ocid>/<party id>`` (the process's ``ocid``, then the party's ``id`` within it; at most 300
  characters), so that importing that process again finds the same provider. It says nothing
  about the organisation beyond that process: two processes naming one organisation give two ids.

Anything else (``NIT``, ``DUNS``, a free-text description of a register, an empty scheme) is
refused, naming the accepted forms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from procure_shared.errors import RuleBroken

__all__ = [
    "OCDS_PARTY",
    "OCDS_PARTY_MAX",
    "ORG_ID_MAX",
    "ORG_ID_PREFIXES",
    "SCHEMES",
    "SCHEME_MAX",
    "Identifier",
    "Scheme",
    "accepted_schemes",
    "parse_identifier",
]


class Identifier(msgspec.Struct, frozen=True, rename="camel"):
    scheme: str
    id: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.id}"


@dataclass(frozen=True, slots=True)
class Scheme:
    code: str
    register: str
    pattern: re.Pattern[str]
    example: str
    normalise: Callable[[str], str]


def _compact(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def _companies_house(value: str) -> str:
    value = _compact(value)
    return value.zfill(8) if value.isdigit() else value


# Companies House prefixes: England and Wales has none (8 digits); the others are 2 letters.
_COH_PREFIXES = (
    "AC|BR|CE|CS|ES|FC|FE|GE|GN|GS|IC|IP|LP|NA|NC|NF|NI|NL|NO|NP|NR|NV|NZ|OC|PC|R0|RC|RS|SA|SC|SE|"
    "SF|SG|SI|SL|SO|SP|SR|SZ|ZC"
)

SCHEMES: dict[str, Scheme] = {
    s.code: s
    for s in (
        Scheme(
            "GB-COH",
            "Companies House",
            re.compile(rf"^(?:\d{{8}}|(?:{_COH_PREFIXES})\d{{6}})$"),
            "01234567 or SC123456",
            _companies_house,
        ),
        Scheme(
            "GB-CHC",
            "Charity Commission for England and Wales",
            re.compile(r"^\d{6,7}$"),
            "216250",
            _compact,
        ),
        Scheme(
            "GB-SC",
            "Scottish Charity Regulator",
            re.compile(r"^SC\d{6}$"),
            "SC012345",
            _compact,
        ),
        Scheme(
            "GB-NIC",
            "Charity Commission for Northern Ireland",
            re.compile(r"^1\d{5}$"),
            "100123",
            _compact,
        ),
        Scheme(
            "GB-EDU",
            "Get Information about Schools (unique reference number)",
            re.compile(r"^[1-9]\d{5}$"),
            "100000",
            _compact,
        ),
        Scheme(
            "GB-PPON",
            "Public procurement organisation number (Find a Tender)",
            re.compile(r"^[A-Z]{4}-\d{4}-[A-Z]{4}$"),
            "PMZV-7732-XXTT",
            _compact,
        ),
    )
}


# ISO 3166-1 alpha-2 (the 249 assigned codes, as the tz database's iso3166.tab lists them), and
# org-id.guide's prefixes for registers that belong to no one country.
_ISO_3166 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
    EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
    HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
    LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
    NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
ORG_ID_PREFIXES = frozenset(_ISO_3166.split()) | {"XI", "XM", "ZZ"}
# ASCII only: str.upper() would turn a dotless i or a long s into I or S.
_ORG_ID = re.compile(r"[A-Za-z]{2}-[A-Za-z0-9]+")
ORG_ID_MAX = 200
SCHEME_MAX = 20  # the longest scheme kept (org-id.guide's codes are far shorter)

OCDS_PARTY = "OCDS-PARTY"
OCDS_PARTY_MAX = 300


def accepted_schemes() -> str:
    """The accepted forms of scheme, in words (for error messages and API descriptions)."""
    return (
        f"a known scheme ({', '.join(SCHEMES)}; format-checked), another org-id.guide register "
        "as CC-REGISTER (CC an ISO 3166-1 country code or XI, XM or ZZ; e.g. UA-EDR, GB-LAC, "
        f"XI-EORI), or {OCDS_PARTY} (<ocid>/<party id>, a party an OCDS process named without "
        "a usable identifier)"
    )


def _kept_as_given(code: str, id: str, limit: int) -> str:
    value = id.strip()
    if not value:
        raise RuleBroken(f"a {code} identifier must not be empty", "id")
    if len(value) > limit:
        raise RuleBroken(
            f"a {code} identifier has at most {limit} characters, not {len(value)}", "id"
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise RuleBroken(f"a {code} identifier must not contain control characters", "id")
    return value


def _ocds_party(id: str) -> str:
    value = _kept_as_given(OCDS_PARTY, id, OCDS_PARTY_MAX)
    ocid, slash, party = value.partition("/")
    if not (ocid and slash and party):
        raise RuleBroken(
            f"{id!r} is not a valid {OCDS_PARTY} identifier; expected <ocid>/<party id>, "
            "e.g. ocds-213czf-000-00001/GB-LAC-E09000003",
            "id",
        )
    return value


def parse_identifier(scheme: str, id: str) -> Identifier:
    """The normalised identifier, or ``RuleBroken`` saying what the scheme expects."""
    code = scheme.strip().upper()
    spec = SCHEMES.get(code)
    if spec is None:
        if code == OCDS_PARTY:
            return Identifier(scheme=OCDS_PARTY, id=_ocds_party(id))
        why = ""
        if _ORG_ID.fullmatch(scheme.strip()):
            if code[:2] not in ORG_ID_PREFIXES:
                why = f" ({code[:2]} is not an ISO 3166-1 country code, XI, XM or ZZ)"
            elif len(code) > SCHEME_MAX:
                why = f" (a scheme has at most {SCHEME_MAX} characters)"
            else:
                return Identifier(scheme=code, id=_kept_as_given(code, id, ORG_ID_MAX))
        raise RuleBroken(
            f"unknown identifier scheme {scheme!r}{why}; accepted: {accepted_schemes()}",
            "scheme",
        )
    value = spec.normalise(id)
    if not spec.pattern.match(value):
        raise RuleBroken(
            f"{id!r} is not a valid {spec.code} ({spec.register}) identifier; "
            f"expected the form {spec.example}",
            "id",
        )
    return Identifier(scheme=spec.code, id=value)
