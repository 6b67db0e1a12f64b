"""Run the notifications service (`serve --role ...`) or apply its migrations (`migrate`)."""

from procure_notifications.app import definition
from procure_shared.service import main

raise SystemExit(main(definition()))
