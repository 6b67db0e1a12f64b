"""What a PATCH changes (the fields a changes Struct sets to a new value, named as the API
names them), and words for the messages of the rules."""

from __future__ import annotations

import msgspec

__all__ = ["a", "camel", "changed_fields"]


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
