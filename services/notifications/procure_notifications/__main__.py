"""Run the notifications service (`serve --role ...`) or apply its migrations (`migrate`)."""

import os
import sys

from procure_notifications.app import definition
from procure_notifications.settings import options_from_env
from procure_shared.service import main
from procure_shared.settings import SettingsError

try:
    options = options_from_env(os.environ)
except SettingsError as exc:
    sys.exit(f"python -m procure_notifications: {exc}")
raise SystemExit(main(definition(options)))
