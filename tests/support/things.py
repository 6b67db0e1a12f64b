"""A test-only resource ("things") built the way services build theirs: a guarded controller,
a transaction per request, an audit row and an outbox event per change, buyer scoping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody

from procure_shared.clock import Clock
from procure_shared.db.audit import record_change
from procure_shared.events import Envelope
from procure_shared.http import (
    Principal,
    ProblemException,
    Role,
    Transaction,
    problem_responses,
    requires,
)
from procure_shared.http.preconditions import (
    IdempotencyKey,
    IfMatch,
    etag,
    expected_version,
    idempotent,
)
from procure_shared.logs import correlation_id
from procure_shared.messaging import outbox
from tests.support.producer import ThingChanged

CREATE_THINGS = """
CREATE TABLE IF NOT EXISTS things (
    id uuid PRIMARY KEY, buyer_id text NOT NULL, name text NOT NULL,
    version integer NOT NULL, created_at timestamptz NOT NULL
)
"""


class ThingCreate(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    estimated_value: Annotated[str, msgspec.Meta(pattern=r"^\d+\.\d{2}$")] | None = None


class ThingRename(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Thing(msgspec.Struct, rename="camel"):
    id: str
    buyer_id: str
    name: str
    version: int
    created_at: datetime


class ThingsController(Controller):
    path = "/v1/things"
    tags = ["things"]

    @post(
        opt=requires(Role.COMMERCIAL),
        responses=problem_responses(400, 401, 403, 409, 422),
        status_code=201,
    )
    async def create(
        self,
        data: JSONBody[ThingCreate],
        conn: Transaction,
        state: State,
        request: Request[Any, Any, Any],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        principal: Principal = request.user
        clock: Clock = state.clock
        return await idempotent(
            conn,
            request,
            owner=principal.sub,
            key=idempotency_key,
            now=clock.now(),
            create=lambda: self._create(data, conn, principal, clock),
            headers=lambda thing: {"ETag": etag(thing.version)},
        )

    async def _create(
        self, data: ThingCreate, conn: Transaction, principal: Principal, clock: Clock
    ) -> Thing:
        if principal.buyer is None:
            raise ProblemException(422, "an admin must name the buyer (not supported here)")
        thing = Thing(
            id=str(uuid.uuid4()),
            buyer_id=principal.buyer,
            name=data.name,
            version=1,
            created_at=clock.now(),
        )
        await conn.execute(
            "INSERT INTO things VALUES ($1, $2, $3, $4, $5)",
            thing.id,
            thing.buyer_id,
            thing.name,
            thing.version,
            thing.created_at,
        )
        await record_change(
            conn,
            actor=principal.as_actor(),
            at=thing.created_at,
            action="thing.created",
            resource_type="thing",
            resource_id=thing.id,
            before=None,
            after=thing,
        )
        await outbox.add(
            conn,
            Envelope.new(
                service="tests",
                type="tests.thing.changed",
                subject=thing.id,
                time=thing.created_at,
                sequence=1,
                data=ThingChanged(thing_id=thing.id, version=1),
                buyer_id=thing.buyer_id,
            ),
            correlation_id=correlation_id.get(),
        )
        return thing

    @patch(
        "/{thing_id:uuid}",
        opt=requires(Role.COMMERCIAL),
        responses=problem_responses(400, 401, 403, 404, 412, 428),
    )
    async def rename(
        self,
        thing_id: FromPath[uuid.UUID],
        data: JSONBody[ThingRename],
        conn: Transaction,
        request: Request[Any, Any, Any],
        if_match: IfMatch = None,
    ) -> Response[Thing]:
        principal: Principal = request.user
        version = expected_version(if_match)
        row = await conn.fetchrow(
            "UPDATE things SET name = $3, version = version + 1"
            " WHERE id = $1 AND buyer_id = $2 AND version = $4 RETURNING *",
            thing_id,
            principal.buyer,
            data.name,
            version,
        )
        if row is None:
            exists = await conn.fetchval(
                "SELECT version FROM things WHERE id = $1 AND buyer_id = $2",
                thing_id,
                principal.buyer,
            )
            if exists is None:
                raise ProblemException(404, f"no thing {thing_id}")
            raise ProblemException(412, f"thing {thing_id} is at version {exists}, not {version}")
        thing = _thing(row)
        return Response(thing, headers={"ETag": etag(thing.version)})

    @get(
        "/{thing_id:uuid}",
        opt=requires(Role.VIEWER),
        responses=problem_responses(401, 403, 404),
    )
    async def read(
        self, thing_id: FromPath[uuid.UUID], conn: Transaction, request: Request[Any, Any, Any]
    ) -> Thing:
        principal: Principal = request.user
        row = await conn.fetchrow(
            "SELECT * FROM things WHERE id = $1 AND ($2::text IS NULL OR buyer_id = $2)",
            thing_id,
            None if principal.is_admin else principal.buyer,
        )
        if row is None:
            raise ProblemException(404, f"no thing {thing_id}")
        return _thing(row)


def _thing(row: Any) -> Thing:
    return Thing(
        id=str(row["id"]),
        buyer_id=row["buyer_id"],
        name=row["name"],
        version=row["version"],
        created_at=row["created_at"],
    )
