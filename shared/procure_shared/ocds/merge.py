"""Compiling an OCDS process's releases into its compiled release, by the OCDS merge rules.

The rules come from the release schema itself (``omitWhenMerged``, ``wholeListMerge``, arrays
of objects merged by ``id``), here the local 1.1.5 schema with our extensions applied; the
merging is the Open Contracting Partnership's reference implementation (``ocdsmerge``), given
that schema as a document so that nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import ocdsmerge

__all__ = ["Compiler"]


class Compiler:
    def __init__(self, release_schema: Mapping[str, Any]) -> None:
        self._merger = ocdsmerge.Merger(schema=dict(release_schema))

    def compile(self, releases: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """The compiled release of one process's releases, merged in date order (ties keep
        their given order)."""
        compiled: dict[str, Any] = self._merger.create_compiled_release([dict(r) for r in releases])
        return compiled
