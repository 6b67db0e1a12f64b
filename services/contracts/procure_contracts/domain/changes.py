"""What a PATCH changes (the fields a changes Struct sets to a new value, named as the API
names them), and words for the messages of the rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

import msgspec

from procure_shared.errors import Conflict, RuleBroken

__all__ = ["a", "camel", "changed_fields", "not_blank", "refused"]


def changed_fields(before: msgspec.Struct, changes: msgspec.Struct) -> dict[str, object]:
    """The fields of ``changes`` that are set and differ from ``before``."""
    return {
        name: value
        for name in changes.__struct_fields__
        if (value := getattr(changes, name)) is not msgspec.UNSET and value != getattr(before, name)
    }


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def a(word: str) -> str:
    """``word`` with its indefinite article: "an awarded lot", "a draft tender"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


Status = TypeVar("Status", bound=str)


def refused(message: str, status: Status, moves: Mapping[Status, Sequence[str]]) -> Conflict:
    """The 409 of a state machine: what cannot be done, the status it is in, where it may go."""
    return Conflict(message, current=status, allowed=moves[status])


def not_blank(value: str, field: str) -> str:
    """``value`` without its surrounding spaces; 422 on ``field`` if nothing is left."""
    if not value.strip():
        raise RuleBroken(f"{field} must not be blank", field)
    return value.strip()
