"""What the deploy tests share."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.files import DEPLOY


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """deploy/compose.yaml as YAML reads it (merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded
