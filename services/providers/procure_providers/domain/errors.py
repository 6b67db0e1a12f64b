"""Domain errors: the edges map them to problem+json (404, 409, 422)."""

from __future__ import annotations

__all__ = [
    "Conflict",
    "DomainError",
    "DuplicateIdentifier",
    "NotFound",
    "RuleBroken",
    "StaleVersion",
]


class DomainError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    pass


class RuleBroken(DomainError):
    """A well-formed request that breaks a rule (422); ``field`` names the culprit."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(DomainError):
    """An illegal transition (409) from ``current`` state; ``allowed`` names where it could go."""

    def __init__(self, message: str, current: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.current = current
        self.allowed = allowed


class DuplicateIdentifier(DomainError):
    """An identifier already belongs to another provider (409 naming it)."""

    def __init__(self, scheme: str, id: str, provider_id: str, provider_name: str) -> None:
        super().__init__(
            f"identifier {scheme}:{id} already belongs to provider {provider_id} ({provider_name})"
        )
        self.scheme = scheme
        self.id = id
        self.provider_id = provider_id
        self.provider_name = provider_name


class StaleVersion(DomainError):
    """The client's If-Match names a version that is no longer current (412)."""

    def __init__(self, resource: str, expected: int, current: int) -> None:
        super().__init__(
            f"{resource} is at version {current}, not {expected}: read it again and retry"
        )
        self.current = current
