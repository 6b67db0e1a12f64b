"""Run the notifications service (`serve --role ...`) or apply its migrations (`migrate`)."""

import os
import sys

from procure_notifications.app import definition
from procure_notifications.settings import options_from_env, secrets_refusal
from procure_shared.service import main
from procure_shared.settings import SettingsError, settings_from_env

try:
    options = options_from_env(os.environ)
    dev_mode = settings_from_env("notifications", os.environ).dev_mode
except SettingsError as exc:
    sys.exit(f"python -m procure_notifications: {exc}")
# Fail closed: signing secrets are sealed with a key of the service's own outside
# development mode (applying migrations touches no secret: it needs none).
command = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
refusal = None if command == "migrate" else secrets_refusal(options, dev_mode=dev_mode)
if refusal is not None:
    sys.exit(f"python -m procure_notifications: {refusal}")
raise SystemExit(main(definition(options)))
