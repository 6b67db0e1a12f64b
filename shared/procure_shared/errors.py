"""Domain errors, shared by every service's domain: pure exceptions (no framework), which the
HTTP edge answers as problem+json (``procure_shared.http.domain``): 404, 409, 412, 422, 503."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "Conflict",
    "DomainError",
    "Duplicate",
    "NotFound",
    "RuleBroken",
    "StaleVersion",
    "Unavailable",
]


class DomainError(Exception):
    """``errors`` names the fields at fault, as (field, message) pairs."""

    def __init__(self, message: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.errors = tuple(errors)


class NotFound(DomainError):
    """Nothing by that id, or nothing the caller may see (404)."""


class RuleBroken(DomainError):
    """A well-formed request that breaks a rule (422); ``field`` names the culprit."""

    def __init__(
        self, message: str, field: str | None = None, errors: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message, errors or ([(field, message)] if field else ()))
        self.field = field


class Conflict(DomainError):
    """An illegal transition (409) from ``current`` state; ``allowed`` names where it could go."""

    def __init__(self, message: str, current: str, allowed: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.current = current
        self.allowed = tuple(allowed)


class Duplicate(DomainError):
    """Something that must be unique already exists (409); ``title`` says what."""

    def __init__(self, message: str, title: str, errors: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message, errors)
        self.title = title


class StaleVersion(DomainError):
    """The client's If-Match names a version that is no longer current (412)."""

    def __init__(self, resource: str, expected: int, current: int) -> None:
        super().__init__(
            f"{resource} is at version {current}, not {expected}: read it again and retry"
        )
        self.current = current


class Unavailable(DomainError):
    """Another service needed for the answer did not answer in time (503); nothing changed."""
