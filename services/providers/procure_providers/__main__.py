"""Run the providers service (`serve --role ...`) or apply its migrations (`migrate`)."""

from procure_providers.app import definition
from procure_shared.service import main

raise SystemExit(main(definition()))
