"""RFC 9457 problem details for every error response, documented in the OpenAPI document.

A body that does not decode is 400 with field-level ``errors``; a rule broken by a well-formed
request is 422; an illegal state transition 409 naming the current state and the allowed ones;
a stale ``If-Match`` 412; a missing one 428. PostgreSQL or NATS unavailable is 503 with
``Retry-After``. Unexpected errors are 500 without internals.
"""

from __future__ import annotations

import logging
import socket
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
import nats.errors
import nats.js.errors
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from procure_shared.logs import correlation_id

__all__ = [
    "PROBLEM_DESCRIPTIONS",
    "PROBLEM_JSON",
    "RETRY_AFTER",
    "FieldError",
    "ProblemDetails",
    "ProblemException",
    "dependency_down",
    "exception_handlers",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"
# What a client waits before trying again when a dependency is down (any 503).
RETRY_AFTER = "1"
log = logging.getLogger("procure.http")


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class ProblemDetails(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    title: str
    status: int
    type: str = "about:blank"
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    current_state: str | None = None
    allowed_states: list[str] | None = None
    correlation_id: str | None = None


class ProblemException(Exception):
    """Raise from a controller to answer with a problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        current_state: str | None = None,
        allowed_states: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.errors = errors
        self.current_state = current_state
        self.allowed_states = allowed_states
        self.headers = headers or {}


def _respond(
    request: Request[Any, Any, Any], problem: ProblemDetails, headers: dict[str, str] | None = None
) -> Response[ProblemDetails]:
    if problem.status == 503 and not any(h.lower() == "retry-after" for h in headers or {}):
        # Every 503 says when to try again, whichever layer answered it.
        headers = {**(headers or {}), "Retry-After": RETRY_AFTER}
    return Response(
        content=problem,
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def problem_response(request: Request[Any, Any, Any], exc: ProblemException) -> Response[Any]:
    return _respond(
        request,
        ProblemDetails(
            title=exc.title,
            status=exc.status,
            detail=exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            current_state=exc.current_state,
            allowed_states=exc.allowed_states,
            correlation_id=correlation_id.get(),
        ),
        exc.headers,
    )


def _field_errors(extra: Any) -> list[FieldError] | None:
    if not isinstance(extra, list):
        return None
    errors = []
    for item in extra:
        if isinstance(item, dict):
            field = str(item.get("key") or item.get("source") or "body")
            errors.append(FieldError(field=field, message=str(item.get("message", ""))))
    return errors or None


def _bad_request(
    request: Request[Any, Any, Any], detail: str, errors: list[FieldError] | None
) -> Response[Any]:
    return _respond(
        request,
        ProblemDetails(
            title="Invalid request",
            status=400,
            detail=detail,
            instance=request.url.path,
            errors=errors,
            correlation_id=correlation_id.get(),
        ),
    )


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    detail = exc.detail if exc.detail else "The request could not be decoded."
    if detail.startswith("Validation failed for "):
        # Litestar names the whole URL; its query can be long, and the errors say what failed.
        detail = f"Validation failed for {request.method} {request.url.path}"
    return _bad_request(request, detail, _field_errors(exc.extra))


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    return _respond(
        request,
        ProblemDetails(
            # Every body that does not decode reads the same, whichever layer noticed it.
            title="Invalid request" if status == 400 else HTTPStatus(status).phrase,
            status=status,
            detail=exc.detail or HTTPStatus(status).description,
            instance=request.url.path,
            errors=_field_errors(exc.extra) if status == 400 else None,
            correlation_id=correlation_id.get(),
        ),
        dict(exc.headers) if exc.headers else None,
    )


def _unstorable_text(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # A last line of defence: request schemas refuse NUL and control characters, but any text
    # PostgreSQL cannot store is the client's error, not ours.
    return _bad_request(
        request, "The request contains characters that cannot be stored (such as NUL).", None
    )


# PostgreSQL not reachable, not accepting connections, or gone during the request; and NATS,
# when a handler asks another service over it. A timeout is one too: a pool that cannot lend a
# connection in time, a statement past its timeout, a request nobody answered in time.
_DEPENDENCY_DOWN: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,  # asyncio's and nats-py's included
    socket.gaierror,
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError, ConnectionFailureError
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # What asyncpg raises when the connection breaks in the middle of an operation.
    asyncpg.InternalClientError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.ServiceUnavailableError,
    nats.js.errors.NoStreamResponseError,
)
# The InterfaceErrors that mean a connection or the pool is gone (others are our bugs).
_CLOSED = ("connection is closed", "pool is closed", "pool is closing")
# The OSErrors that are not about the network (a file missing is our bug).
_LOCAL = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def dependency_down(exc: BaseException) -> bool:
    """Whether ``exc`` says PostgreSQL or NATS is unavailable (try again later), rather than
    that the request or the code is wrong."""
    if isinstance(exc, _DEPENDENCY_DOWN):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        return str(exc) in _CLOSED
    # asyncpg reports a refused connection to several addresses (localhost: ::1 and
    # 127.0.0.1) as a bare OSError ("Multiple exceptions: ...").
    return isinstance(exc, OSError) and not isinstance(exc, _LOCAL)


def _dependency_down(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning(
        "a dependency is unavailable",
        extra={"path": request.url.path, "error": f"{type(exc).__name__}: {exc}"},
    )
    return _respond(
        request,
        ProblemDetails(
            title="Service Unavailable",
            status=503,
            detail="A service this request needs is not reachable right now; try again shortly.",
            instance=request.url.path,
            correlation_id=correlation_id.get(),
        ),
        {"Retry-After": RETRY_AFTER},
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if dependency_down(exc):
        return _dependency_down(request, exc)
    log.exception("unhandled error", extra={"path": request.url.path})
    return _respond(
        request,
        ProblemDetails(
            title="Internal Server Error",
            status=500,
            detail="An unexpected error occurred; it has been logged with the correlation id.",
            instance=request.url.path,
            correlation_id=correlation_id.get(),
        ),
    )


exception_handlers: ExceptionHandlersMap = {
    ProblemException: problem_response,
    ValidationException: _validation,
    HTTPException: _http,
    asyncpg.CharacterNotInRepertoireError: _unstorable_text,
    asyncpg.UntranslatableCharacterError: _unstorable_text,
    Exception: _unexpected,
}

PROBLEM_DESCRIPTIONS = {
    400: "The request could not be decoded (bad JSON, wrong type, unknown field).",
    401: "No valid bearer token.",
    403: "The token's roles do not allow this.",
    404: "No such resource (or it belongs to another buyer).",
    409: "The resource is not in a state that allows this, or a request with this key is "
    "in flight.",
    412: "If-Match does not match the resource's current ETag.",
    413: "The request body is too large.",
    422: "The request is well-formed but breaks a rule.",
    428: "If-Match is required.",
    429: "Too many requests for this token; try again after Retry-After seconds.",
    503: "A dependency (the database, the message bus, another service) is not reachable or "
    "did not answer in time; try again after Retry-After seconds.",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI response documentation for the problem statuses a route can return."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            media_type=PROBLEM_JSON,
            description=PROBLEM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        )
        for status in statuses
    }
