"""The two request preconditions of the HTTP conventions.

``If-Match`` on updates and transitions: the resource's ETag is its version (``"17"``); a
missing header is 428, a stale one 412.

``Idempotency-Key`` on creating POSTs: the first request's response is saved with the change, in
the same transaction; a repeat after completion gets that response again, a repeat while the
first is in flight gets 409, the same key with another body 422. Keys are per user and kept for
24 hours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.params import HeaderParameter

from procure_shared.db.postgres import Connection
from procure_shared.db.sqlfiles import load_queries
from procure_shared.http.problems import ProblemException

__all__ = [
    "IDEMPOTENCY_RETENTION",
    "IdempotencyKey",
    "IfMatch",
    "etag",
    "expected_version",
    "idempotent",
]

# Handler parameter annotations: ``key: IdempotencyKey = None``, ``if_match: IfMatch = None``.
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", description="Makes a creating POST safe to retry."),
]
IfMatch = Annotated[
    str | None, HeaderParameter(name="If-Match", description="The resource's current ETag.")
]

Q = load_queries(Path(__file__).parent / "sql" / "idempotency.sql")
IDEMPOTENCY_RETENTION = timedelta(hours=24)
_encoder = msgspec.json.Encoder()
_headers_decoder = msgspec.json.Decoder(dict[str, str])


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int:
    """The version a client's ``If-Match`` names; 428 when missing, 412 when unusable."""
    if if_match is None or not if_match.strip():
        raise ProblemException(428, "this change needs If-Match with the resource's ETag")
    value = if_match.strip()
    if value.startswith("W/"):
        raise ProblemException(412, "If-Match needs the strong ETag, not a weak one")
    try:
        return int(value.strip('"'))
    except ValueError:
        raise ProblemException(412, f"If-Match {value} is not an ETag of this resource") from None


def _fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def idempotent(
    conn: Connection,
    request: Request[Any, Any, Any],
    *,
    owner: str,
    key: str | None,
    now: datetime,
    create: Callable[[], Awaitable[Any]],
    status: int = 201,
    headers: Callable[[Any], dict[str, str]] | None = None,
) -> Response[Any]:
    """Run ``create`` at most once per (owner, key); ``conn`` is the request's transaction.
    The response carries the encoded body (annotate the handler with the model it encodes)."""
    if key is None or not (0 < len(key) <= 255):
        raise ProblemException(400, "this request needs an Idempotency-Key header (1-255 chars)")
    fingerprint = _fingerprint(await request.body())
    method, path = request.method, request.url.path
    turn = await conn.fetchrow(Q.claim, owner, key, method, path, fingerprint)
    assert turn is not None
    if not turn["mine"]:
        raise ProblemException(
            409, f"a request with Idempotency-Key {key!r} is still being processed"
        )
    claimed = turn["claimed"]
    if not claimed:
        expired = await conn.execute(Q.take_over_expired, owner, key, now - IDEMPOTENCY_RETENTION)
        if expired == "DELETE 1":
            claimed = await conn.fetchval(Q.claim_again, owner, key, method, path, fingerprint)
    if not claimed:
        return await _replay(conn, owner, key, method, path, fingerprint)
    result = await create()
    body = _encoder.encode(result)
    extra = headers(result) if headers else {}
    await conn.execute(Q.save, owner, key, status, body, _encoder.encode(extra).decode())
    return Response(body, status_code=status, media_type="application/json", headers=extra)


async def _replay(
    conn: Connection, owner: str, key: str, method: str, path: str, fingerprint: str
) -> Response[bytes]:
    saved = await conn.fetchrow(Q.saved, owner, key)
    if saved is None:  # the claim conflicted, so the row existed a moment ago
        raise ProblemException(409, "the Idempotency-Key was released; retry")
    if (saved["method"], saved["path"], saved["fingerprint"]) != (method, path, fingerprint):
        raise ProblemException(
            422, f"Idempotency-Key {key!r} was used for a different request; use a new key"
        )
    return Response(
        bytes(saved["body"]),
        status_code=saved["status"],
        media_type="application/json",
        headers={**_headers_decoder.decode(saved["headers"]), "Idempotent-Replayed": "true"},
    )
