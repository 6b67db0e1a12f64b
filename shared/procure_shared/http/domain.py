"""What every service's controllers share: domain errors as problems, the actor and the clock of
a request, the service's constants, ETags on what is returned, and creating POSTs under an
Idempotency-Key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from litestar import Request, Response

from procure_shared.clock import Clock
from procure_shared.db.audit import Actor
from procure_shared.db.postgres import Connection
from procure_shared.errors import (
    Conflict,
    DomainError,
    Duplicate,
    NotFound,
    StaleVersion,
    Unavailable,
)
from procure_shared.http.auth import Principal
from procure_shared.http.preconditions import etag, idempotent
from procure_shared.http.problems import (
    RETRY_AFTER,
    FieldError,
    ProblemException,
    problem_response,
)

__all__ = [
    "RouteConstant",
    "actor",
    "create_once",
    "domain_problem",
    "now",
    "principal",
    "tagged",
]


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=_Versioned)
C = TypeVar("C")


class RouteConstant(Generic[C]):
    """A constant of the service's app (its options, its rules) that handlers read: set as the
    ``opt`` of the router that serves them, read from the request's route handler. Not a
    dependency: a handler takes at most one (decision 0010)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def opt(self, value: C) -> dict[str, Any]:
        return {self.key: value}

    def of(self, request: Request[Any, Any, Any]) -> C:
        value: C = request.route_handler.opt[self.key]
        return value


def _problem(exc: DomainError) -> ProblemException:
    errors = [FieldError(field=f, message=m) for f, m in exc.errors] or None
    if isinstance(exc, NotFound):
        return ProblemException(404, exc.message)
    if isinstance(exc, StaleVersion):
        return ProblemException(412, exc.message, headers={"ETag": etag(exc.current)})
    if isinstance(exc, Duplicate):
        return ProblemException(409, exc.message, title=exc.title, errors=errors)
    if isinstance(exc, Conflict):
        return ProblemException(
            409, exc.message, current_state=exc.current, allowed_states=list(exc.allowed)
        )
    if isinstance(exc, Unavailable):
        return ProblemException(503, exc.message, headers={"Retry-After": RETRY_AFTER})
    return ProblemException(422, exc.message, errors=errors)


def domain_problem(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return problem_response(request, _problem(exc))


def principal(request: Request[Any, Any, Any]) -> Principal:
    user: Principal = request.user
    return user


def actor(request: Request[Any, Any, Any]) -> Actor:
    return principal(request).as_actor()


def now(request: Request[Any, Any, Any]) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


async def create_once(
    conn: Connection,
    request: Request[Any, Any, Any],
    key: str | None,
    create: Callable[[datetime], Awaitable[V]],
    location: Callable[[V], str],
) -> Response[Any]:
    """A creating POST under its Idempotency-Key: 201 with the ETag and Location of what
    ``create(now)`` made, or the first response again for a repeat."""
    at = now(request)
    return await idempotent(
        conn,
        request,
        owner=principal(request).sub,
        key=key,
        now=at,
        create=lambda: create(at),
        headers=lambda made: {"ETag": etag(made.version), "Location": location(made)},
    )


def tagged(value: V) -> Response[V]:
    """``value`` with its ETag (its version)."""
    return Response(value, headers={"ETag": etag(value.version)})
