"""RFC 9457 problem details for every error response, documented in the OpenAPI document.

A body that does not decode is 400 with field-level ``errors``; a rule broken by a well-formed
request is 422; an illegal state transition 409 naming the current state and the allowed ones;
a stale ``If-Match`` 412; a missing one 428. Unexpected errors are 500 without internals.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from procure_shared.logs import correlation_id

__all__ = [
    "PROBLEM_JSON",
    "FieldError",
    "ProblemDetails",
    "ProblemException",
    "exception_handlers",
    "problem_response",
    "problem_responses",
]

PROBLEM_JSON = "application/problem+json"
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


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
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

_DESCRIPTIONS = {
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
    503: "A dependency did not answer in time.",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI response documentation for the problem statuses a route can return."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
        )
        for status in statuses
    }
