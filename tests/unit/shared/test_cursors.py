"""Cursors: what a page hands out is taken back as it was; anything else is the 400 problem,
never a key the database would choke on."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import msgspec
import pytest

from procure_shared.http.pagination import decode_cursor, encode_cursor, keyset_after
from procure_shared.http.problems import ProblemException
from procure_shared.messaging.feed import decode_position, encode_position

ID = uuid.UUID("0b4a3c52-93a5-4d6c-9a1a-5e7a0c1f2d3e")
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _raw(json: str) -> str:
    return base64.urlsafe_b64encode(json.encode()).decode().rstrip("=")


def _refused(cursor: str, arity: int, kind: Any = None) -> bool:
    with pytest.raises(ProblemException) as refused:
        decode_cursor(cursor, arity, kind)
    return refused.value.status == 400 and refused.value.errors is not None


@pytest.mark.parametrize(
    ("key", "kind", "expected"),
    [
        ([AT, ID], tuple[datetime, uuid.UUID], (AT, ID)),
        ([2**63 - 1, -(2**63)], tuple[int, int], (2**63 - 1, -(2**63))),
        (["Barnardo's", str(ID)], None, ["Barnardo's", str(ID)]),
        ([7], tuple[int], (7,)),
    ],
)
def test_a_cursor_a_page_handed_out_decodes_to_the_key_it_was_made_of(
    key: list[Any], kind: Any, expected: Any
) -> None:
    assert decode_cursor(encode_cursor(key), len(key), kind) == expected


def test_an_instant_keeps_its_offset_and_moment() -> None:
    east = AT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    decoded = keyset_after(encode_cursor([east, ID]))
    assert decoded == (AT, ID)
    assert decoded[0].utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("json", "kind"),
    [
        ("[null, null]", None),
        ("[null, null]", tuple[int, int]),
        ("[99999999999999999999, 1]", tuple[int, int]),
        ("[9223372036854775808, 1]", tuple[int, int]),
        ("[-9223372036854775809, 1]", tuple[int, int]),
        ("[99999999999999999999, 1]", None),
        ('["5", 2]', tuple[int, int]),
        ("[1.0, 2]", tuple[int, int]),
        ("[true, 2]", tuple[int, int]),
        ("[[1], 2]", None),
        ('[{"a": 1}, 2]', None),
        ("[1.5, 2]", None),
        ('["x", "y"]', tuple[datetime, uuid.UUID]),
        (f'["2026-11-23T09:00:00", "{ID}"]', tuple[datetime, uuid.UUID]),
        (f'["0001-01-01T00:00:00+14:00", "{ID}"]', tuple[datetime, uuid.UUID]),
        (f'["9999-12-31T23:59:59-14:00", "{ID}"]', tuple[datetime, uuid.UUID]),
        ("[-1]", tuple[int, int]),
        ("[1, 2, 3]", tuple[int, int]),
        ("[1, 2, 3]", None),
        ('{"a": 1, "b": 2}', None),
        ("[" * 700, None),
        ("not json", None),
    ],
)
def test_a_key_the_database_cannot_take_is_the_400_problem(json: str, kind: Any) -> None:
    assert _refused(_raw(json), 2, kind)


@pytest.mark.parametrize("cursor", ["", "!!!!", "W251bGwsIG51bGxd!", "WzEsMl0=====", "W"])
def test_a_cursor_that_is_no_base64url_json_is_the_400_problem(cursor: str) -> None:
    assert _refused(cursor, 2, tuple[int, int])


def test_a_kind_may_bound_its_integers_more_narrowly() -> None:
    positive = tuple[Annotated[int, msgspec.Meta(ge=1)]]
    assert decode_cursor(encode_cursor([1]), 1, positive) == (1,)
    assert _refused(encode_cursor([0]), 1, positive)


def test_the_feed_takes_every_transaction_id_an_xid8_holds_and_no_other() -> None:
    last = (2**64 - 1, 2**63 - 1)
    assert decode_position(encode_position(last)) == last
    assert decode_position(None) == (0, 0)
    for json in ["[18446744073709551616, 1]", "[1, 9223372036854775808]", "[-1, 0]", "[0, -1]"]:
        with pytest.raises(ProblemException):
            decode_position(_raw(json))
    with pytest.raises(ProblemException):
        decode_position("")


def test_an_empty_cursor_is_no_cursor_a_list_handed_out() -> None:
    assert keyset_after(None) is None
    with pytest.raises(ProblemException):
        keyset_after("")
