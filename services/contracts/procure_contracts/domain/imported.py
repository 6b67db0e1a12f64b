"""What an OCDS import made: the mark every imported aggregate carries.

Imports are an explicit path (``admin``), not the guarded transitions: an imported tender, lot,
award, contract or milestone keeps the state its publisher gave it, and says where it came from
(the import's ``source``, the process's ``ocid``, the publisher's id of the object within the
process). An imported award was not checked for eligibility: the mark records that.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = ["Imported"]


class Imported(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    source: str  # what the import was told, e.g. the file's name
    ocid: str  # the publisher's contracting process
    # The publisher's id of the object in that process; none for what an import made to hold
    # the publisher's data (the one lot of a process published without lots, the milestone of a
    # transaction that names none), which the export never publishes.
    ocds_id: str | None = None
    # A contract's: the award its publisher named (awardID), kept as said. A contract resting
    # on no award of its process is left out of the export: OCDS requires its award.
    award_ocds_id: str | None = None
    # The date-times its publisher wrote where we keep a day (a contract's period, a
    # milestone's due date), by their OCDS path: the export gives them back as written.
    instants: dict[str, datetime] = {}
    # What its publisher said that we have no field for, by OCDS path (a tender's
    # mainProcurementCategory, an award's title): the export gives it back.
    said: dict[str, str] = {}
    at: datetime  # when it was (last) imported
