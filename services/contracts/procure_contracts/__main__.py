"""Run the contracts service (`serve --role ...`) or apply its migrations (`migrate`)."""

import gc
import os
import sys

from procure_contracts.app import definition
from procure_contracts.settings import options_from_env
from procure_shared.service import main
from procure_shared.settings import SettingsError

try:
    service = definition(options_from_env(os.environ))
except SettingsError as exc:
    sys.exit(f"python -m procure_contracts: {exc}")
# An OCDS import request is hundreds of thousands of objects (the decoded releases, compiled
# releases and aggregates): with the default threshold (700) the collector runs every few
# hundred of them, each time over everything still young. Collect less often, and leave
# what start-up built (modules, the OCDS schemas and validators) out of every collection.
gc.freeze()
gc.set_threshold(20_000, 10, 10)
raise SystemExit(main(service))
