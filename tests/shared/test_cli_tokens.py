"""The ``procure`` command never signs a token for a stranger: it sends the token it is given,
and signs a development token only for the loopback endpoints this checkout's running make up
wrote, with that stack's development secret (never PROCURE_JWT_SECRET, never the public
one)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from procure_tools import cli
from procure_tools.devstack.endpoints import Endpoints, write_endpoints
from procure_tools.devstack.processes import started_at

from procure_shared.settings import DEV_JWT_SECRET
from procure_shared.tokens import Role

SECRET = "this-checkouts-development-secret-0123456789abcdef"
CONTRACTS = "http://127.0.0.1:18101"


def checkout(folder: Path, *, running: bool) -> Path:
    """A checkout whose make up made its secret and, if ``running``, runs (as this process)."""
    (folder / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (folder / "services").mkdir()
    state = folder / ".procure"
    state.mkdir()
    (state / "jwt-secret").write_text(SECRET)
    if running:
        endpoints = Endpoints(
            pid=os.getpid(),
            started=started_at(os.getpid()) or 0,
            services={
                "contracts": CONTRACTS,
                "providers": "http://127.0.0.1:18102",
                "notifications": "http://127.0.0.1:18103",
            },
            nats="nats://127.0.0.1:14222",
            postgres="postgresql://127.0.0.1:15432/postgres",
        )
        write_endpoints(state, endpoints)
    return folder


def procure(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCURE_")}
    # The real secret in the environment, as inside the image: never used to sign.
    env["PROCURE_JWT_SECRET"] = DEV_JWT_SECRET
    return subprocess.run(
        [sys.executable, "-m", "procure_tools.cli", *args],
        cwd=folder,
        env=env | {"COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("running", [False, True], ids=["no make up", "make up running"])
def test_the_cli_refuses_to_sign_a_token_for_a_service_off_loopback(
    tmp_path: Path, running: bool
) -> None:
    folder = checkout(tmp_path, running=running)
    csv = folder / "providers.csv"
    csv.write_text("legal_name,kind,identifiers\nA Ltd,company,GB-COH:01234567\n")
    for args in (
        ["ocds", "export", "--out", str(folder / "out"), "--url", "http://example.org"],
        ["providers", "import", str(csv), "--url", "http://example.org:8102"],
        # loopback, but not the running make up's own endpoint
        ["ocds", "export", "--out", str(folder / "out"), "--url", "http://127.0.0.1:9"],
    ):
        done = procure(folder, *args)
        assert done.returncode == 2, done.stdout + done.stderr
        [line] = done.stderr.strip().splitlines()
        target = args[args.index("--url") + 1]
        assert line == (
            f"no token for {target}: give one with --token (or PROCURE_TOKEN); a development "
            "token is signed only for the services of this checkout's running make up"
        )
    assert not (folder / "out").exists()


def test_procure_token_signs_only_with_the_checkouts_development_secret(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = procure(elsewhere, "token", "--role", "admin")
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"no development secret in {elsewhere / '.procure'} (make up makes it)")

    (tmp_path / "checkout").mkdir()
    folder = checkout(tmp_path / "checkout", running=False)
    made = procure(folder, "token", "--role", "ops")
    assert made.returncode == 0, made.stderr
    claims = jwt.decode(made.stdout.strip(), SECRET, algorithms=["HS256"], audience="procure")
    assert (claims["roles"], claims["buyer"], claims["exp"] - claims["iat"]) == (
        ["ops"],
        "dfe",
        12 * 3600,
    )
    longer = procure(folder, "token", "--role", "ops", "--hours", "24")
    assert longer.returncode == 2, "no token the services would refuse"


def test_a_development_token_goes_only_to_the_running_make_ups_loopback_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(checkout(tmp_path, running=True))

    def for_(url: str) -> str | None:
        return cli._dev_token_for(
            url, sub="s", roles=[Role.ADMIN], buyer=None, ttl=timedelta(minutes=1)
        )

    made = for_(CONTRACTS + "/")
    assert made is not None
    assert jwt.decode(made, SECRET, algorithms=["HS256"], audience="procure")["sub"] == "s"
    assert for_("http://localhost:18101") is None, "not what it wrote"
    assert for_("http://127.0.0.1:18199") is None
    assert for_("http://example.org:18101") is None
    assert for_("https://127.0.0.1:18101") is None

    (tmp_path / ".procure" / "endpoints.json").unlink()  # make up stopped
    assert for_(CONTRACTS) is None
