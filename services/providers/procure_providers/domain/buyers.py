"""The registry is shared by every buyer, but what one buyer did in it is that buyer's own: who
recorded an accreditation or an exclusion (and so may change it), who changed a record (its
history), and a provider's contracts with the buyer (its portfolio)."""

from __future__ import annotations

import msgspec

__all__ = ["ANOTHER_BUYER", "Who"]

# How an entry of another buyer's actor names its actor.
ANOTHER_BUYER = "another buyer"


class Who(msgspec.Struct, frozen=True, kw_only=True):
    """The buyer a request speaks for (None: none, as an admin's token may), and whether it is
    an admin's, who sees and may change everything."""

    buyer: str | None
    admin: bool = False

    def owns(self, buyer_id: str | None) -> bool:
        """Whether what ``buyer_id`` recorded (None: no buyer did) is this reader's own: its
        buyer's, or anything for an admin. What no buyer recorded is an admin's only."""
        return self.admin or (buyer_id is not None and buyer_id == self.buyer)

    def foreign(self, buyer_id: str | None) -> bool:
        """Whether an actor of ``buyer_id`` is another buyer's (an actor of no buyer, as the
        system's watches or an admin without a buyer, is no buyer's)."""
        return not self.admin and buyer_id is not None and buyer_id != self.buyer
