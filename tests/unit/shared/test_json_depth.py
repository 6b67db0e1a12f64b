"""The depth of a JSON body, measured without decoding it: exact for valid JSON, whatever its
strings hold; and bounded for malformed JSON, so that no decoder recurses far."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procure_shared.http.bodies import MAX_DEPTH, nested_deeper


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def arrays(n: int) -> bytes:
    return b"[" * n + b"]" * n


def objects(n: int) -> bytes:
    return b'{"a":' * n + b"1" + b"}" * n


def mixed(n: int) -> bytes:
    """Objects holding arrays holding objects..., ``n`` levels in all."""
    opened, closed = b"", b""
    for level in range(n):
        if level % 2:
            opened, closed = opened + b'[1,"]",', b"]" + closed
        else:
            opened, closed = opened + b'{"k[":', b"}" + closed
    return opened + b"null" + closed


@pytest.mark.parametrize("shape", [arrays, objects, mixed])
def test_nesting_up_to_the_limit_passes_and_one_level_more_does_not(shape: Any) -> None:
    assert depth(msgspec.json.decode(shape(MAX_DEPTH))) == MAX_DEPTH
    assert not nested_deeper(shape(MAX_DEPTH))
    assert nested_deeper(shape(MAX_DEPTH + 1))
    assert nested_deeper(shape(3000))


@pytest.mark.parametrize(
    "body",
    [
        b'["' + b"[" * 100 + b'"]',
        b'["' + b"{" * 100 + b'", "' + b"]" * 100 + b'"]',
        b'["\\"' + b"[" * 100 + b'"]',
        b'{"a\\\\\\"[[[": "' + b"[" * 100 + b'"}',
        b'"\\u005b' + b"[" * 100 + b'"',
        b"12",
        b"",
    ],
)
def test_brackets_inside_strings_do_not_count(body: bytes) -> None:
    msgspec.json.decode(body or b"null")
    assert not nested_deeper(body)


def test_an_escaped_backslash_ends_before_the_closing_quote() -> None:
    # The string is "\\": the brackets after it are structure.
    body = b'["\\\\", ' + arrays(MAX_DEPTH) + b"]"
    assert depth(msgspec.json.decode(body)) == MAX_DEPTH + 1
    assert nested_deeper(body)


@pytest.mark.parametrize(
    "body",
    [b"[" * 3000, b"{" * 3000, b'{"a":' * 3000, b"[" * 3000 + b"]" * 10, b"]" * 10 + b"[" * 100],
)
def test_many_openings_left_unclosed_count_as_too_deep(body: bytes) -> None:
    assert nested_deeper(body)


@pytest.mark.parametrize("body", [b"[[[]", b"]]]", b"[}", b'["abc', b"{[}]", b"\\" * 5])
def test_shallow_malformed_json_is_left_to_the_decoder(body: bytes) -> None:
    assert not nested_deeper(body)


_text = st.text(alphabet=st.sampled_from('ab[]{}"\\/\n\u00e9'), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_json, st.integers(min_value=0, max_value=8))
def test_the_depth_is_exact_for_any_json_with_any_strings(value: Any, limit: int) -> None:
    assert nested_deeper(msgspec.json.encode(value), limit) == (depth(value) > limit)
