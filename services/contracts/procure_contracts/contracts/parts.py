"""What a contract's parts (its milestones and KPIs) share: each is changed with its contract's
row locked too, so the contract cannot close (or be signed with a count of KPIs that is no
longer true) meanwhile."""

from __future__ import annotations

from typing import Protocol, TypeVar

from procure_contracts.contracts.rules import Contract
from procure_contracts.contracts.usecases import get_contract
from procure_contracts.usecases.context import Who
from procure_shared.db.changes import check_version, found
from procure_shared.db.postgres import Connection

__all__ = ["with_contract"]


class _Part(Protocol):
    @property
    def contract_id(self) -> str: ...
    @property
    def version(self) -> int: ...


P = TypeVar("P", bound=_Part)


async def with_contract(
    conn: Connection,
    part: P | None,
    what: str,
    part_id: str,
    expected_version: int | None,
    who: Who,
) -> tuple[P, Contract]:
    """``part`` (loaded ``FOR UPDATE``; ``None``: not found, or another buyer's) at the version
    the caller expects, and its contract, locked. The contract is the part's buyer's: an admin
    acting for every buyer sees it too."""
    before = found(part, what, part_id)
    check_version(f"{what} {part_id}", before.version, expected_version)
    contract = await get_contract(conn, before.contract_id, who=who, for_update=True)
    return before, contract
