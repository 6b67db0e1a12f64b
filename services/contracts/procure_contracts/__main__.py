"""Run the contracts service (`serve --role ...`) or apply its migrations (`migrate`)."""

from procure_contracts.app import definition
from procure_shared.service import main

raise SystemExit(main(definition()))
