"""The OCDS test data (``tests/data/ocds``: real and sample files, with their provenance),
the schemas the contracts service ships, and what the data's README records about each sample."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from procure_shared.ocds.shapes import Shape

__all__ = ["BUYER_NAMES", "DATA", "RECORDED", "SCHEMAS", "samples"]

DATA = Path(__file__).parents[1] / "data" / "ocds"
SCHEMAS = Path(str(resources.files("procure_contracts") / "ocds" / "standard"))
# The buyers the contracts service knows in these tests (an import is only for one of them).
BUYER_NAMES = "dfe=Department for Education;dhsc=Department of Health and Social Care"

# From tests/data/ocds/README.md, "Error counts, exactly": releases + compiled releases.
RECORDED = {
    "australia-nsw_release-package_0": (Shape.RELEASE_PACKAGE, 0),
    "colombia_release_ocds-k50g02-16-12-5280389": (Shape.RELEASE, 5),
    "fictional_release-package_full-lifecycle_ocds-213czf-000-00001": (Shape.RELEASE_PACKAGE, 0),
    "lots-extension-example_lots-lotgroups": (Shape.RELEASE_PACKAGE, 0),
    "mexico-cdmx_release_SEFIN-DRM-A-001-2016-01": (Shape.RELEASE, 0),
    "moldova_record_ocds-ngfbwp-16949496": (Shape.RECORD, 37),
    "nigeria_release_ocds-gyl66f-borbda-2wlmoa": (Shape.RELEASE, 1),
    "paraguay_record-package_274744": (Shape.RECORD_PACKAGE, 1),
    "paraguay_release_284462-contract-tecnoedil": (Shape.RELEASE, 0),
    "paraguay_release_284462-tender-4-lots": (Shape.RELEASE, 0),
    "standard-example_implementation-payment-milestones-transaction": (Shape.RELEASE_PACKAGE, 1),
    "uk-contracts-finder_record_ocds-b5fd17-2c3aae9c": (Shape.RECORD, 0),
    "uk-contracts-finder_release_ocds-b5fd17-2c330cf9": (Shape.RELEASE, 0),
    "ukraine-prozorro_record_UA-2016-08-31-000670-b": (Shape.RECORD, 1),
    "ukraine-prozorro_release_UA-2016-08-31-000670-b": (Shape.RELEASE, 1),
}


def samples() -> dict[str, Path]:
    """Each sample file by its name (without ``.json``), in name order."""
    return {path.stem: path for path in sorted((DATA / "samples").glob("*.json"))}
