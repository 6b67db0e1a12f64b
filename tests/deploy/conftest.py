"""What the deploy tests share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.bus import documented_credentials, run_credentials_step
from tests.deploy.files import DEPLOY, kustomize, tool
from tests.deploy.pki import nats_tls_secret

OVERLAYS = {
    "base": DEPLOY / "k8s" / "base",
    "production": DEPLOY / "k8s" / "overlays" / "production",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """deploy/compose.yaml as YAML reads it (merge keys resolved)."""
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Each kustomization, rendered."""
    return {name: kustomize(folder) for name, folder in OVERLAYS.items()}


@dataclass(frozen=True)
class Documented:
    """What docs/operations.md's commands made: the credentials' folder and the Secrets
    (with nats-tls, the certificate the production overlay needs, made here)."""

    credentials: Path
    secrets: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def documented(tmp_path_factory: pytest.TempPathFactory) -> Documented:
    credentials, secrets = documented_credentials(tmp_path_factory.mktemp("guide"))
    return Documented(credentials, {**secrets, "nats-tls": nats_tls_secret()})


@pytest.fixture(scope="module")
def compose_volumes(compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """compose's named volumes (one folder each) once its credentials step has run."""
    folder = tmp_path_factory.mktemp("compose")
    procure = Path(tool("procure")).parent
    done = run_credentials_step(compose, folder / "credentials", folder / "volumes", [procure])
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "volumes"
