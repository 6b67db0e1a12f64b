"""What a PATCH changes: the fields a changes Struct sets to a new value, named as the API
names them."""

from __future__ import annotations

import msgspec

__all__ = ["camel", "changed_fields"]


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
