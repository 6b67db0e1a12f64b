"""JSON request bodies nested deeper than ``MAX_DEPTH`` are refused (400) before they are decoded.

msgspec's decoder recurses once per level and raises ``RecursionError`` near Python's limit
(about 1,000 levels; Litestar lets it through as a 500), and what reads a decoded document
(the OCDS import's schema check and merge) recurses too. No document this API takes comes near
64 levels (an OCDS release is about 8 deep).

The depth is measured without a Python loop over the bytes: C-level bytes operations (``in``,
``replace``, ``translate``, ``count``) reduce the body to its brackets and then peel one level
per pass. On a 5 MB OCDS release package (1,474 synthetic releases) that costs about 8 ms
(13 ms for one full of escapes), against 28 to 45 ms for msgspec to decode it.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.types import Empty

from procure_shared.http.problems import FieldError, ProblemException

__all__ = ["MAX_DEPTH", "ProcureRequest", "nested_deeper", "too_deep"]

MAX_DEPTH = 64

# Every byte but the structural ones a depth depends on: brackets and string quotes.
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')
_OBJECTS_AS_ARRAYS = bytes.maketrans(b"{}", b"[]")
_STRING = re.compile(rb'"[^"]*"')
_ESCAPE = re.compile(rb"\\.", re.DOTALL)


def nested_deeper(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text ``body`` nests arrays and objects more than ``limit`` deep.

    Exact for valid JSON. For malformed JSON it answers so that a decoder never descends far:
    more than ``limit`` openings left unclosed count as too deep; anything else is left to the
    decoder to refuse."""
    # Escapes first (paired left to right, as a decoder reads them), so that only a string's
    # own quotes delimit it. A regular expression, as bytes.replace is slower at this.
    if b"\\" in body:
        body = _ESCAPE.sub(b"", body)
    # Brackets and quotes only; then the strings (and the brackets inside them) go: most are
    # empty by now, and dropping two adjacent quotes at most joins two strings.
    structure = body.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = _STRING.sub(b"", structure)
    # One kind of bracket (validity is the decoder's business): each pass peels one level.
    structure = structure.translate(_OBJECTS_AS_ARRAYS)
    for _ in range(limit):
        peeled = structure.replace(b"[]", b"")
        if len(peeled) == len(structure):
            break  # nothing nested is left; the rest (if any) is unbalanced
        structure = peeled
    else:
        if b"[]" in structure:
            return True
    return structure.count(b"[") > limit


def too_deep() -> ProblemException:
    return ProblemException(
        400,
        f"The JSON body nests arrays and objects more than {MAX_DEPTH} deep.",
        title="Invalid request",
        errors=[FieldError(field="body", message=f"at most {MAX_DEPTH} levels of nesting")],
    )


class ProcureRequest(Request[Any, Any, Any]):
    """The request every service's handlers get: its JSON body is checked for depth before it
    is decoded (Litestar decodes every JSON ``data`` through ``json()``)."""

    async def json(self) -> Any:
        if self._json is Empty and self._connection_state.json is Empty:
            body = await self.body()
            if body and nested_deeper(body):
                raise too_deep()
        return await super().json()
