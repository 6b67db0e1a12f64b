"""The audit trail of a registry record, as its reader may see it: an entry made by another
buyer's actor names the actor only as "another buyer" (no subject, roles, buyer or correlation
id) and keeps, before and after, only the record's own fields, the facts every buyer shares.
The reader's own buyer's entries, and those of actors of no buyer (the system's watches, an
admin without a buyer), stay as they are; an admin sees every entry as it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from procure_providers.domain.accreditations import Accreditation
from procure_providers.domain.buyers import ANOTHER_BUYER, Who
from procure_providers.domain.exclusions import Exclusion
from procure_providers.domain.providers import Provider
from procure_shared.db.audit import AuditEntry, history
from procure_shared.db.postgres import Connection

__all__ = ["RECORDS", "as_seen", "history_of"]

# The registry's records by audit resource type.
RECORDS: dict[str, type[msgspec.Struct]] = {
    "provider": Provider,
    "accreditation": Accreditation,
    "exclusion": Exclusion,
}


def _shared_fields(record: type[msgspec.Struct]) -> frozenset[str]:
    return frozenset(f.encode_name for f in msgspec.structs.fields(record))


_SHARED = {kind: _shared_fields(record) for kind, record in RECORDS.items()}


def _facts(state: Any, shared: frozenset[str]) -> Any:
    if not isinstance(state, Mapping):
        return None  # none (a creation's before), or not a record's state: nothing to show
    return {key: value for key, value in state.items() if key in shared}


def as_seen(entry: AuditEntry, who: Who) -> AuditEntry:
    """``entry`` as ``who`` may see it."""
    if not who.foreign(entry.buyer_id):
        return entry
    shared = _SHARED.get(entry.resource_type, frozenset())
    return msgspec.structs.replace(
        entry,
        actor=ANOTHER_BUYER,
        actor_roles=[],
        buyer_id=None,
        before=_facts(entry.before, shared),
        after=_facts(entry.after, shared),
        correlation_id=None,
    )


async def history_of(
    conn: Connection, resource_type: str, resource_id: str, who: Who
) -> list[AuditEntry]:
    return [as_seen(e, who) for e in await history(conn, resource_type, resource_id)]
