"""Run the contracts service (`serve --role ...`) or apply its migrations (`migrate`)."""

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
raise SystemExit(main(service))
